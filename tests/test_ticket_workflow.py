"""The ticket workflow (issue #3, regulation §3 and §4) through its use cases and over HTTP.

1. A state × action matrix: every assignment state reachable through the use cases, every
   assignment-level mutation (and the ticket-level redo), tried by an actor who is permitted;
   each succeeds exactly when the state allows it, and a refusal changes nothing.
2. The return window and the one-return cap (§3(4)).
3. Extensions (§3(4)).
4. Replies: the elements of §4(2), hollow phrases of §4(5), the final reply of §4(4).
5. Authorization: other units and other centres see nothing; a handler may not approve.
6. Concurrency: two real sessions race; exactly one wins.
7. Idempotency keys over HTTP.
8. Complainant data masked by role, each clear read logged, never in events or errors.
9. The statement count of the ticket list is constant (dataloaders, no N+1).

Domain calls pass explicit ``now=`` times in November 2026 (Asia/Shanghai): the holiday library
has no 2027 data. Monday 2026-11-16 09:00 is the usual dispatch time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    RUN_ID,
    GraphQLClient,
    LiveServer,
    StatementCounter,
    _admin_execute,
    _with_database,
    make_settings,
)
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.relay import to_global_id
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal, load_principal
from domain.calendar import TZ
from domain.db import make_engine, make_sessionmaker
from domain.errors import DomainError, InvalidInput, NotFound, NotPermitted
from domain.registry import service as registry
from domain.registry.models import Unit
from domain.tickets import queries as tq
from domain.tickets import service as ts
from domain.tickets import workflow as wf
from domain.tickets.models import (
    Assignment,
    AssignmentStatus,
    Channel,
    OriginLevel,
    TicketStatus,
)
from domain.tickets.reply_rules import Outcome, Satisfaction
from domain.tickets.workflow import (
    Action,
    DeadlinePassed,
    InvalidTransition,
    ReplyHollow,
    ReplyIncomplete,
)
from domain.uow import UnitOfWork

S = AssignmentStatus
A = Action

CITY = "3213"
CGJ = "市城管局"  # a city member unit: cgj.handler, cgj.leader (and MAIN_LEADER, made here)
ZJJ = "市住房城乡建设局"  # another city member unit
SHUYANG_UNIT = "沭阳县"  # the county as a unit: a member of the city centre
SHUYANG_CGJ = "沭阳县城管局"  # a department of the county centre 321322
UNIT_NAMES = (CGJ, ZJJ, SHUYANG_UNIT, SHUYANG_CGJ)

USERS = (
    "admin",
    "city.dispatcher",
    "city.reviewer",
    "city.supervisor",
    "city.leader",
    "cgj.handler",
    "cgj.leader",
    "shuyang.dispatcher",
    "shuyang.cgj.handler",
    "siyang.cgj.handler",
)

# Accounts this file creates (not demo accounts).
MAIN_LEADER = "test.cgj.main"
ZJJ_HANDLER = "test.zjj.handler"

NAME, PHONE = "李四", "13812341234"
MASKED_NAME, MASKED_PHONE = "李*", "138****1234"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in November 2026, Asia/Shanghai."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=TZ)


T0 = at(16, 9)  # Monday: dispatch
# HOTLINE_12345 / NORMAL: sign-for 1 working day, return window 1 working day, handling 5.
RETURN_BY = at(17, 9)  # Tuesday 09:00
DUE = at(23, 9)  # the next Monday 09:00

STEP = {
    "sign": T0 + timedelta(minutes=10),
    "extend": T0 + timedelta(minutes=15),
    "return": T0 + timedelta(minutes=20),
    "decide_return": T0 + timedelta(minutes=25),
    "draft": T0 + timedelta(minutes=30),
    "approve": T0 + timedelta(minutes=40),
    "submit": T0 + timedelta(minutes=50),
    "review": T0 + timedelta(minutes=60),
    "callback": T0 + timedelta(minutes=70),
    "archive": T0 + timedelta(minutes=80),
}
# When the matrix acts: inside the return window and long before the due time.
ACT_AT = T0 + timedelta(hours=2)
PROPOSED_DUE = at(26, 9)  # later than DUE

RETURN_INPUT = ts.ReturnInput(
    reason="该路段路灯由市住建局代建，尚未移交城管部门管理",
    basis="《宿迁市城市照明管理办法》第八条",
    suggested_unit="市住房城乡建设局",
    verifier_name="张核实",
    verifier_phone="13900002222",
)

GOOD_REPLY = ts.ReplyInput(
    handler_name="王城管",
    handler_phone="13900001111",
    contacted_at=at(16, 10),
    communication="电话联系市民，约定现场查看路灯故障情况。",
    citizen_satisfied=True,
    handling="11月16日现场更换损坏灯具，路灯恢复照明。",
    text="经现场核实，幸福路路灯损坏，已于11月16日更换灯具并恢复照明，市民表示满意。",
    outcome=Outcome.RESOLVED,
)

FINAL_REPLY = ts.ReplyInput(
    handler_name="王城管",
    handler_phone="13900001111",
    contacted_at=at(16, 10),
    communication="当面向诉求人说明路灯设置标准和照度要求，并出示相关文件。",
    citizen_satisfied=False,
    unsatisfied_reasons="诉求人要求在其门前新增专用路灯，不符合城市照明规划。",
    documents=("宿迁市城市照明专项规划（2021—2035）",),
    handling="经现场测量，门前道路照度符合标准，不新增路灯。",
    text="经核查，该路段照度符合城市照明标准，新增路灯的诉求不符合规划，此为最终答复。",
    outcome=Outcome.FINAL_REPLY,
)


# ---- the world: people, units and use-case shortcuts -----------------------------------------
@dataclass
class Case:
    ticket: int
    lead: int
    co: list[int] = field(default_factory=list)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    uow: UnitOfWork
    people: dict[str, Principal]
    units: dict[str, int]

    def p(self, username: str) -> Principal:
        return self.people[username]

    def new_uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer)


async def _units(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        rows = (await s.execute(select(Unit.name, Unit.id).where(Unit.name.in_(UNIT_NAMES)))).all()
    units: dict[str, int] = {}
    for name, uid in rows:
        assert name not in units, f"two units named {name}"
        units[name] = uid
    assert set(units) == set(UNIT_NAMES), units
    return units


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession],
    enforcer: PolicyEnforcer,
    uow: UnitOfWork,
    principal: Any,
) -> World:
    people = {u: await principal(u) for u in USERS}
    return World(sessions, enforcer, uow, people, await _units(sessions))


@pytest.fixture(scope="module")
async def shared(server_url: str, template_url: str) -> AsyncIterator[World]:
    """One database for the whole matrix (a clone per cell would cost more than the cell):
    each cell builds its own ticket in it, and compares only what it touched."""
    name = f"yiwang_t_{RUN_ID}_matrix"
    tpl = make_url(template_url).database
    await _admin_execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    engine = make_engine(_with_database(server_url, name), pool_size=5, max_overflow=5)
    try:
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        sessions = make_sessionmaker(engine)
        people: dict[str, Principal] = {}
        async with sessions() as s:
            for username in USERS:
                p = await load_principal(s, enforcer, username)
                assert p is not None, username
                people[username] = p
        uow = UnitOfWork(sessions, enforcer)
        yield World(sessions, enforcer, uow, people, await _units(sessions))
    finally:
        await engine.dispose()
        await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def add_staff(w: World, principal: Any, username: str, unit: str, role: str) -> Principal:
    """A new staff member of ``unit`` with ``role``, created by the city's admin."""
    await registry.create_staff(
        uow=w.uow,
        actor=w.p("admin"),
        username=username,
        display_name=username,
        password="yiwang-demo",
        unit_id=w.units[unit],
        roles=[role],
    )
    p: Principal = await principal(username)
    w.people[username] = p
    return p


async def add_main_leader(w: World, principal: Any) -> Principal:
    """市城管局's main leader (主要领导): no demo account has the role."""
    return await add_staff(w, principal, MAIN_LEADER, CGJ, "unit_main_leader")


async def new_ticket(
    w: World,
    *,
    anonymous: bool = False,
    now: datetime = T0,
    by: str = "city.dispatcher",
    title: str = "幸福路路灯不亮",
) -> int:
    t = await ts.create_ticket(
        uow=w.uow,
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code="CM.STREET_LIGHTS",
            title=title,
            content="幸福路与洪泽湖路交叉口路灯连续三晚不亮。",
            complainant_name=NAME,
            complainant_phone=PHONE,
            anonymous=anonymous,
        ),
        now=now,
    )
    return t.id


