"""Supervision cases (督办, regulation §5 and §7; issue #4) through their use cases and over HTTP.

1. The supervision matrix: each level supervises only its own members (Casbin's membership
   mirror decides); every refusal is answered exactly as a unit that does not exist, and
   changes nothing.
2. Input rules: grounds, OTHER needs a note, a future deadline, one lead in a multi-unit case,
   linked tickets the supervisor may see.
3. Respond and close: who may, the RESPONDED status, the outcome.
4. Escalation (专报, §5(3)6): the centre above reads the case and may not act on it.
5. Scoping of the ``supervisions`` list (a county sees only its own, a unit only its cases).
6. Overdue responses reminded by the sweeper exactly once, also with several sweepers.
7. HTTP: open → respond → close through the live server, idempotency, node, Unit.supervisions,
   Ticket.supervisions; the statement count of the list is constant.

Use-case calls pass explicit ``now=`` times in November 2026 (Asia/Shanghai).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import GraphQLClient, LiveServer, StatementCounter, make_settings
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.relay import to_global_id
from authz import centre_domain, unit_domain
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.calendar import TZ
from domain.db import make_engine, make_sessionmaker
from domain.errors import DomainError, InvalidInput, NotFound, NotPermitted
from domain.events import Event
from domain.registry import service as registry
from domain.registry.models import Unit
from domain.registry.visibility import visibility
from domain.supervision import queries as sq
from domain.supervision import service as ss
from domain.supervision.models import (
    CaseUnitRole,
    Grounds,
    SupervisionCase,
    SupervisionForm,
    SupervisionOutcome,
    SupervisionStatus,
    SupervisionUnit,
)
from domain.tickets import service as ts
from domain.tickets.models import Channel, OriginLevel
from domain.tickets.sweeper import run_forever
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

St = SupervisionStatus

CITY, SHUYANG, SIYANG, SHUCHENG = "3213", "321322", "321323", "321322001"
CGJ = "市城管局"  # city member: cgj.handler, cgj.leader
ZJJ = "市住房城乡建设局"  # city member (its handler is made here)
SHUYANG_UNIT = "沭阳县"  # the county as a unit: a member of the city centre
SHUYANG_CGJ = "沭阳县城管局"  # member of the county centre 321322
SIYANG_CGJ = "泗阳县城管局"  # member of the county centre 321323
SQB = "沭城街道社区服务办"  # member of the township centre 321322001
UNIT_NAMES = (CGJ, ZJJ, SHUYANG_UNIT, SHUYANG_CGJ, SIYANG_CGJ, SQB)

USERS = (
    "admin",
    "city.supervisor",
    "city.dispatcher",
    "city.leader",
    "shuyang.supervisor",
    "shuyang.dispatcher",
    "siyang.supervisor",
    "shucheng.dispatcher",
    "cgj.handler",
    "cgj.leader",
    "shuyang.cgj.handler",
    "siyang.cgj.handler",
    "shucheng.sqb.handler",
)
ZJJ_HANDLER = "test.zjj.handler"

NO_SUCH_UNIT = 2_000_000_000  # a unit id that does not exist


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026, Asia/Shanghai."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


T0 = at(16, 9)
DEADLINE = at(19, 17)
LATE = (Grounds.LATE_WITHOUT_REASON,)


# ---- the world -------------------------------------------------------------------------------
@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    people: dict[str, Principal]
    units: dict[str, int]
    principal: Any

    def p(self, username: str) -> Principal:
        return self.people[username]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer)

    async def reload(self, username: str) -> Principal:
        self.people[username] = await self.principal(username)
        return self.people[username]


async def _units(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        rows = (await s.execute(select(Unit.name, Unit.id).where(Unit.name.in_(UNIT_NAMES)))).all()
    units = {name: uid for name, uid in rows}
    assert len(rows) == len(units) and set(units) == set(UNIT_NAMES), rows
    return units


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer, principal: Any
) -> World:
    people = {u: await principal(u) for u in USERS}
    return World(sessions, enforcer, people, await _units(sessions), principal)


async def add_zjj_handler(w: World) -> Principal:
    await registry.create_staff(
        uow=w.uow(),
        actor=w.p("admin"),
        username=ZJJ_HANDLER,
        display_name="市住建局专人",
        password="yiwang-demo",
        unit_id=w.units[ZJJ],
        roles=["unit_handler"],
    )
    return await w.reload(ZJJ_HANDLER)


async def open_case(
    w: World,
    by: str,
    targets: Sequence[str] = (),
    *,
    lead: str | None = None,
    co: Sequence[str] = (),
    grounds: Sequence[Grounds] = LATE,
    form: SupervisionForm = SupervisionForm.DAILY_ONLINE,
    tickets: Sequence[int] = (),
    note: str | None = None,
    deadline: datetime = DEADLINE,
    now: datetime = T0,
    target_ids: Sequence[int] = (),
) -> SupervisionCase:
    return await ss.open_supervision(
        uow=w.uow(),
        actor=w.p(by),
        target_unit_ids=[*(w.units[u] for u in targets), *target_ids],
        grounds=list(grounds),
        form=form,
        deadline=deadline,
        ticket_ids=list(tickets),
        lead_unit_id=w.units[lead] if lead else None,
        co_unit_ids=[w.units[u] for u in co],
        note=note,
        now=now,
    )


async def respond(
    w: World, by: str, case_id: int, unit: str, now: datetime = T0 + timedelta(hours=2)
) -> None:
    await ss.respond_supervision(
        uow=w.uow(),
        actor=w.p(by),
        case_id=case_id,
        unit_id=w.units[unit],
        content="已约谈责任科室，现场整改完毕并回访市民。",
        done_at=now - timedelta(hours=1),
        now=now,
    )


async def close(
    w: World,
    by: str,
    case_id: int,
    outcome: SupervisionOutcome = SupervisionOutcome.RESOLVED,
    note: str | None = None,
    now: datetime = T0 + timedelta(hours=5),
) -> None:
    await ss.close_supervision(
        uow=w.uow(), actor=w.p(by), case_id=case_id, outcome=outcome, note=note, now=now
    )


async def escalate(
    w: World, by: str, case_id: int, now: datetime = T0 + timedelta(hours=4)
) -> None:
    await ss.escalate_supervision(
        uow=w.uow(),
        actor=w.p(by),
        case_id=case_id,
        note="该事项多次督办仍未落实，专报上级指挥中心。",
        now=now,
    )


async def new_ticket(w: World, by: str = "city.dispatcher") -> int:
    t = await ts.create_ticket(
        uow=w.uow(),
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code="CM.STREET_LIGHTS",
            title="幸福路路灯不亮",
            content="幸福路与洪泽湖路交叉口路灯连续三晚不亮。",
            complainant_name="李四",
            complainant_phone="13812341234",
        ),
        now=T0 - timedelta(days=2),
    )
    return t.id


SNAPSHOT_TABLES = (
    "supervision_case",
    "supervision_unit",
    "supervision_ticket",
    "supervision_response",
    "event",
    "idempotency_key",
)


async def snapshot(w: World) -> dict[str, Any]:
    """Every supervision row and every event: a refusal must leave all of it as it was."""
    out: dict[str, Any] = {}
    async with w.sessions() as s:
        for table in SNAPSHOT_TABLES:
            out[table] = (
                await s.execute(
                    text(f"SELECT coalesce(json_agg(t ORDER BY t::text), '[]') FROM {table} t")
                )
            ).scalar_one()
    return out


def shape(exc: DomainError) -> tuple[type[DomainError], str, str, str | None]:
    return type(exc), exc.code, exc.message, exc.field


async def refused(call: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        await call
    return info.value


async def case_row(w: World, case_id: int) -> SupervisionCase:
    async with w.sessions() as s:
        c = await s.get(SupervisionCase, case_id)
        assert c is not None
        return c


async def case_units(w: World, case_id: int) -> dict[int, CaseUnitRole]:
    async with w.sessions() as s:
        rows = await s.execute(
            select(SupervisionUnit.unit_id, SupervisionUnit.role).where(
                SupervisionUnit.case_id == case_id
            )
        )
        return {u: r for u, r in rows}


async def case_events(w: World, case_id: int, type_: str | None = None) -> list[Event]:
    async with w.sessions() as s:
        q = select(Event).where(Event.entity_type == "supervision", Event.entity_id == str(case_id))
        if type_:
            q = q.where(Event.type == type_)
        return list((await s.execute(q.order_by(Event.id))).scalars())


async def case_count(w: World) -> int:
    async with w.sessions() as s:
        return int((await s.execute(text("SELECT count(*) FROM supervision_case"))).scalar_one())


async def visible(w: World, username: str, **filters: Any) -> set[int]:
    async with w.sessions() as s:
        page = await sq.list_cases(
            s, w.p(username).scope, sq.SupervisionFilter(**filters), 100, None
        )
    assert not page.has_next
    return {c.id for c in page.items}


async def by_id(w: World, username: str, case_id: int) -> SupervisionCase | None:
    async with w.sessions() as s:
        return (await sq.cases_by_id(s, w.p(username).scope, [case_id]))[0]


# ---- 1. the supervision matrix ---------------------------------------------------------------
MATRIX = [
    # (supervisor, target unit, the case's centre when allowed / None when refused)
    ("city.supervisor", CGJ, CITY),
    ("city.supervisor", SHUYANG_UNIT, CITY),  # the county's face among the city's members
    ("city.supervisor", SHUYANG_CGJ, None),  # a county department: not the city's member
    ("city.supervisor", SQB, None),
    ("shuyang.supervisor", SHUYANG_CGJ, SHUYANG),
    ("shuyang.supervisor", CGJ, None),  # a city member
    ("shuyang.supervisor", SHUYANG_UNIT, None),  # its own face belongs to the city
    ("shuyang.supervisor", SIYANG_CGJ, None),  # another county's department
    ("shuyang.supervisor", SQB, None),  # its township's member is the township's
    ("siyang.supervisor", SIYANG_CGJ, SIYANG),
    ("siyang.supervisor", SHUYANG_CGJ, None),
    ("shucheng.dispatcher", SQB, SHUCHENG),  # the township supervises its own member
    ("shucheng.dispatcher", SHUYANG_CGJ, None),
    ("city.dispatcher", CGJ, None),  # reads cases, but is no supervisor
    ("cgj.leader", CGJ, None),  # a unit never supervises itself
]


@pytest.mark.parametrize(("who", "unit", "centre"), MATRIX)
async def test_supervision_matrix(w: World, who: str, unit: str, centre: str | None) -> None:
    if centre is None:
        before = await snapshot(w)
        err = await refused(open_case(w, who, [unit]))
        missing = await refused(open_case(w, who, target_ids=[NO_SUCH_UNIT]))
        assert isinstance(err, NotFound)
        assert (
            shape(err)
            == shape(missing)
            == (NotFound, "NOT_FOUND", "unit not found", "targetUnitIds")
        )
        assert await snapshot(w) == before
        return
    c = await open_case(w, who, [unit])
    row = await case_row(w, c.id)
    uid = w.units[unit]
    assert (row.centre_code, row.status, row.opened_by) == (centre, St.OPEN, f"user:{who}")
    assert await case_units(w, c.id) == {uid: CaseUnitRole.TARGET}
    (ev,) = await case_events(w, c.id)
    assert ev.type == "supervision.opened" and ev.actor == f"user:{who}"
    assert ev.domains == sorted([centre_domain(centre), unit_domain(uid)])
    assert ev.after is not None and ev.after["units"] == [{"unitId": uid, "role": "TARGET"}]


async def test_reading_down_the_chain_never_supervises(w: World) -> None:
    """The city reads 沭阳县城管局 (read-down is granted to it), and still may not supervise it:
    the refusal is the one for a unit that does not exist, also as a co-unit."""
    async with w.sessions() as s:
        vis = await visibility(s, w.p("city.supervisor").scope)
        unit = await s.get(Unit, w.units[SHUYANG_CGJ])
    assert unit is not None and vis.can_read_unit(unit)
    before = await snapshot(w)
    err = await refused(open_case(w, "city.supervisor", [CGJ], lead=CGJ, co=[SHUYANG_CGJ]))
    assert shape(err) == (NotFound, "NOT_FOUND", "unit not found", "coUnitIds")
    err = await refused(open_case(w, "city.supervisor", [SHUYANG_CGJ, CGJ], lead=CGJ))
    assert shape(err) == (NotFound, "NOT_FOUND", "unit not found", "targetUnitIds")
    err = await refused(open_case(w, "city.supervisor", lead=SHUYANG_CGJ, co=[CGJ]))
    assert shape(err) == (NotFound, "NOT_FOUND", "unit not found", "leadUnitId")
    assert await snapshot(w) == before


async def test_a_case_belongs_to_one_centre(w: World) -> None:
    """Someone supervising two centres still opens a case over one centre's members."""
    from domain.registry import service as reg

    await reg.grant_role(
        uow=w.uow(),
        actor=w.p("admin"),
        username="city.supervisor",
        role="supervisor",
        domain=centre_domain(SHUYANG),
    )
    await w.reload("city.supervisor")
    before = await snapshot(w)
    err = await refused(open_case(w, "city.supervisor", [CGJ, SHUYANG_CGJ], lead=CGJ))
    assert shape(err)[0:2] == (InvalidInput, "INVALID_INPUT") and err.field == "targetUnitIds"
    assert await snapshot(w) == before
    c = await open_case(w, "city.supervisor", [SHUYANG_CGJ])
    assert (await case_row(w, c.id)).centre_code == SHUYANG