async def assignment_ids(w: World, ticket_id: int) -> list[int]:
    async with w.sessions() as s:
        rows = await s.execute(
            select(Assignment.id).where(Assignment.ticket_id == ticket_id).order_by(Assignment.id)
        )
        return list(rows.scalars())


async def dispatched(
    w: World,
    *,
    lead: str = CGJ,
    co: tuple[str, ...] = (),
    anonymous: bool = False,
    now: datetime = T0,
    title: str = "幸福路路灯不亮",
) -> Case:
    tid = await new_ticket(w, anonymous=anonymous, now=now, title=title)
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=tid,
        lead_unit_id=w.units[lead],
        co_unit_ids=[w.units[u] for u in co],
        now=now,
    )
    ids = await assignment_ids(w, tid)
    return Case(ticket=tid, lead=ids[0], co=ids[1:])


async def get_assignment(w: World, aid: int) -> Assignment:
    async with w.sessions() as s:
        a = await s.get(Assignment, aid)
        assert a is not None
        return a


async def status_of(w: World, aid: int) -> S:
    return (await get_assignment(w, aid)).status


async def ticket_row(w: World, tid: int) -> dict[str, Any]:
    async with w.sessions() as s:
        return dict(
            (await s.execute(text("SELECT * FROM ticket WHERE id = :t"), {"t": tid})).one()._mapping
        )


# Shortcuts: each use case by the actor who may do it.
async def sign(w: World, aid: int, now: datetime = STEP["sign"], by: str = "cgj.handler") -> None:
    await ts.sign_for(uow=w.uow, actor=w.p(by), assignment_id=aid, now=now)


async def request_return(
    w: World, aid: int, now: datetime = STEP["return"], data: ts.ReturnInput = RETURN_INPUT
) -> None:
    await ts.request_return(
        uow=w.uow, actor=w.p("cgj.handler"), assignment_id=aid, data=data, now=now
    )


async def decide_return(
    w: World, aid: int, approve: bool, now: datetime = STEP["decide_return"]
) -> None:
    await ts.decide_return(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        assignment_id=aid,
        approve=approve,
        note=None if approve else "经核实属市城管局职责，退回理由不成立",
        now=now,
    )


async def request_extension(
    w: World, aid: int, proposed: datetime = PROPOSED_DUE, now: datetime = STEP["extend"]
) -> None:
    await ts.request_extension(
        uow=w.uow,
        actor=w.p("cgj.handler"),
        assignment_id=aid,
        reason="需协调供电部门更换线路",
        proposed_due=proposed,
        now=now,
    )


async def decide_extension(
    w: World,
    aid: int,
    approve: bool,
    new_due: datetime | None = None,
    now: datetime = ACT_AT,
) -> None:
    await ts.decide_extension(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        assignment_id=aid,
        approve=approve,
        new_due=new_due,
        now=now,
    )


async def draft(
    w: World, aid: int, data: ts.ReplyInput = GOOD_REPLY, now: datetime = STEP["draft"]
) -> None:
    await ts.draft_reply(uow=w.uow, actor=w.p("cgj.handler"), assignment_id=aid, data=data, now=now)


async def approve(
    w: World, aid: int, by: str = "cgj.leader", now: datetime = STEP["approve"]
) -> None:
    await ts.approve_reply(uow=w.uow, actor=w.p(by), assignment_id=aid, now=now)


async def submit(w: World, aid: int, now: datetime = STEP["submit"]) -> None:
    await ts.submit_reply(uow=w.uow, actor=w.p("cgj.leader"), assignment_id=aid, now=now)


async def review(
    w: World,
    aid: int,
    accept: bool = True,
    now: datetime = STEP["review"],
    uow: UnitOfWork | None = None,
) -> None:
    await ts.review_reply(
        uow=uow or w.uow,
        actor=w.p("city.dispatcher"),
        assignment_id=aid,
        accept=accept,
        reasons=None if accept else "请补充现场照片",
        now=now,
    )


async def callback(w: World, tid: int, satisfaction: Satisfaction) -> None:
    await ts.record_callback(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=tid,
        satisfaction=satisfaction,
        actually_resolved=satisfaction != Satisfaction.UNSATISFIED,
        now=STEP["callback"],
    )


# ---- snapshots: "nothing changed" ----------------------------------------------------------
COUNTED = (
    "ticket",
    "assignment",
    "event",
    "reply",
    "return_request",
    "extension_request",
    "callback",
    "idempotency_key",
)


async def snapshot(w: World, tid: int) -> dict[str, Any]:
    """The ticket's rows, its assignments and their requests and replies, and table counts."""
    of_ticket = "SELECT id FROM assignment WHERE ticket_id = :t"
    queries = {
        "ticket": "SELECT * FROM ticket WHERE id = :t",
        "assignments": "SELECT * FROM assignment WHERE ticket_id = :t ORDER BY id",
        "replies": f"SELECT * FROM reply WHERE assignment_id IN ({of_ticket}) ORDER BY id",
        "returns": f"SELECT * FROM return_request WHERE assignment_id IN ({of_ticket}) ORDER BY id",
        "extensions": (
            f"SELECT * FROM extension_request WHERE assignment_id IN ({of_ticket}) ORDER BY id"
        ),
        "callbacks": "SELECT * FROM callback WHERE ticket_id = :t ORDER BY id",
    }
    out: dict[str, Any] = {}
    async with w.sessions() as s:
        for key, sql in queries.items():
            out[key] = [dict(r._mapping) for r in await s.execute(text(sql), {"t": tid})]
        for table in COUNTED:
            out[f"count:{table}"] = (
                await s.execute(text(f"SELECT count(*) FROM {table}"))
            ).scalar_one()
    return out


async def refused(
    w: World, tid: int, error: type[DomainError], call: Awaitable[Any]
) -> DomainError:
    """``call`` raises exactly ``error`` and changes nothing."""
    before = await snapshot(w, tid)
    with pytest.raises(DomainError) as info:
        await call
    assert type(info.value) is error, (type(info.value), info.value.message)
    assert await snapshot(w, tid) == before
    return info.value


async def new_events(w: World, since: int) -> list[str]:
    async with w.sessions() as s:
        rows = await s.execute(
            text("SELECT type FROM event WHERE id > :since ORDER BY id"), {"since": since}
        )
        return list(rows.scalars())


async def last_event_id(w: World) -> int:
    async with w.sessions() as s:
        return int((await s.execute(text("SELECT coalesce(max(id), 0) FROM event"))).scalar_one())


# ---- 1. the state × action matrix -----------------------------------------------------------
# The table of the workflow, written out here from §3 so a change of workflow.ALLOWED_FROM is
# noticed: sign-for from dispatch (§3(3)); return while dispatched or after signing, within the
# window (§3(4)); extensions while handling (§3(4)); a reply drafted by the handler, approved by
# the leader, submitted (§3(6)) and reviewed by the centre (§3(7)); redo after acceptance (§3(9)).
EXPECTED_ALLOWED: dict[Action, frozenset[S]] = {
    A.SIGN_FOR: frozenset({S.DISPATCHED}),
    A.REQUEST_RETURN: frozenset({S.DISPATCHED, S.HANDLING}),
    A.DECIDE_RETURN: frozenset({S.RETURN_REQUESTED}),
    A.REQUEST_EXTENSION: frozenset({S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED}),
    A.DECIDE_EXTENSION: frozenset(
        {S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED, S.REPLY_SUBMITTED}
    ),
    A.DRAFT_REPLY: frozenset({S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED}),
    A.APPROVE_REPLY: frozenset({S.REPLY_DRAFTED}),
    A.SUBMIT_REPLY: frozenset({S.REPLY_APPROVED}),
    A.REVIEW_REPLY: frozenset({S.REPLY_SUBMITTED}),
    A.REDO: frozenset({S.ACCEPTED}),
}

# Every assignment state, plus a closed assignment of an archived (read-only) ticket.
ARCHIVED = "ARCHIVED"
MATRIX_STATES = [s.value for s in S] + [ARCHIVED]