# ---- 2. input rules --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"grounds": ()}, "grounds"),
        ({"grounds": (Grounds.OTHER,)}, "note"),
        ({"grounds": (Grounds.OTHER, Grounds.LATE_WITHOUT_REASON), "note": "  "}, "note"),
        ({"deadline": T0}, "deadline"),
        ({"deadline": T0 - timedelta(days=1)}, "deadline"),
        ({"deadline": datetime(2026, 11, 20, 9)}, "deadline"),  # no time zone
        ({"targets": ()}, "targetUnitIds"),
        ({"targets": (CGJ, ZJJ)}, "leadUnitId"),  # several units: name the lead
        ({"targets": (CGJ, ZJJ), "lead": CGJ, "co": (CGJ,)}, "coUnitIds"),
    ],
)
async def test_invalid_input_is_refused_and_changes_nothing(
    w: World, kwargs: dict[str, Any], field: str
) -> None:
    targets = kwargs.pop("targets", (CGJ,))
    before = await snapshot(w)
    err = await refused(open_case(w, "city.supervisor", targets, **kwargs))
    assert isinstance(err, InvalidInput) and err.field == field, err
    assert await snapshot(w) == before


async def test_other_grounds_with_a_note_and_grounds_in_the_regulations_order(w: World) -> None:
    c = await open_case(
        w,
        "city.supervisor",
        [CGJ],
        grounds=(Grounds.OTHER, Grounds.SHIRKING_OR_NOT_IMPLEMENTING, Grounds.OTHER),
        note="市领导批示件，需跟踪督办",
        form=SupervisionForm.SPECIAL_REPORT,
    )
    row = await case_row(w, c.id)
    assert row.grounds == ["SHIRKING_OR_NOT_IMPLEMENTING", "OTHER"]
    assert (row.note, row.form) == ("市领导批示件，需跟踪督办", SupervisionForm.SPECIAL_REPORT)