# What the assignment becomes when the action succeeds (None: its status stays).
AFTER: dict[Action, S | None] = {
    A.SIGN_FOR: S.HANDLING,
    A.REQUEST_RETURN: S.RETURN_REQUESTED,
    A.DECIDE_RETURN: S.DISPATCHED,  # the matrix rejects the return: dispatched again
    A.REQUEST_EXTENSION: None,
    A.DECIDE_EXTENSION: None,
    A.DRAFT_REPLY: S.REPLY_DRAFTED,
    A.APPROVE_REPLY: S.REPLY_APPROVED,
    A.SUBMIT_REPLY: S.REPLY_SUBMITTED,
    A.REVIEW_REPLY: S.ACCEPTED,
    A.REDO: S.HANDLING,
}

EVENT_OF: dict[Action, str] = {
    A.SIGN_FOR: "assignment.signed",
    A.REQUEST_RETURN: "assignment.return_requested",
    A.DECIDE_RETURN: "assignment.return_rejected",
    A.REQUEST_EXTENSION: "assignment.extension_requested",
    A.DECIDE_EXTENSION: "assignment.extension_approved",
    A.DRAFT_REPLY: "reply.drafted",
    A.APPROVE_REPLY: "reply.approved",
    A.SUBMIT_REPLY: "reply.submitted",
    A.REVIEW_REPLY: "reply.accepted",
    A.REDO: "assignment.redo",
}


async def build(
    w: World, state: str, *, pending_extension: bool = False, unsatisfied: bool = False
) -> Case:
    """A ticket whose lead assignment is in ``state``, reached through the use cases only.

    ``pending_extension``: an extension request, asked for right after sign-for, is still
    waiting (so decideExtension has something to decide in every state). ``unsatisfied``: an
    accepted ticket's callback found the citizen unsatisfied (so a redo may follow).
    """
    c = await dispatched(w)
    a = c.lead
    if not pending_extension and state in (S.DISPATCHED, S.RETURN_REQUESTED, S.RETURNED):
        if state != S.DISPATCHED:
            await request_return(w, a)
        if state == S.RETURNED:
            await decide_return(w, a, approve=True)
        return c
    await sign(w, a)
    if pending_extension:
        await request_extension(w, a)
    if state in (S.DISPATCHED, S.RETURN_REQUESTED, S.RETURNED):
        # Return from HANDLING; DISPATCHED again after a rejected return.
        await request_return(w, a)
        if state != S.RETURN_REQUESTED:
            await decide_return(w, a, approve=state == S.RETURNED)
        return c
    if state == S.HANDLING:
        return c
    await draft(w, a)
    if state == S.REPLY_DRAFTED:
        return c
    await approve(w, a)
    if state == S.REPLY_APPROVED:
        return c
    await submit(w, a)
    if state == S.REPLY_SUBMITTED:
        return c
    await review(w, a)
    if state == S.ACCEPTED:
        if unsatisfied:
            await callback(w, c.ticket, Satisfaction.UNSATISFIED)
        return c
    await callback(w, c.ticket, Satisfaction.SATISFIED)
    if state == S.CLOSED:
        return c
    assert state == ARCHIVED
    await ts.archive_ticket(
        uow=w.uow, actor=w.p("city.dispatcher"), ticket_id=c.ticket, now=STEP["archive"]
    )
    return c


async def attempt(w: World, action: Action, c: Case, now: datetime = ACT_AT) -> None:
    """``action`` on the lead assignment by an actor whose role permits it, with valid input."""
    a = c.lead
    if action == A.SIGN_FOR:
        await sign(w, a, now=now)
    elif action == A.REQUEST_RETURN:
        await request_return(w, a, now=now)
    elif action == A.DECIDE_RETURN:
        await decide_return(w, a, approve=False, now=now)
    elif action == A.REQUEST_EXTENSION:
        await request_extension(w, a, now=now)
    elif action == A.DECIDE_EXTENSION:
        await decide_extension(w, a, approve=True, now=now)
    elif action == A.DRAFT_REPLY:
        await draft(w, a, now=now)
    elif action == A.APPROVE_REPLY:
        await approve(w, a, now=now)
    elif action == A.SUBMIT_REPLY:
        await submit(w, a, now=now)
    elif action == A.REVIEW_REPLY:
        await review(w, a, now=now)
    elif action == A.REDO:
        await ts.redo_ticket(
            uow=w.uow,
            actor=w.p("city.dispatcher"),
            ticket_id=c.ticket,
            reason="市民反映路灯仍间歇熄灭",
            now=now,
        )
    else:  # pragma: no cover
        raise AssertionError(action)


def test_allowed_from_is_the_regulation_table() -> None:
    assert wf.ALLOWED_FROM == EXPECTED_ALLOWED
    assert set(MATRIX_STATES) == {s.value for s in S} | {ARCHIVED}


@pytest.mark.parametrize("action", list(A), ids=lambda a: a.value)
@pytest.mark.parametrize("state", MATRIX_STATES)
async def test_state_action_matrix(shared: World, state: str, action: Action) -> None:
    w = shared
    c = await build(
        w,
        state,
        pending_extension=action == A.DECIDE_EXTENSION,
        unsatisfied=action == A.REDO,
    )
    status = S.CLOSED if state == ARCHIVED else S(state)
    assert await status_of(w, c.lead) == status
    if state == ARCHIVED:
        assert (await ticket_row(w, c.ticket))["status"] == TicketStatus.ARCHIVED
    if action == A.DECIDE_EXTENSION:  # the extra rule is met: a request is waiting
        pending = [e for e in (await snapshot(w, c.ticket))["extensions"] if e["decision"] is None]
        assert len(pending) == 1
    allowed = state != ARCHIVED and status in EXPECTED_ALLOWED[action]

    if not allowed:
        err = await refused(w, c.ticket, InvalidTransition, attempt(w, action, c))
        assert err.code == "INVALID_TRANSITION"
        return

    before = await snapshot(w, c.ticket)
    since = await last_event_id(w)
    await attempt(w, action, c)
    after_row = await get_assignment(w, c.lead)
    assert after_row.status == (AFTER[action] or status)
    if after_row.status != status or action == A.DECIDE_EXTENSION:
        assert after_row.version > before["assignments"][0]["version"]
    assert EVENT_OF[action] in await new_events(w, since)
    if action == A.REQUEST_EXTENSION:
        assert len((await snapshot(w, c.ticket))["extensions"]) == len(before["extensions"]) + 1
    if action == A.DECIDE_EXTENSION:
        assert after_row.extension_count == 1
        assert after_row.due_at == PROPOSED_DUE


async def test_decide_extension_without_a_request_is_refused(w: World) -> None:
    c = await build(w, S.HANDLING)
    err = await refused(w, c.ticket, InvalidTransition, decide_extension(w, c.lead, True))
    assert "no extension request" in err.message


async def test_redo_needs_an_unsatisfied_callback(w: World) -> None:
    c = await build(w, S.ACCEPTED)  # replied, no callback yet
    await refused(
        w,
        c.ticket,
        InvalidTransition,
        ts.redo_ticket(
            uow=w.uow, actor=w.p("city.dispatcher"), ticket_id=c.ticket, reason="x", now=ACT_AT
        ),
    )
    # The redo is counted, on the ticket and the lead assignment, with a new limit (§3(9)).
    await callback(w, c.ticket, Satisfaction.UNSATISFIED)
    await ts.redo_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=c.ticket,
        reason="市民反映路灯仍间歇熄灭",
        now=ACT_AT,
    )
    a = await get_assignment(w, c.lead)
    t = await ticket_row(w, c.ticket)
    assert (a.status, a.redo_count, t["redo_count"], t["status"]) == (
        S.HANDLING,
        1,
        1,
        TicketStatus.IN_PROGRESS,
    )
    assert a.due_at == t["due_at"] == at(23, 11)  # 5 working days after Monday 11:00


# ---- 2. the return window and the one-return cap (§3(4)) ------------------------------------
FRIDAY_EVENING = at(20, 18)


@pytest.mark.parametrize(
    "when",
    [at(21, 10), at(22, 23, 59), at(23, 9), at(23, 17, 59), at(23, 18)],
    ids=["saturday", "sunday-night", "monday-morning", "monday-17:59", "monday-18:00"],
)
async def test_return_within_one_working_day_of_a_friday_evening_dispatch(
    w: World, when: datetime
) -> None:
    c = await dispatched(w, now=FRIDAY_EVENING)
    a = await get_assignment(w, c.lead)
    assert a.return_by == at(23, 18)  # Monday, the same clock time
    await request_return(w, c.lead, now=when)
    assert await status_of(w, c.lead) == S.RETURN_REQUESTED