async def test_lead_and_co_units_are_targets(w: World) -> None:
    c = await open_case(w, "city.supervisor", lead=CGJ, co=[ZJJ])
    assert await case_units(w, c.id) == {
        w.units[CGJ]: CaseUnitRole.LEAD,
        w.units[ZJJ]: CaseUnitRole.CO,
    }
    # Every non-lead unit of a multi-unit case is a co-unit (§5: 主办 + 协办).
    c = await open_case(w, "city.supervisor", [CGJ, ZJJ, SHUYANG_UNIT], lead=ZJJ)
    assert await case_units(w, c.id) == {
        w.units[ZJJ]: CaseUnitRole.LEAD,
        w.units[CGJ]: CaseUnitRole.CO,
        w.units[SHUYANG_UNIT]: CaseUnitRole.CO,
    }
    c = await open_case(w, "city.supervisor", [CGJ], lead=CGJ)
    assert await case_units(w, c.id) == {w.units[CGJ]: CaseUnitRole.LEAD}


async def test_linked_tickets_must_be_visible_to_the_supervisor(w: World) -> None:
    tid = await new_ticket(w)
    c = await open_case(w, "city.supervisor", [CGJ], tickets=[tid, tid])
    async with w.sessions() as s:
        rows = (
            await s.execute(
                text("SELECT ticket_id FROM supervision_ticket WHERE case_id = :c"), {"c": c.id}
            )
        ).scalars()
        assert list(rows) == [tid]
        linked = await sq.cases_by_ticket(s, w.p("city.supervisor").scope, [tid])
    assert [x.id for x in linked[0]] == [c.id]
    # A county supervisor cannot link the city's ticket: refused like a missing ticket.
    before = await snapshot(w)
    err = await refused(open_case(w, "shuyang.supervisor", [SHUYANG_CGJ], tickets=[tid]))
    missing = await refused(open_case(w, "shuyang.supervisor", [SHUYANG_CGJ], tickets=[10**12]))
    assert shape(err) == shape(missing) == (NotFound, "NOT_FOUND", "ticket not found", "ticketIds")
    assert await snapshot(w) == before


# ---- 3. respond and close --------------------------------------------------------------------
async def test_respond_then_close(w: World) -> None:
    await add_zjj_handler(w)
    c = await open_case(w, "city.supervisor", lead=CGJ, co=[ZJJ])
    cid = c.id
    targets = [w.units[CGJ], w.units[ZJJ]]
    domains = sorted([centre_domain(CITY), *(unit_domain(u) for u in targets)])
    before = await snapshot(w)
    # Outsiders: as if the case did not exist.
    for who, unit in (("shuyang.cgj.handler", CGJ), ("shuyang.cgj.handler", SHUYANG_CGJ)):
        err = await refused(respond(w, who, cid, unit))
        assert shape(err) == (NotFound, "NOT_FOUND", "supervision case not found", "caseId")
    missing = await refused(respond(w, "cgj.handler", 10**12, CGJ))
    assert shape(missing) == (NotFound, "NOT_FOUND", "supervision case not found", "caseId")
    # Those who see the case but may not answer for that unit.
    assert isinstance(await refused(respond(w, "city.supervisor", cid, CGJ)), NotPermitted)
    assert isinstance(await refused(respond(w, "cgj.handler", cid, ZJJ)), NotPermitted)
    err = await refused(respond(w, "cgj.handler", cid, SHUYANG_CGJ))
    assert isinstance(err, InvalidInput) and err.field == "unitId"
    err = await refused(
        ss.respond_supervision(
            uow=w.uow(),
            actor=w.p("cgj.handler"),
            case_id=cid,
            unit_id=w.units[CGJ],
            content="已整改",
            done_at=T0 + timedelta(days=1),
            now=T0,
        )
    )
    assert isinstance(err, InvalidInput) and err.field == "doneAt"
    assert await snapshot(w) == before

    await respond(w, "cgj.handler", cid, CGJ)
    assert (await case_row(w, cid)).status == St.OPEN  # 市住建局 has not responded
    await respond(w, ZJJ_HANDLER, cid, ZJJ)
    assert (await case_row(w, cid)).status == St.RESPONDED
    await respond(w, "cgj.handler", cid, CGJ)  # a further report is welcome
    assert (await case_row(w, cid)).status == St.RESPONDED
    responded = await case_events(w, cid, "supervision.responded")
    assert [e.after["unitId"] for e in responded if e.after] == [*targets, targets[0]]
    assert all(e.domains == domains for e in responded)

    # Closing: only the supervising centre's supervisors.
    before = await snapshot(w)
    assert isinstance(await refused(close(w, "cgj.leader", cid)), NotPermitted)
    assert isinstance(await refused(close(w, "city.dispatcher", cid)), NotPermitted)
    err = await refused(close(w, "shuyang.supervisor", cid))
    assert shape(err) == (NotFound, "NOT_FOUND", "supervision case not found", "caseId")
    for outcome in (SupervisionOutcome.ESCALATED, SupervisionOutcome.REFERRED_FOR_ACCOUNTABILITY):
        err = await refused(close(w, "city.supervisor", cid, outcome))
        assert isinstance(err, InvalidInput) and err.field == "note"
    assert await snapshot(w) == before

    await close(w, "city.supervisor", cid, SupervisionOutcome.REFERRED_FOR_ACCOUNTABILITY, "移送")
    row = await case_row(w, cid)
    assert (row.status, row.outcome, row.outcome_note, row.closed_by) == (
        St.CLOSED,
        SupervisionOutcome.REFERRED_FOR_ACCOUNTABILITY,
        "移送",
        "user:city.supervisor",
    )
    (ev,) = await case_events(w, cid, "supervision.closed")
    assert ev.domains == domains and ev.before and ev.before["status"] == "RESPONDED"

    before = await snapshot(w)
    assert isinstance(await refused(close(w, "city.supervisor", cid)), InvalidTransition)
    assert isinstance(await refused(respond(w, "cgj.handler", cid, CGJ)), InvalidTransition)
    assert isinstance(await refused(escalate(w, "city.supervisor", cid)), InvalidTransition)
    assert await snapshot(w) == before


async def test_an_open_case_may_be_closed_without_responses(w: World) -> None:
    c = await open_case(w, "shuyang.supervisor", [SHUYANG_CGJ])
    await close(w, "shuyang.supervisor", c.id)
    row = await case_row(w, c.id)
    assert (row.status, row.outcome) == (St.CLOSED, SupervisionOutcome.RESOLVED)