@pytest.mark.parametrize("signed", [False, True], ids=["dispatched", "handling"])
async def test_return_after_the_window_is_refused(w: World, signed: bool) -> None:
    c = await dispatched(w, now=FRIDAY_EVENING)
    if signed:
        await sign(w, c.lead, now=at(23, 9))
    for when in (at(23, 18, 0, 1), at(24, 9)):
        err = await refused(w, c.ticket, DeadlinePassed, request_return(w, c.lead, now=when))
        assert err.code == "DEADLINE_PASSED"


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"basis": ""}, "basis"),
        ({"suggested_unit": ""}, "suggestedUnit"),
        ({"verifier_name": ""}, "verifierName"),
        ({"verifier_phone": ""}, "verifierPhone"),
        ({"verifier_phone": "找张科长"}, "verifierPhone"),
    ],
)
async def test_return_needs_reason_basis_suggestion_and_verifier(
    w: World, change: dict[str, str], field_name: str
) -> None:
    c = await dispatched(w)
    data = dataclasses.replace(RETURN_INPUT, **change)
    err = await refused(w, c.ticket, InvalidInput, request_return(w, c.lead, now=ACT_AT, data=data))
    assert err.field == field_name


async def test_rejected_return_is_dispatched_again_and_cannot_be_returned_again(w: World) -> None:
    c = await dispatched(w)
    await request_return(w, c.lead)
    # Rejecting needs a reason.
    await refused(
        w,
        c.ticket,
        InvalidInput,
        ts.decide_return(
            uow=w.uow,
            actor=w.p("city.dispatcher"),
            assignment_id=c.lead,
            approve=False,
            now=STEP["decide_return"],
        ),
    )
    await decide_return(w, c.lead, approve=False)
    a = await get_assignment(w, c.lead)
    assert (a.status, a.return_locked, a.return_count) == (S.DISPATCHED, True, 1)
    assert a.dispatched_at == STEP["decide_return"]
    # Still inside the original window, yet a second return is refused ...
    err = await refused(w, c.ticket, InvalidTransition, request_return(w, c.lead, now=ACT_AT))
    assert "§3(4)" in err.message
    # ... and after signing for it too.
    await sign(w, c.lead, now=ACT_AT)
    await refused(w, c.ticket, InvalidTransition, request_return(w, c.lead, now=ACT_AT))


async def test_approved_return_of_the_lead_puts_the_ticket_back_to_dispatch(w: World) -> None:
    c = await dispatched(w)
    await request_return(w, c.lead)
    await decide_return(w, c.lead, approve=True)
    assert await status_of(w, c.lead) == S.RETURNED
    assert (await ticket_row(w, c.ticket))["status"] == TicketStatus.NEW
    async with w.sessions() as s:
        page = await tq.centre_queue(s, frozenset({CITY}), tq.QueueKind.UNDISPATCHED, 50, None)
    assert c.ticket in [t.id for t, _ in page.items]
    # Dispatched elsewhere: 市住房城乡建设局 leads now.
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=c.ticket,
        lead_unit_id=w.units[ZJJ],
        now=ACT_AT,
    )
    ids = await assignment_ids(w, c.ticket)
    assert len(ids) == 2
    new = await get_assignment(w, ids[1])
    assert (new.unit_id, new.status, new.role.value) == (w.units[ZJJ], S.DISPATCHED, "LEAD")
    assert await status_of(w, c.lead) == S.RETURNED
    t = await ticket_row(w, c.ticket)
    assert (t["status"], t["due_at"]) == (TicketStatus.IN_PROGRESS, new.due_at)
    async with w.sessions() as s:
        page = await tq.centre_queue(s, frozenset({CITY}), tq.QueueKind.UNDISPATCHED, 50, None)
    assert c.ticket not in [t.id for t, _ in page.items]


async def test_approved_return_of_a_co_unit_leaves_the_ticket_in_progress(
    w: World, principal: Any
) -> None:
    c = await dispatched(w, co=(ZJJ,))
    p = await add_staff(w, principal, ZJJ_HANDLER, ZJJ, "unit_handler")
    await ts.request_return(
        uow=w.uow, actor=p, assignment_id=c.co[0], data=RETURN_INPUT, now=STEP["return"]
    )
    await decide_return(w, c.co[0], approve=True)
    assert await status_of(w, c.co[0]) == S.RETURNED
    assert (await ticket_row(w, c.ticket))["status"] == TicketStatus.IN_PROGRESS


async def test_rejected_return_of_the_lead_keeps_the_ticket_due_in_step(w: World) -> None:
    c = await dispatched(w)
    await request_return(w, c.lead)
    await decide_return(w, c.lead, approve=False, now=at(17, 8))  # Tuesday 08:00
    a = await get_assignment(w, c.lead)
    assert a.due_at == at(24, 8)  # a fresh handling limit from the second dispatch
    assert (await ticket_row(w, c.ticket))["due_at"] == a.due_at


# ---- 3. extensions (§3(4)) ------------------------------------------------------------------
async def test_extension_before_the_due_time_only(w: World) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    assert (await get_assignment(w, c.lead)).due_at == DUE
    for when in (DUE, DUE + timedelta(seconds=1), at(24, 9)):
        err = await refused(
            w, c.ticket, DeadlinePassed, request_extension(w, c.lead, proposed=at(30, 9), now=when)
        )
        assert err.code == "DEADLINE_PASSED"
    await request_extension(w, c.lead, now=DUE - timedelta(seconds=1))


@pytest.mark.parametrize("proposed", [DUE, DUE - timedelta(days=1)], ids=["equal", "earlier"])
async def test_extension_must_propose_a_later_due(w: World, proposed: datetime) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    err = await refused(
        w, c.ticket, InvalidInput, request_extension(w, c.lead, proposed=proposed, now=ACT_AT)
    )
    assert err.field == "proposedDue"


async def test_second_pending_extension_is_refused(w: World) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    await request_extension(w, c.lead)
    await refused(
        w, c.ticket, InvalidTransition, request_extension(w, c.lead, proposed=at(30, 9), now=ACT_AT)
    )


async def test_approved_extension_moves_the_due_time(w: World) -> None:
    c = await dispatched(w, co=(ZJJ,))
    await sign(w, c.lead)
    await request_extension(w, c.lead)
    # A new due time that is not later is refused, and the request stays pending.
    await refused(
        w,
        c.ticket,
        InvalidInput,
        decide_extension(w, c.lead, True, new_due=DUE - timedelta(hours=1)),
    )
    await decide_extension(w, c.lead, approve=True)
    a = await get_assignment(w, c.lead)
    assert (a.due_at, a.extension_count) == (PROPOSED_DUE, 1)
    assert (await ticket_row(w, c.ticket))[
        "due_at"
    ] == PROPOSED_DUE  # the lead's due is the ticket's
    # At the old due time a further extension may be asked for (the due time moved) ...
    await request_extension(w, c.lead, proposed=at(30, 9), now=DUE)
    # ... and the centre may grant another date than the one proposed.
    await decide_extension(w, c.lead, approve=True, new_due=at(27, 18), now=DUE)
    a = await get_assignment(w, c.lead)
    assert (a.due_at, a.extension_count) == (at(27, 18), 2)
    async with w.sessions() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT decision, new_due FROM extension_request "
                    "WHERE assignment_id = :a ORDER BY id"
                ),
                {"a": c.lead},
            )
        ).all()
    assert [tuple(r) for r in rows] == [("APPROVED", PROPOSED_DUE), ("APPROVED", at(27, 18))]


async def test_approved_extension_of_a_co_unit_leaves_the_ticket_due(
    w: World, principal: Any
) -> None:
    c = await dispatched(w, co=(ZJJ,))
    # The co-unit signs through its own handler; the centre decides.
    zjj = await add_staff(w, principal, ZJJ_HANDLER, ZJJ, "unit_handler")
    await ts.sign_for(uow=w.uow, actor=zjj, assignment_id=c.co[0], now=STEP["sign"])
    await ts.request_extension(
        uow=w.uow,
        actor=zjj,
        assignment_id=c.co[0],
        reason="需等待检测报告",
        proposed_due=PROPOSED_DUE,
        now=STEP["extend"],
    )
    await decide_extension(w, c.co[0], approve=True)
    assert (await get_assignment(w, c.co[0])).due_at == PROPOSED_DUE
    assert (await get_assignment(w, c.lead)).due_at == DUE
    assert (await ticket_row(w, c.ticket))["due_at"] == DUE