# ---- 4. escalation ---------------------------------------------------------------------------
async def test_escalation_reports_to_the_centre_above_which_reads_only(w: World) -> None:
    c = await open_case(w, "shuyang.supervisor", [SHUYANG_CGJ])
    cid = c.id
    assert cid not in await visible(w, "city.supervisor")
    assert await by_id(w, "city.supervisor", cid) is None
    before = await snapshot(w)
    err = await refused(escalate(w, "city.supervisor", cid))
    assert shape(err) == (NotFound, "NOT_FOUND", "supervision case not found", "caseId")
    assert isinstance(await refused(escalate(w, "siyang.supervisor", cid)), NotFound)
    assert isinstance(await refused(escalate(w, "shuyang.cgj.handler", cid)), NotPermitted)
    assert await snapshot(w) == before

    await escalate(w, "shuyang.supervisor", cid)
    row = await case_row(w, cid)
    assert (row.escalated_to, row.escalated_at) == (CITY, T0 + timedelta(hours=4))
    (ev,) = await case_events(w, cid, "supervision.escalated")
    uid = w.units[SHUYANG_CGJ]
    with_city = sorted([centre_domain(SHUYANG), unit_domain(uid), centre_domain(CITY)])
    assert ev.domains == with_city
    assert ev.after is not None and ev.after["escalatedTo"] == CITY

    # The city now reads it — and may not act on it.
    for who in ("city.supervisor", "city.dispatcher", "city.leader"):
        assert cid in await visible(w, who)
        assert await by_id(w, who, cid) is not None
    assert cid in await visible(w, "city.supervisor", escalated_to=CITY)
    assert cid not in await visible(w, "city.supervisor", centre_code=CITY)
    before = await snapshot(w)
    assert isinstance(await refused(close(w, "city.supervisor", cid)), NotPermitted)
    assert isinstance(await refused(escalate(w, "city.supervisor", cid)), NotPermitted)
    assert isinstance(await refused(respond(w, "city.supervisor", cid, SHUYANG_CGJ)), NotPermitted)
    # Another county still sees nothing; escalating twice is refused.
    assert cid not in await visible(w, "siyang.supervisor")
    assert isinstance(await refused(close(w, "siyang.supervisor", cid)), NotFound)
    assert isinstance(await refused(escalate(w, "shuyang.supervisor", cid)), InvalidTransition)
    assert await snapshot(w) == before

    # The county goes on: its unit responds, it closes; the city hears of both.
    await respond(
        w, "shuyang.cgj.handler", cid, SHUYANG_CGJ, now=T0 + timedelta(hours=4, minutes=30)
    )
    await close(w, "shuyang.supervisor", cid, SupervisionOutcome.ESCALATED, "已专报市中心")
    later = await case_events(w, cid)
    assert [e.type for e in later][-2:] == ["supervision.responded", "supervision.closed"]
    assert all(e.domains == with_city for e in later[-2:])


async def test_a_city_case_has_no_centre_above(w: World) -> None:
    c = await open_case(w, "city.supervisor", [CGJ])
    before = await snapshot(w)
    err = await refused(escalate(w, "city.supervisor", c.id))
    assert isinstance(err, InvalidTransition)
    assert await snapshot(w) == before


async def test_a_township_case_escalates_one_level_only(w: World) -> None:
    c = await open_case(w, "shucheng.dispatcher", [SQB])
    await escalate(w, "shucheng.dispatcher", c.id)
    assert (await case_row(w, c.id)).escalated_to == SHUYANG
    assert c.id in await visible(w, "shuyang.supervisor")
    assert c.id not in await visible(w, "city.supervisor")
    assert isinstance(await refused(close(w, "shuyang.supervisor", c.id)), NotPermitted)
    await respond(w, "shucheng.sqb.handler", c.id, SQB, now=T0 + timedelta(hours=5))
    assert (await case_row(w, c.id)).status == St.RESPONDED


# ---- 5. scoping of the list ------------------------------------------------------------------
async def test_supervisions_are_scoped(w: World) -> None:
    a = await open_case(w, "city.supervisor", [CGJ], now=at(10, 9))
    b = await open_case(
        w,
        "city.supervisor",
        [ZJJ],
        form=SupervisionForm.MEDIA,
        grounds=(Grounds.CURT_REPLY_PHONE_ONLY, Grounds.BUREAUCRATIC_OR_HOSTILE),
        now=at(11, 9),
    )
    c = await open_case(w, "shuyang.supervisor", [SHUYANG_CGJ], now=at(12, 9))
    d = await open_case(w, "siyang.supervisor", [SIYANG_CGJ], now=at(13, 9))
    e = await open_case(w, "shucheng.dispatcher", [SQB], now=at(14, 9))
    mine = {a.id, b.id, c.id, d.id, e.id}
    expected = {
        "city.supervisor": {a.id, b.id},
        "city.dispatcher": {a.id, b.id},
        "city.leader": {a.id, b.id},
        "shuyang.supervisor": {c.id},  # not the city's, not its township's
        "shuyang.dispatcher": {c.id},
        "siyang.supervisor": {d.id},
        "shucheng.dispatcher": {e.id},
        "cgj.handler": {a.id},  # only cases targeting its unit
        "shuyang.cgj.handler": {c.id},
        "siyang.cgj.handler": {d.id},
        "shucheng.sqb.handler": {e.id},
        "admin": set(),  # registry and centre admin: no supervision read
    }
    for who, ids in expected.items():
        assert await visible(w, who) & mine == ids, who
        assert {x for x in mine if await by_id(w, who, x) is not None} == ids, who
    # Whatever else a county sees (demo data) is its own.
    async with w.sessions() as s:
        page = await sq.list_cases(
            s, w.p("shuyang.supervisor").scope, sq.SupervisionFilter(), 100, None
        )
    assert {(x.centre_code == SHUYANG or x.escalated_to == SHUYANG) for x in page.items} == {True}

    # Filters (and a filter never widens the scope).
    sup = "city.supervisor"
    assert await visible(w, sup, form=SupervisionForm.MEDIA) & mine == {b.id}
    assert await visible(w, sup, grounds=(Grounds.LATE_WITHOUT_REASON,)) & mine == {a.id}
    assert await visible(
        w, sup, grounds=(Grounds.BUREAUCRATIC_OR_HOSTILE, Grounds.OTHER)
    ) & mine == {b.id}
    assert await visible(w, sup, unit_id=w.units[CGJ]) & mine == {a.id}
    assert await visible(w, sup, centre_code=SHUYANG) & mine == set()
    assert await visible(w, sup, unit_id=w.units[SHUYANG_CGJ]) & mine == set()
    assert await visible(w, sup, opened_from=at(11, 0), opened_to=at(12, 0)) & mine == {b.id}
    assert await visible(w, sup, opened_from=at(11, 9), opened_to=at(11, 9)) & mine == set()
    await close(w, sup, a.id)
    assert await visible(w, sup, status=St.CLOSED) & mine == {a.id}
    assert await visible(w, sup, status=St.OPEN) & mine == {b.id}

    # Unit.supervisions' loader: scoped the same way.
    async with w.sessions() as s:
        for who, want in (("city.supervisor", [a.id]), ("shuyang.supervisor", [])):
            rows = await sq.cases_by_unit(s, w.p(who).scope, [w.units[CGJ]])
            assert [x.id for x in rows[0] if x.id in mine] == want


async def test_supervisions_pages_newest_first(w: World) -> None:
    ids = [
        (await open_case(w, "siyang.supervisor", [SIYANG_CGJ], now=at(10, 9 + i))).id
        for i in range(5)
    ]
    scope = w.p("siyang.supervisor").scope
    seen: list[int] = []
    after = None
    async with w.sessions() as s:
        while True:
            page = await sq.list_cases(s, scope, sq.SupervisionFilter(), 2, after)
            seen += [c.id for c in page.items]
            if not page.has_next:
                break
            after = page.cursors[-1]
    assert [i for i in seen if i in ids] == ids[::-1]


# ---- 6. reminders ----------------------------------------------------------------------------
async def reminded(w: World) -> list[Event]:
    async with w.sessions() as s:
        rows = await s.execute(
            select(Event).where(Event.type == "supervision.reminded").order_by(Event.id)
        )
        return list(rows.scalars())


async def drain(w: World) -> None:
    """Any OPEN case already in the template (demo data) is reminded now, out of the way."""
    await ss.sweep_supervision(w.sessions, now=datetime(2099, 1, 1, tzinfo=TZ))


async def test_overdue_responses_are_reminded_exactly_once(w: World) -> None:
    await add_zjj_handler(w)
    await drain(w)
    known = len(await reminded(w))
    x = await open_case(w, "city.supervisor", lead=CGJ, co=[ZJJ])  # one of two responds
    y = await open_case(w, "city.supervisor", [CGJ])  # nobody responds
    z = await open_case(w, "city.supervisor", [ZJJ])  # closed before the deadline
    v = await open_case(w, "city.supervisor", [CGJ], deadline=DEADLINE + timedelta(days=2))
    r = await open_case(w, "city.supervisor", [ZJJ])  # responded
    await respond(w, "cgj.handler", x.id, CGJ)
    await respond(w, ZJJ_HANDLER, r.id, ZJJ)
    await close(w, "city.supervisor", z.id)

    assert await ss.sweep_supervision(w.sessions, now=DEADLINE - timedelta(minutes=1)) == 0
    assert await ss.sweep_supervision(w.sessions, now=DEADLINE) == 0  # the deadline itself
    assert await ss.sweep_supervision(w.sessions, now=DEADLINE + timedelta(minutes=1)) == 2
    assert await ss.sweep_supervision(w.sessions, now=DEADLINE + timedelta(hours=1)) == 0
    events = (await reminded(w))[known:]
    assert [(int(e.entity_id), e.after["missingUnitIds"]) for e in events if e.after] == [
        (x.id, [w.units[ZJJ]]),
        (y.id, [w.units[CGJ]]),
    ]
    assert all(e.actor == ss.SWEEPER for e in events)
    assert events[0].domains == sorted(
        [centre_domain(CITY), unit_domain(w.units[CGJ]), unit_domain(w.units[ZJJ])]
    )
    assert (await case_row(w, x.id)).reminded_at == DEADLINE + timedelta(minutes=1)
    # Still unanswered days later: no second reminder. The later deadline gets its own.
    assert await ss.sweep_supervision(w.sessions, now=DEADLINE + timedelta(days=3)) == 1
    assert [int(e.entity_id) for e in (await reminded(w))[known:]] == [x.id, y.id, v.id]
    assert await ss.sweep_supervision(w.sessions, now=DEADLINE + timedelta(days=9)) == 0


async def test_several_sweepers_remind_each_case_once(w: World, db_url: str) -> None:
    await drain(w)
    known = len(await reminded(w))
    ids = [
        (await open_case(w, "city.supervisor", [CGJ], now=T0 + timedelta(minutes=i))).id
        for i in range(24)
    ]
    engines = [make_engine(db_url, pool_size=2, max_overflow=0) for _ in range(3)]
    try:
        factories = [make_sessionmaker(e) for e in engines]
        now = DEADLINE + timedelta(minutes=5)
        counts = await asyncio.gather(
            *(ss.sweep_supervision(f, now=now, batch=3) for f in factories for _ in range(2))
        )
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 24
    per_case = Counter(int(e.entity_id) for e in (await reminded(w))[known:])
    assert per_case == Counter({i: 1 for i in ids})


async def test_the_sweeper_loop_reminds_supervision(w: World) -> None:
    await drain(w)
    known = len(await reminded(w))
    c = await open_case(w, "city.supervisor", [CGJ])
    stop = asyncio.Event()
    await asyncio.wait_for(
        run_forever(
            w.sessions,
            0.01,
            stop,
            clock=lambda: DEADLINE + timedelta(hours=1),
            on_sweep=lambda _r: stop.set(),
        ),
        timeout=20,
    )
    assert [int(e.entity_id) for e in (await reminded(w))[known:]] == [c.id]


def test_invalid_sweep_arguments() -> None:
    with pytest.raises(ValueError):
        asyncio.run(ss.sweep_supervision(None, now=datetime(2026, 11, 1)))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        asyncio.run(ss.sweep_supervision(None, now=T0, batch=0))  # type: ignore[arg-type]


# ---- 7. HTTP -----------------------------------------------------------------------------------
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


ERRORS = "errors { __typename code message field }"
CASE = """id status centreCode grounds form readOnly outcome
  units { role responded unitId unit { name } }
  tickets { id number }
  responses { content late unit { name } }"""