async def test_rejected_extension_leaves_the_due_time(w: World) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    await request_extension(w, c.lead)
    await decide_extension(w, c.lead, approve=False)
    a = await get_assignment(w, c.lead)
    assert (a.due_at, a.extension_count, a.status) == (DUE, 0, S.HANDLING)
    assert (await ticket_row(w, c.ticket))["due_at"] == DUE
    # Nothing pending any more: a new request may be made.
    await request_extension(w, c.lead, now=ACT_AT)


# ---- 4. replies (§4(2), §4(4), §4(5)) -------------------------------------------------------
NAMED_INCOMPLETE = [
    ("no-contact-time", {"contacted_at": None}, ["contactedAt"]),
    ("no-communication", {"communication": "  "}, ["communication"]),
    ("no-satisfaction", {"citizen_satisfied": None}, ["citizenSatisfied"]),
    (
        "unsatisfied-bare",
        {"citizen_satisfied": False},
        ["unsatisfiedReasons", "documents"],
    ),
    (
        "unsatisfied-no-documents",
        {"citizen_satisfied": False, "unsatisfied_reasons": "市民要求更换全部灯杆"},
        ["documents"],
    ),
    (
        "unsatisfied-no-reasons",
        {"citizen_satisfied": False, "documents": ("照明设施维护规范",)},
        ["unsatisfiedReasons"],
    ),
    (
        "everything-missing",
        {"contacted_at": None, "communication": "", "citizen_satisfied": None},
        ["contactedAt", "communication", "citizenSatisfied"],
    ),
]

ANONYMOUS_INCOMPLETE = [
    ("no-handler-phone", {"handler_phone": None}, ["handlerPhone"]),
    ("no-handling", {"handling": ""}, ["handling"]),
    ("neither", {"handler_phone": " ", "handling": " "}, ["handlerPhone", "handling"]),
]


@pytest.mark.parametrize(
    ("anonymous", "change", "missing"),
    [(False, ch, m) for _, ch, m in NAMED_INCOMPLETE]
    + [(True, ch, m) for _, ch, m in ANONYMOUS_INCOMPLETE],
    ids=[f"named-{n}" for n, _, _ in NAMED_INCOMPLETE]
    + [f"anonymous-{n}" for n, _, _ in ANONYMOUS_INCOMPLETE],
)
async def test_incomplete_reply_cannot_be_approved(
    w: World, anonymous: bool, change: dict[str, Any], missing: list[str]
) -> None:
    c = await dispatched(w, anonymous=anonymous)
    await sign(w, c.lead)
    await draft(w, c.lead, dataclasses.replace(GOOD_REPLY, **change))  # a draft may be incomplete
    err = await refused(w, c.ticket, ReplyIncomplete, approve(w, c.lead))
    assert isinstance(err, ReplyIncomplete)
    assert err.missing == missing
    assert err.code == "REPLY_INCOMPLETE"


@pytest.mark.parametrize(
    ("anonymous", "change"),
    [
        (False, {"handler_phone": None, "handling": ""}),  # not required when named
        (
            False,
            {
                "citizen_satisfied": False,
                "unsatisfied_reasons": "要求更换灯杆",
                "documents": ("照明设施维护规范",),
            },
        ),
        # Anonymous: handler name, contact and handling suffice (§4(2)).
        (True, {"contacted_at": None, "communication": "", "citizen_satisfied": None}),
    ],
    ids=["named-without-phone-and-handling", "named-unsatisfied-with-basis", "anonymous-minimal"],
)
async def test_complete_reply_is_approved(
    w: World, anonymous: bool, change: dict[str, Any]
) -> None:
    c = await dispatched(w, anonymous=anonymous)
    await sign(w, c.lead)
    await draft(w, c.lead, dataclasses.replace(GOOD_REPLY, **change))
    await approve(w, c.lead)
    assert await status_of(w, c.lead) == S.REPLY_APPROVED


async def test_handler_name_is_required_at_draft(w: World) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    err = await refused(
        w,
        c.ticket,
        InvalidInput,
        draft(w, c.lead, dataclasses.replace(GOOD_REPLY, handler_name=" ")),
    )
    assert err.field == "handlerName"


@pytest.mark.parametrize(
    ("change", "phrases"),
    [
        ({"text": "已联系市民解释。"}, ["已联系市民解释"]),
        ({"text": "目前暂时无法解决，请谅解。"}, ["暂时无法解决"]),
        ({"communication": "市民电话未接听，无法沟通。"}, ["电话未接听，无法沟通"]),
        ({"handling": "已督促相关部门整改。"}, ["已督促相关部门整改"]),
    ],
    ids=["text", "text-unsolvable", "communication", "handling"],
)
async def test_hollow_reply_cannot_be_approved(
    w: World, change: dict[str, str], phrases: list[str]
) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    await draft(w, c.lead, dataclasses.replace(GOOD_REPLY, **change))  # type: ignore[arg-type]
    async with w.sessions() as s:
        lint = (
            await s.execute(text("SELECT lint FROM reply WHERE assignment_id = :a"), {"a": c.lead})
        ).scalar_one()
    assert [f["phrase"] for f in lint] == phrases
    err = await refused(w, c.ticket, ReplyHollow, approve(w, c.lead))
    assert isinstance(err, ReplyHollow)
    assert err.phrases == phrases


async def test_final_reply_needs_the_main_leader(w: World, principal: Any) -> None:
    await add_main_leader(w, principal)
    c = await dispatched(w)
    await sign(w, c.lead)
    await draft(w, c.lead, FINAL_REPLY)
    err = await refused(w, c.ticket, NotPermitted, approve(w, c.lead, by="cgj.leader"))
    assert "§4(4)" in err.message
    await approve(w, c.lead, by=MAIN_LEADER)
    assert await status_of(w, c.lead) == S.REPLY_APPROVED
    await submit(w, c.lead)
    await review(w, c.lead)
    assert await status_of(w, c.lead) == S.ACCEPTED


async def test_final_reply_without_wording_and_documents_is_incomplete(
    w: World, principal: Any
) -> None:
    await add_main_leader(w, principal)
    c = await dispatched(w)
    await sign(w, c.lead)
    bare = dataclasses.replace(
        FINAL_REPLY,
        documents=(),
        citizen_satisfied=True,
        unsatisfied_reasons=None,
        text="经核查，该路段照度符合城市照明标准，新增路灯的诉求不符合规划。",
    )
    await draft(w, c.lead, bare)
    err = await refused(w, c.ticket, ReplyIncomplete, approve(w, c.lead, by=MAIN_LEADER))
    assert isinstance(err, ReplyIncomplete)
    assert err.missing == ["documents", "finalReplyWording"]


@pytest.mark.parametrize(
    "wording",
    ["此为最终答复。", "此为 最终答复", "（此为最终答复）"],
    ids=["plain", "spaced", "bracketed"],
)
@pytest.mark.parametrize("outcome", [Outcome.RESOLVED, Outcome.EXPLAINED])
async def test_final_wording_outside_a_final_reply_is_refused_at_draft(
    w: World, wording: str, outcome: Outcome
) -> None:
    c = await dispatched(w)
    await sign(w, c.lead)
    data = dataclasses.replace(GOOD_REPLY, outcome=outcome, text=GOOD_REPLY.text + wording)
    err = await refused(w, c.ticket, InvalidInput, draft(w, c.lead, data))
    assert err.field == "outcome"


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        ("UPDATE reply SET text = '已联系市民解释，请耐心等待。'", ReplyHollow),
        ("UPDATE reply SET communication = '已向市民做了解释'", ReplyHollow),
        ("UPDATE reply SET contacted_at = NULL", ReplyIncomplete),
    ],
    ids=["hollow-text", "hollow-communication", "incomplete"],
)
async def test_review_never_accepts_a_hollow_or_incomplete_reply(
    w: World, engine: AsyncEngine, tamper: str, error: type[DomainError]
) -> None:
    """approve and submit refuse hollow replies; should one reach the centre anyway (a changed
    phrase table, a repaired row), the review refuses to accept it too."""
    c = await build(w, S.REPLY_SUBMITTED)
    async with engine.begin() as conn:
        await conn.execute(text(tamper + " WHERE assignment_id = :a"), {"a": c.lead})
    await refused(w, c.ticket, error, review(w, c.lead, accept=True, now=ACT_AT))
    # Sending it back for supplement is still possible.
    await review(w, c.lead, accept=False, now=ACT_AT)
    a = await get_assignment(w, c.lead)
    assert (a.status, a.sent_back_count) == (S.HANDLING, 1)