OPEN = f"""mutation($input: OpenSupervisionInput!) {{ openSupervision(input: $input) {{
  supervisionCase {{ {CASE} }} {ERRORS} }} }}"""
RESPOND = f"""mutation($input: RespondSupervisionInput!) {{ respondSupervision(input: $input) {{
  response {{ content doneAt late }} supervisionCase {{ id status }} {ERRORS} }} }}"""
CLOSE = f"""mutation($input: CloseSupervisionInput!) {{ closeSupervision(input: $input) {{
  supervisionCase {{ id status outcome outcomeNote readOnly }} {ERRORS} }} }}"""
LIST = """query($f: SupervisionFilter) { supervisions(filter: $f, first: 100) {
  totalCount nodes { id status readOnly } } }"""
ONE = "query($id: ID!) { supervisionCase(id: $id) { id status } node(id: $id) { id } }"
UNIT_CASES = "query($id: ID!) { unit(id: $id) { name supervisions { id status } } }"
TICKET_CASES = "query($id: ID!) { ticket(id: $id) { number supervisions { id status } } }"
HISTORY = "query($id: ID!) { supervisionCase(id: $id) { history { nodes { type actor } } } }"


def gid(type_name: str, key: int) -> str:
    return str(to_global_id(type_name, key))


async def test_open_respond_close_over_http(w: World, clients: Any) -> None:
    tid = await new_ticket(w)
    supervisor = await login(clients, "city.supervisor")
    handler = await login(clients, "cgj.handler")
    county = await login(clients, "shuyang.supervisor")
    cgj = gid("Unit", w.units[CGJ])
    deadline = (datetime.now(TZ) + timedelta(days=3)).isoformat()
    open_input = {
        "targetUnitIds": [cgj],
        "ticketIds": [gid("Ticket", tid)],
        "grounds": ["LATE_WITHOUT_REASON", "OTHER"],
        "form": "DAILY_ONLINE",
        "deadline": deadline,
        "note": "群众多次催办",
        "idempotencyKey": "open-1",
    }
    cases_before = await case_count(w)
    since = datetime.now(TZ).isoformat()  # the template's demo cases were opened before
    opened = (await supervisor.data(OPEN, {"input": open_input}))["openSupervision"]
    assert opened["errors"] == []
    case = opened["supervisionCase"]
    cid = case["id"]
    assert (case["status"], case["centreCode"], case["form"], case["readOnly"]) == (
        "OPEN",
        CITY,
        "DAILY_ONLINE",
        False,
    )
    assert case["grounds"] == ["LATE_WITHOUT_REASON", "OTHER"]
    assert case["units"] == [
        {"role": "TARGET", "responded": False, "unitId": cgj, "unit": {"name": CGJ}}
    ]
    assert [t["id"] for t in case["tickets"]] == [gid("Ticket", tid)]
    # The same key again: the same case, nothing new.
    again = (await supervisor.data(OPEN, {"input": open_input}))["openSupervision"]
    assert again == opened
    assert await case_count(w) == cases_before + 1

    # A county department: answered exactly as a unit that does not exist.
    refusals = []
    for unit in (gid("Unit", w.units[SHUYANG_CGJ]), gid("Unit", NO_SUCH_UNIT)):
        body = {**open_input, "targetUnitIds": [unit], "idempotencyKey": None}
        refusals.append((await supervisor.data(OPEN, {"input": body}))["openSupervision"])
    assert (
        refusals[0]
        == refusals[1]
        == {
            "supervisionCase": None,
            "errors": [
                {
                    "__typename": "NotFoundError",
                    "code": "NOT_FOUND",
                    "message": "unit not found",
                    "field": "targetUnitIds",
                }
            ],
        }
    )

    # The county sees nothing of it, by any road.
    assert (await county.data(ONE, {"id": cid})) == {"supervisionCase": None, "node": None}
    listed = await county.data(LIST, {"f": {"unitId": cgj}})
    assert listed["supervisions"] == {"totalCount": 0, "nodes": []}
    assert (await county.data(UNIT_CASES, {"id": cgj}))["unit"] is None

    # The unit sees it and responds.
    mine = await handler.data(LIST, {"f": {"unitId": cgj, "openedFrom": since}})
    assert [n["id"] for n in mine["supervisions"]["nodes"]] == [cid]
    assert mine["supervisions"]["nodes"][0]["readOnly"] is False
    unit_view = await handler.data(UNIT_CASES, {"id": cgj})
    assert {"id": cid, "status": "OPEN"} in unit_view["unit"]["supervisions"]
    done = datetime.now(TZ).replace(microsecond=0).isoformat()
    responded = (
        await handler.data(
            RESPOND,
            {
                "input": {
                    "caseId": cid,
                    "unitId": cgj,
                    "content": "已现场整改并回访",
                    "doneAt": done,
                }
            },
        )
    )["respondSupervision"]
    assert responded["errors"] == []
    assert responded["response"]["content"] == "已现场整改并回访"
    assert responded["response"]["late"] is False
    assert responded["supervisionCase"] == {"id": cid, "status": "RESPONDED"}
    # The supervisor cannot answer for the unit.
    wrong = (
        await supervisor.data(
            RESPOND,
            {"input": {"caseId": cid, "unitId": cgj, "content": "代答", "doneAt": done}},
        )
    )["respondSupervision"]
    assert [e["code"] for e in wrong["errors"]] == ["NOT_PERMITTED"]

    # The unit cannot close it; the county is told there is no such case; the supervisor closes.
    close_input = {"caseId": cid, "outcome": "RESOLVED", "note": "已办结"}
    no = (await handler.data(CLOSE, {"input": close_input}))["closeSupervision"]
    assert [e["__typename"] for e in no["errors"]] == ["NotPermittedError"]
    no = (await county.data(CLOSE, {"input": close_input}))["closeSupervision"]
    assert [(e["__typename"], e["field"]) for e in no["errors"]] == [("NotFoundError", "caseId")]
    closed = (await supervisor.data(CLOSE, {"input": close_input}))["closeSupervision"]
    assert closed == {
        "supervisionCase": {
            "id": cid,
            "status": "CLOSED",
            "outcome": "RESOLVED",
            "outcomeNote": "已办结",
            "readOnly": True,
        },
        "errors": [],
    }

    # Found through the ticket, the node interface, and its history.
    t = await supervisor.data(TICKET_CASES, {"id": gid("Ticket", tid)})
    assert t["ticket"]["supervisions"] == [{"id": cid, "status": "CLOSED"}]
    assert await supervisor.data(ONE, {"id": cid}) == {
        "supervisionCase": {"id": cid, "status": "CLOSED"},
        "node": {"id": cid},
    }
    history = (await supervisor.data(HISTORY, {"id": cid}))["supervisionCase"]["history"]
    assert [(n["type"], n["actor"]) for n in history["nodes"]] == [
        ("supervision.closed", "user:city.supervisor"),
        ("supervision.responded", "user:cgj.handler"),
        ("supervision.opened", "user:city.supervisor"),
    ]
    after_close = await handler.data(LIST, {"f": {"unitId": cgj, "status": "CLOSED"}})
    assert after_close["supervisions"]["nodes"] == [
        {"id": cid, "status": "CLOSED", "readOnly": True}
    ]


ESCALATE = f"""mutation($input: EscalateSupervisionInput!) {{ escalateSupervision(input: $input) {{
  supervisionCase {{ id escalatedToCode escalatedTo {{ code }} readOnly }} {ERRORS} }} }}"""


async def test_escalation_over_http(w: World, clients: Any) -> None:
    county = await login(clients, "shuyang.supervisor")
    city = await login(clients, "city.supervisor")
    unit = gid("Unit", w.units[SHUYANG_CGJ])
    deadline = (datetime.now(TZ) + timedelta(days=3)).isoformat()
    opened = (
        await county.data(
            OPEN,
            {
                "input": {
                    "targetUnitIds": [unit],
                    "grounds": ["DISPUTED_RESPONSIBILITY"],
                    "form": "SPECIAL_REPORT",
                    "deadline": deadline,
                }
            },
        )
    )["openSupervision"]
    assert opened["errors"] == []
    cid = opened["supervisionCase"]["id"]
    assert (await city.data(ONE, {"id": cid}))["supervisionCase"] is None
    # Before the report the city is told there is no such case.
    body = {"input": {"caseId": cid, "note": "专报市中心"}}
    no = (await city.data(ESCALATE, body))["escalateSupervision"]
    assert [(e["code"], e["field"]) for e in no["errors"]] == [("NOT_FOUND", "caseId")]
    done = (await county.data(ESCALATE, body))["escalateSupervision"]
    assert done == {
        "supervisionCase": {
            "id": cid,
            "escalatedToCode": CITY,
            "escalatedTo": {"code": CITY},
            "readOnly": False,
        },
        "errors": [],
    }
    seen = await city.data(LIST, {"f": {"escalatedTo": CITY}})
    assert {"id": cid, "status": "OPEN", "readOnly": True} in seen["supervisions"]["nodes"]
    close_input = {"caseId": cid, "outcome": "RESOLVED"}
    no = (await city.data(CLOSE, {"input": close_input}))["closeSupervision"]
    assert no["supervisionCase"] is None
    assert [e["__typename"] for e in no["errors"]] == ["NotPermittedError"]
    assert (await city.data(ONE, {"id": cid}))["supervisionCase"] == {"id": cid, "status": "OPEN"}


# The statement count of the list: constant in the page size (dataloaders, no N+1).
DEEP_LIST = """query($first: Int!, $f: SupervisionFilter!) {
 supervisions(first: $first, filter: $f) { nodes {
  id readOnly centre { name }
  units { role responded unit { name } }
  tickets { number }
  responses { content late }
} } }"""


async def test_supervision_list_statement_count_is_constant(
    w: World, clients: Any, statement_counter: StatementCounter
) -> None:
    await add_zjj_handler(w)
    tid = await new_ticket(w)
    for i in range(22):
        c = await open_case(
            w,
            "city.supervisor",
            lead=CGJ,
            co=[ZJJ] if i % 2 else [],
            form=SupervisionForm.MEDIA,
            tickets=[tid],
            now=T0 + timedelta(minutes=i),
        )
        if i % 3 == 0:
            await respond(w, "cgj.handler", c.id, CGJ)
    supervisor = await login(clients, "city.supervisor")
    # Only this test's cases (the template may hold demo cases too).
    f = {
        "form": "MEDIA",
        "openedFrom": T0.isoformat(),
        "openedTo": (T0 + timedelta(hours=1)).isoformat(),
    }
    await supervisor.data(DEEP_LIST, {"first": 3, "f": f})  # warm up
    counts: dict[int, list[str]] = {}
    for first in (5, 20):
        statement_counter.take()
        data = await supervisor.data(DEEP_LIST, {"first": first, "f": f})
        counts[first] = statement_counter.take()
        nodes = data["supervisions"]["nodes"]
        assert len(nodes) == first
        assert all(n["centre"]["name"] and n["tickets"] for n in nodes)
        assert {u["unit"]["name"] for n in nodes for u in n["units"]} == {CGJ, ZJJ}
        assert any(n["responses"] for n in nodes)
    assert len(counts[5]) == len(counts[20]), {k: len(v) for k, v in counts.items()}
    # Of these, the supervision tables are read five times whatever the page size: the count
    # and the page, then one batch each of target units, responses and linked tickets. (The
    # rest: the principal, the registry visibility, and one batch each of tickets, centres
    # and units.)
    own = [x for x in counts[20] if "supervision_" in x]
    assert len(own) == 5, "\n---\n".join(own)