async def test_submit_rechecks_the_approved_reply(w: World, engine: AsyncEngine) -> None:
    c = await build(w, S.REPLY_APPROVED)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE reply SET text = '非本单位职能' WHERE assignment_id = :a"), {"a": c.lead}
        )
    await refused(w, c.ticket, ReplyHollow, submit(w, c.lead, now=ACT_AT))


async def send_back(w: World, aid: int, supplement_due: datetime | None) -> None:
    await ts.review_reply(
        uow=w.uow,
        actor=w.p("city.reviewer"),
        assignment_id=aid,
        accept=False,
        reasons="请补充现场照片和更换记录",
        supplement_due=supplement_due,
        now=ACT_AT,
    )


async def test_send_back_for_supplement_with_a_limit(w: World) -> None:
    """§3(7): 退回承办单位限时补充完成."""
    c = await build(w, S.REPLY_SUBMITTED)
    # Reasons are required, and the limit must lie ahead.
    await refused(
        w,
        c.ticket,
        InvalidInput,
        ts.review_reply(
            uow=w.uow, actor=w.p("city.reviewer"), assignment_id=c.lead, accept=False, now=ACT_AT
        ),
    )
    err = await refused(w, c.ticket, InvalidInput, send_back(w, c.lead, ACT_AT))
    assert err.field == "supplementDue"
    await send_back(w, c.lead, at(18, 18))
    a = await get_assignment(w, c.lead)
    assert (a.status, a.sent_back_count, a.due_at) == (S.HANDLING, 1, at(18, 18))
    async with w.sessions() as s:
        reply = (
            await s.execute(
                text("SELECT status, review_note FROM reply WHERE assignment_id = :a"),
                {"a": c.lead},
            )
        ).one()
    assert tuple(reply) == ("SENT_BACK", "请补充现场照片和更换记录")


async def test_supplement_limit_of_the_lead_is_the_ticket_due(w: World) -> None:
    c = await build(w, S.REPLY_SUBMITTED)
    await send_back(w, c.lead, at(18, 18))
    assert (await ticket_row(w, c.ticket))["due_at"] == at(18, 18)


# ---- 5. authorization -----------------------------------------------------------------------
MISSING = 10**12  # tickets and assignments have bigint ids
MISSING_UNIT = 2**31 - 1  # units have integer ids


async def test_other_units_cannot_see_a_city_assignment(w: World) -> None:
    c = await build(w, S.DISPATCHED)
    missing = await refused(
        w, c.ticket, NotFound, sign(w, MISSING, now=ACT_AT, by="shuyang.cgj.handler")
    )
    for username in ("shuyang.cgj.handler", "siyang.cgj.handler"):
        err = await refused(w, c.ticket, NotFound, sign(w, c.lead, now=ACT_AT, by=username))
        # Shaped exactly like a missing id: nothing tells the assignment exists.
        assert (err.message, err.field) == (missing.message, missing.field)
    err = await refused(
        w,
        c.ticket,
        NotFound,
        ts.request_return(
            uow=w.uow,
            actor=w.p("shuyang.cgj.handler"),
            assignment_id=c.lead,
            data=RETURN_INPUT,
            now=ACT_AT,
        ),
    )
    assert err.message == missing.message


async def test_a_handler_cannot_approve_its_units_reply(w: World) -> None:
    c = await build(w, S.REPLY_DRAFTED)
    # It may see the assignment, so it is told it may not (not that it does not exist).
    err = await refused(w, c.ticket, NotPermitted, approve(w, c.lead, by="cgj.handler"))
    assert err.code == "NOT_PERMITTED"
    # The leader may.
    await approve(w, c.lead, by="cgj.leader")


async def test_a_county_dispatcher_cannot_dispatch_a_city_ticket(w: World) -> None:
    tid = await new_ticket(w)

    def dispatch(ticket_id: int) -> Awaitable[Any]:
        return ts.dispatch_ticket(
            uow=w.uow,
            actor=w.p("shuyang.dispatcher"),
            ticket_id=ticket_id,
            lead_unit_id=w.units[SHUYANG_CGJ],
            now=ACT_AT,
        )

    missing = await refused(w, tid, NotFound, dispatch(MISSING))
    err = await refused(w, tid, NotFound, dispatch(tid))
    assert (err.message, err.field) == (missing.message, missing.field)


async def test_city_dispatches_to_its_members_only(w: World) -> None:
    tid = await new_ticket(w)
    dispatcher = w.p("city.dispatcher")
    err = await refused(
        w,
        tid,
        NotFound,
        ts.dispatch_ticket(
            uow=w.uow,
            actor=dispatcher,
            ticket_id=tid,
            lead_unit_id=w.units[SHUYANG_CGJ],
            now=ACT_AT,
        ),
    )
    assert err.field == "leadUnitId"
    missing_unit = await refused(
        w,
        tid,
        NotFound,
        ts.dispatch_ticket(
            uow=w.uow, actor=dispatcher, ticket_id=tid, lead_unit_id=MISSING_UNIT, now=ACT_AT
        ),
    )
    assert (err.message, err.field) == (missing_unit.message, missing_unit.field)
    err = await refused(
        w,
        tid,
        NotFound,
        ts.dispatch_ticket(
            uow=w.uow,
            actor=dispatcher,
            ticket_id=tid,
            lead_unit_id=w.units[CGJ],
            co_unit_ids=[w.units[SHUYANG_CGJ]],
            now=ACT_AT,
        ),
    )
    assert err.field == "coUnitIds"
    # The county itself (沭阳县) is a member unit of the city.
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=dispatcher,
        ticket_id=tid,
        lead_unit_id=w.units[SHUYANG_UNIT],
        co_unit_ids=[w.units[CGJ]],
        now=ACT_AT,
    )
    ids = await assignment_ids(w, tid)
    units = [(await get_assignment(w, i)).unit_id for i in ids]
    assert units == [w.units[SHUYANG_UNIT], w.units[CGJ]]


DISPATCH = """mutation($input: DispatchTicketInput!) { dispatchTicket(input: $input) {
  ticket { id } errors { __typename code message field } } }"""


async def test_unit_id_out_of_range_is_not_found(w: World, clients: Any) -> None:
    tid = await new_ticket(w)
    dispatcher = await login(clients, "city.dispatcher")
    variables = {
        "input": {
            "ticketId": to_global_id("Ticket", tid),
            "leadUnitId": to_global_id("Unit", MISSING_UNIT),
        }
    }
    missing = await dispatcher.execute(DISPATCH, variables)
    assert [(e["code"], e["field"]) for e in missing["data"]["dispatchTicket"]["errors"]] == [
        ("NOT_FOUND", "leadUnitId")
    ]
    variables["input"]["leadUnitId"] = to_global_id("Unit", 2**31)
    body = await dispatcher.execute(DISPATCH, variables)
    assert body == missing


# ---- 6. concurrency: two real sessions, one winner ------------------------------------------
async def race(
    engine: AsyncEngine,
    table: str,
    row_id: int,
    calls: list[Callable[[], Awaitable[Any]]],
) -> list[Any]:
    """Start ``calls`` together while another connection holds the row's lock, so both have
    begun before either can finish; then release the lock and collect the results."""
    async with engine.connect() as blocker:
        trans = await blocker.begin()
        await blocker.execute(
            text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE"),
            {"id": row_id},
        )
        tasks = [asyncio.create_task(c()) for c in calls]  # type: ignore[arg-type,var-annotated]
        await asyncio.sleep(0.3)
        assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
        await trans.rollback()
    return await asyncio.gather(*tasks, return_exceptions=True)


def one_winner(results: list[Any]) -> None:
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1, results
    assert [type(e) for e in losses] == [InvalidTransition] * (len(results) - 1), results


async def event_count(w: World, type_: str, entity_id: int | None = None) -> int:
    sql = "SELECT count(*) FROM event WHERE type = :type"
    params: dict[str, Any] = {"type": type_}
    if entity_id is not None:
        sql += " AND entity_id = :eid"
        params["eid"] = str(entity_id)
    async with w.sessions() as s:
        return int((await s.execute(text(sql), params)).scalar_one())


async def test_concurrent_sign_for_has_one_winner(w: World, engine: AsyncEngine) -> None:
    c = await build(w, S.DISPATCHED)
    uows = [w.new_uow(), w.new_uow()]
    actors = [w.p("cgj.handler"), w.p("cgj.leader")]
    results = await race(
        engine,
        "assignment",
        c.lead,
        [
            lambda u=u, p=p: ts.sign_for(uow=u, actor=p, assignment_id=c.lead, now=ACT_AT)  # type: ignore[misc]
            for u, p in zip(uows, actors, strict=True)
        ],
    )
    one_winner(results)
    assert await event_count(w, "assignment.signed", c.lead) == 1
    a = await get_assignment(w, c.lead)
    assert a.status == S.HANDLING
    assert a.signed_by in {"user:cgj.handler", "user:cgj.leader"}


async def test_concurrent_sign_for_without_a_blocker(w: World) -> None:
    c = await build(w, S.DISPATCHED)
    results = await asyncio.gather(
        *(
            ts.sign_for(uow=w.new_uow(), actor=w.p("cgj.handler"), assignment_id=c.lead, now=ACT_AT)
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    one_winner(results)
    assert await event_count(w, "assignment.signed", c.lead) == 1


async def test_concurrent_review_accepts_have_one_winner(w: World, engine: AsyncEngine) -> None:
    c = await build(w, S.REPLY_SUBMITTED)
    results = await race(
        engine,
        "assignment",
        c.lead,
        [
            lambda p=p: ts.review_reply(  # type: ignore[misc]
                uow=w.new_uow(), actor=w.p(p), assignment_id=c.lead, accept=True, now=ACT_AT
            )
            for p in ("city.dispatcher", "city.reviewer")
        ],
    )
    one_winner(results)
    assert await event_count(w, "reply.accepted", c.lead) == 1
    assert await event_count(w, "ticket.replied", c.ticket) == 1
    assert await status_of(w, c.lead) == S.ACCEPTED
    async with w.sessions() as s:
        statuses = (
            await s.execute(
                text("SELECT status FROM reply WHERE assignment_id = :a"), {"a": c.lead}
            )
        ).scalars()
        assert list(statuses) == ["ACCEPTED"]


async def test_concurrent_accepts_of_lead_and_co_unit_reply_the_ticket_once(
    w: World, principal: Any, engine: AsyncEngine
) -> None:
    """Two assignments of one ticket accepted at once: the last one makes the ticket REPLIED,
    exactly once (the ticket row serializes them)."""
    c = await dispatched(w, co=(ZJJ,))
    zjj = await add_staff(w, principal, ZJJ_HANDLER, ZJJ, "unit_handler")
    zjj_leader = await add_staff(w, principal, "test.zjj.leader", ZJJ, "unit_leader")
    await sign(w, c.lead)
    await draft(w, c.lead)
    await approve(w, c.lead)
    await submit(w, c.lead)
    co = c.co[0]
    await ts.sign_for(uow=w.uow, actor=zjj, assignment_id=co, now=STEP["sign"])
    await ts.draft_reply(uow=w.uow, actor=zjj, assignment_id=co, data=GOOD_REPLY, now=STEP["draft"])
    await ts.approve_reply(uow=w.uow, actor=zjj_leader, assignment_id=co, now=STEP["approve"])
    await ts.submit_reply(uow=w.uow, actor=zjj_leader, assignment_id=co, now=STEP["submit"])
    results = await race(
        engine,
        "ticket",
        c.ticket,
        [
            lambda aid=aid: ts.review_reply(  # type: ignore[misc]
                uow=w.new_uow(),
                actor=w.p("city.dispatcher"),
                assignment_id=aid,
                accept=True,
                now=ACT_AT,
            )
            for aid in (c.lead, co)
        ],
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert (await ticket_row(w, c.ticket))["status"] == TicketStatus.REPLIED
    assert await event_count(w, "ticket.replied", c.ticket) == 1


# ---- HTTP: a live server without the deadline sweeper ---------------------------------------
# The sweeper runs on the real clock; tickets dated November 2026 would be deemed accepted
# (and its statements counted) under our feet.
@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(make_settings(db_url, tmp_path, sweeper_enabled=False))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
async def clients(server: LiveServer) -> AsyncIterator[Callable[[], GraphQLClient]]:
    made: list[GraphQLClient] = []

    def make() -> GraphQLClient:
        c = GraphQLClient(server.url)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


async def login(clients: Callable[[], GraphQLClient], username: str) -> GraphQLClient:
    c = clients()
    await c.login(username)
    return c


ASSIGNMENT_PAYLOAD = "assignment { id status signedLate } errors { __typename code message field }"
SIGN_FOR = (
    "mutation($input: AssignmentActionInput!) { signFor(input: $input) { "
    + ASSIGNMENT_PAYLOAD
    + " } }"
)
REQUEST_EXTENSION = (
    "mutation($input: RequestExtensionInput!) { requestExtension(input: $input) { "
    + ASSIGNMENT_PAYLOAD
    + " } }"
)
CREATE = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id number } errors { __typename code message field } } }"""


# ---- 7. idempotency -------------------------------------------------------------------------
async def test_idempotent_sign_for(w: World, clients: Any) -> None:
    c = await build(w, S.DISPATCHED)
    handler = await login(clients, "cgj.handler")
    gid = to_global_id("Assignment", c.lead)
    variables = {"input": {"assignmentId": gid, "idempotencyKey": "sign-1"}}
    first = (await handler.data(SIGN_FOR, variables))["signFor"]
    assert first["errors"] == []
    assert (first["assignment"]["id"], first["assignment"]["status"]) == (gid, "HANDLING")
    before = await snapshot(w, c.ticket)
    second = (await handler.data(SIGN_FOR, variables))["signFor"]
    assert second == first
    assert await snapshot(w, c.ticket) == before
    assert await event_count(w, "assignment.signed", c.lead) == 1
    # Without the key a second sign-for is simply refused.
    again = (await handler.data(SIGN_FOR, {"input": {"assignmentId": gid}}))["signFor"]
    assert again["errors"][0]["code"] == "INVALID_TRANSITION"
    # The same key for another mutation is an input error, and changes nothing.
    body = await handler.data(
        REQUEST_EXTENSION,
        {
            "input": {
                "assignmentId": gid,
                "reason": "需协调供电部门",
                "proposedDue": "2026-12-30T09:00:00+08:00",
                "idempotencyKey": "sign-1",
            }
        },
    )
    payload = body["requestExtension"]
    assert payload["assignment"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        ("InvalidInputError", "INVALID_INPUT", "idempotencyKey")
    ]
    assert await snapshot(w, c.ticket) == before


async def test_concurrent_create_ticket_with_one_key_makes_one_ticket(
    w: World, clients: Any
) -> None:
    dispatcher = await login(clients, "city.dispatcher")
    variables = {
        "input": {
            "channel": "HOTLINE_12345",
            "originLevel": "CITY",
            "categoryCode": "CM.STREET_LIGHTS",
            "title": "并发受理测试",
            "content": "同一来电被重复提交。",
            "complainant": {"name": NAME, "phone": PHONE},
            "idempotencyKey": "intake-race",
        }
    }
    bodies = await asyncio.gather(*(dispatcher.execute(CREATE, variables) for _ in range(5)))
    payloads = [b["data"]["createTicket"] for b in bodies]
    assert all(p["errors"] == [] for p in payloads), payloads
    assert len({p["ticket"]["id"] for p in payloads}) == 1
    assert len({p["ticket"]["number"] for p in payloads}) == 1
    async with w.sessions() as s:
        ids = (await s.execute(text("SELECT id FROM ticket WHERE title = '并发受理测试'"))).all()
        keys = (
            await s.execute(text("SELECT count(*) FROM idempotency_key WHERE key = 'intake-race'"))
        ).scalar_one()
    assert (len(ids), keys) == (1, 1)
    assert to_global_id("Ticket", ids[0][0]) == payloads[0]["ticket"]["id"]
    assert await event_count(w, "ticket.created", ids[0][0]) == 1


# ---- 8. complainant data by role ------------------------------------------------------------
COMPLAINANT = """query($id: ID!) { ticket(id: $id) {
  complainant { name phone anonymous masked } } }"""


async def pii_reads(w: World, username: str) -> int:
    async with w.sessions() as s:
        return int(
            (
                await s.execute(
                    text("SELECT count(*) FROM pii_access WHERE subject = :s"),
                    {"s": f"user:{username}"},
                )
            ).scalar_one()
        )


CLEAR = {"name": NAME, "phone": PHONE, "masked": False}
MASKED = {"name": MASKED_NAME, "phone": MASKED_PHONE, "masked": True}


@pytest.mark.parametrize(
    ("username", "named", "anonymous"),
    [
        ("city.dispatcher", CLEAR, CLEAR),
        ("city.reviewer", CLEAR, CLEAR),
        ("cgj.handler", CLEAR, MASKED),
        ("cgj.leader", CLEAR, MASKED),
        ("city.supervisor", MASKED, MASKED),
        ("city.leader", MASKED, MASKED),
    ],
)
async def test_complainant_masked_by_role(
    w: World,
    clients: Any,
    username: str,
    named: dict[str, Any],
    anonymous: dict[str, Any],
) -> None:
    cases = {
        False: await dispatched(w, title="PII 实名工单"),
        True: await dispatched(w, anonymous=True, title="PII 匿名工单"),
    }
    user = await login(clients, username)
    expected_reads = 0
    for anon, expected in ((False, named), (True, anonymous)):
        gid = to_global_id("Ticket", cases[anon].ticket)
        before = await pii_reads(w, username)
        data = await user.data(COMPLAINANT, {"id": gid})
        assert data["ticket"]["complainant"] == {**expected, "anonymous": anon}
        # One pii_access row for each clear read, none for a masked one.
        reads = 0 if expected["masked"] else 1
        assert await pii_reads(w, username) == before + reads
        expected_reads += reads
    # The list reads both tickets in one request: one row per ticket read in clear.
    before = await pii_reads(w, username)
    data = await user.data(
        '{ tickets(first: 10, filter: {search: "PII"}) '
        "{ nodes { title complainant { name phone masked } } } }"
    )
    seen = {n["title"]: n["complainant"] for n in data["tickets"]["nodes"]}
    assert seen == {
        "PII 实名工单": {k: named[k] for k in ("name", "phone", "masked")},
        "PII 匿名工单": {k: anonymous[k] for k in ("name", "phone", "masked")},
    }
    assert await pii_reads(w, username) == before + expected_reads
    # A unit's work list shows the same.
    if username.startswith("cgj."):
        data = await user.data(
            "{ myAssignments(first: 100, filter: {kind: TO_SIGN}) "
            "{ nodes { ticket { title complainant { phone } } } } }"
        )
        phones = {
            n["ticket"]["title"]: n["ticket"]["complainant"]["phone"]
            for n in data["myAssignments"]["nodes"]
            if n["ticket"]["title"].startswith("PII")
        }
        assert phones == {"PII 实名工单": named["phone"], "PII 匿名工单": anonymous["phone"]}


async def test_complainant_phone_never_in_events_or_errors(w: World, clients: Any) -> None:
    c = await build(w, S.ACCEPTED)  # a ticket with a full history
    anon = await dispatched(w, anonymous=True)
    dispatcher = await login(clients, "city.dispatcher")
    supervisor = await login(clients, "city.supervisor")
    handler = await login(clients, "cgj.handler")
    county = await login(clients, "shuyang.cgj.handler")
    texts: list[str] = []
    # Refusals of every kind, by several roles, on tickets carrying the phone.
    for client, query, variables in (
        (
            dispatcher,
            CREATE,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM.STREET_LIGHTS",
                    "title": " ",
                    "content": "x",
                    "complainant": {"name": NAME, "phone": PHONE},
                }
            },
        ),
        (
            dispatcher,
            CREATE,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM.STREET_LIGHTS",
                    "title": "t",
                    "content": "x",
                    "complainant": {"name": NAME, "phone": PHONE + "#"},
                }
            },
        ),
        (
            dispatcher,
            CREATE,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "NO.SUCH",
                    "title": "t",
                    "content": "x",
                    "complainant": {"name": NAME, "phone": PHONE},
                }
            },
        ),
        (
            supervisor,
            """mutation($input: DispatchTicketInput!) { dispatchTicket(input: $input) {
              errors { code message field } } }""",
            {
                "input": {
                    "ticketId": to_global_id("Ticket", c.ticket),
                    "leadUnitId": to_global_id("Unit", w.units[CGJ]),
                }
            },
        ),
        (handler, SIGN_FOR, {"input": {"assignmentId": to_global_id("Assignment", c.lead)}}),
        (county, SIGN_FOR, {"input": {"assignmentId": to_global_id("Assignment", anon.lead)}}),
    ):
        body = await client.execute(query, variables)
        errors = [e for payload in (body.get("data") or {}).values() for e in payload["errors"]]
        errors += body.get("errors") or []
        assert errors, body
        texts.append(str(errors))
    for t in texts:
        assert PHONE not in t and MASKED_PHONE not in t and NAME not in t, t
    # Domain errors too.
    with pytest.raises(InvalidInput) as info:
        await ts.create_ticket(
            uow=w.uow,
            actor=w.p("city.dispatcher"),
            data=ts.NewTicket(
                channel=Channel.HOTLINE_12345,
                origin_level=OriginLevel.CITY,
                category_code="CM.STREET_LIGHTS",
                title="t",
                content="x",
                complainant_name=NAME,
                complainant_phone=PHONE + "x",
            ),
            now=ACT_AT,
        )
    assert PHONE not in str(info.value)
    # The history, as stored (for every ticket there is) and as served.
    async with w.sessions() as s:
        rows = (await s.execute(text("SELECT before::text, after::text FROM event"))).all()
        personal = (
            await s.execute(text("SELECT complainant_name, complainant_phone FROM ticket"))
        ).all()
    assert rows
    stored = " ".join(f"{b} {a}" for b, a in rows)
    secrets = {v for pair in personal for v in pair if v} | {PHONE, NAME}
    assert PHONE in secrets
    assert not [v for v in secrets if v in stored]
    history = await dispatcher.data(
        "query($id: ID!) { ticket(id: $id) { events(first: 100) "
        "{ nodes { type before after } } } }",
        {"id": to_global_id("Ticket", c.ticket)},
    )
    assert len(history["ticket"]["events"]["nodes"]) >= 7
    assert PHONE not in str(history) and NAME not in str(history)


# ---- 9. the statement count of the ticket list ----------------------------------------------
# Searching for this file's tickets only: the template may hold demo tickets too.
DEEP_TICKETS = """query($first: Int!) {
 tickets(first: $first, filter: {search: "计数工单"}) { nodes {
  number
  complainant { phone }
  assignments { unit { name } reply { status } }
  deadlines { dueAt }
  category { name }
  centre { name }
} } }"""


# Per request: the principal (1); the scope's descendants for read-down (1); the page's count
# and rows (2); one batch each of assignments, complainant reads logged (insert), categories,
# centres, units and replies (6); one batch of tickets again, for the replies' anonymity (1).
EXPECTED_TICKET_LIST_STATEMENTS = 11


async def test_ticket_list_statement_count_is_constant(
    w: World, clients: Any, statement_counter: StatementCounter
) -> None:
    for i in range(22):
        c = await dispatched(w, co=(ZJJ,) if i % 2 else (), title=f"计数工单{i}")
        if i % 3 == 0:
            await sign(w, c.lead)
            await draft(w, c.lead)
    dispatcher = await login(clients, "city.dispatcher")
    await dispatcher.data(DEEP_TICKETS, {"first": 3})  # warm up: pool connections, caches
    counts: dict[int, list[str]] = {}
    for first in (5, 20):
        statement_counter.take()
        data = await dispatcher.data(DEEP_TICKETS, {"first": first})
        counts[first] = statement_counter.take()
        nodes = data["tickets"]["nodes"]
        assert len(nodes) == first
        # The data really was loaded.
        assert all(n["complainant"]["phone"] == PHONE for n in nodes)
        assert all(n["category"]["name"] == "路灯" and n["centre"]["name"] for n in nodes)
        assert all(n["deadlines"]["dueAt"] for n in nodes)
        units = [a["unit"]["name"] for n in nodes for a in n["assignments"]]
        assert set(units) == {CGJ, ZJJ}
        replies = [a["reply"] for n in nodes for a in n["assignments"]]
        assert {"status": "DRAFT"} in replies and None in replies
    assert len(counts[5]) == len(counts[20]), {k: len(v) for k, v in counts.items()}
    assert len(counts[20]) == EXPECTED_TICKET_LIST_STATEMENTS, "\n---\n".join(counts[20])
