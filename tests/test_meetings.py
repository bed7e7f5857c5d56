"""Joint and special meetings (联席会议, 专项会议, regulation §5(3)4–5; issue #4).

1. The default participants of joint meetings: seeded once, set by the city's centre admin only.
2. Scheduling: a joint meeting is the city centre's; a special meeting gathers the convening
   centre's own members; refusals change nothing.
3. A decision on a disputed ticket: the disputed assignments end, the designated units receive
   it return-locked with the decided deadline; refusals (scope, principle, deadline, units,
   state) change nothing.
4. Reading: scoped in SQL (convening centre, participating or designated units), filters,
   pagination, ``ticket.meetingDecisions``.
5. Over HTTP, end to end, with the real clock; and the demo meeting of ``--demo``.

Domain calls pass explicit ``now=`` times in November 2026 (Asia/Shanghai): Monday 2026-11-16
09:00 is the dispatch time, the meeting is held on Tuesday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQLClient, StatementCounter
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.relay import to_global_id
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.calendar import TZ
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events import Event
from domain.registry import service as registry
from domain.registry.models import Unit
from domain.supervision import meetings as mq
from domain.supervision.models import (
    Meeting,
    MeetingDecision,
    MeetingDefaultParticipant,
    MeetingKind,
    MeetingParticipant,
    Principle,
)
from domain.tickets import service as ts
from domain.tickets.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Channel,
    Decision,
    ExtensionRequest,
    OriginLevel,
    ReturnRequest,
    Ticket,
    TicketStatus,
)
from domain.tickets.reply_rules import Outcome
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork
from seeds import run_seed
from seeds.demo_meetings import seed_demo_meetings

S = AssignmentStatus
CITY, SHUYANG = "3213", "321322"
CGJ = "市城管局"
ZJJ = "市住房城乡建设局"
WATER = "市水务集团"
JIWEI, BIANBAN, SIFA = "市纪委监委机关", "市委编办", "市司法局"
DEFAULTS = (JIWEI, BIANBAN, SIFA)
SY_CGJ, SY_ZJJ = "demo:shuyang-cgj", "demo:shuyang-zjj"  # 沭阳县's departments (seed keys)
ZJJ_HANDLER = "test.zjj.handler"
USERS = (
    "admin",
    "shuyang.admin",
    "city.dispatcher",
    "city.supervisor",
    "shuyang.dispatcher",
    "shuyang.supervisor",
    "siyang.supervisor",
    "cgj.handler",
    "shuyang.cgj.handler",
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026, Asia/Shanghai."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


T0 = at(16, 9)  # Monday: dispatch
SCHEDULED = at(16, 14)  # the meeting is called
HELD = at(17, 10)  # Tuesday: the meeting
DECIDED = at(17, 11)
DEADLINE = at(20, 18)  # Friday

RETURN = ts.ReturnInput(
    reason="雨水井属小区配套设施，不属本单位管理",
    basis="市政设施移交接收清单",
    suggested_unit="市城管局",
    verifier_name="张核实",
    verifier_phone="13900002222",
)


# ---- the world ---------------------------------------------------------------------------------
@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    uow: UnitOfWork
    people: dict[str, Principal]
    units: dict[str, int]

    def p(self, username: str) -> Principal:
        return self.people[username]

    def u(self, *names: str) -> list[int]:
        return [self.units[n] for n in names]


async def _units(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        city = (
            await s.execute(
                select(Unit.name, Unit.id).where(
                    Unit.member_of == CITY, Unit.name.in_([CGJ, ZJJ, WATER, *DEFAULTS])
                )
            )
        ).all()
        county = (
            await s.execute(
                select(Unit.seed_key, Unit.id).where(Unit.seed_key.in_([SY_CGJ, SY_ZJJ]))
            )
        ).all()
    units = {str(k): int(v) for k, v in [*city, *county]}
    assert len(units) == 8, units
    return units


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession],
    enforcer: PolicyEnforcer,
    uow: UnitOfWork,
    principal: Any,
) -> World:
    people = {u: await principal(u) for u in USERS}
    world = World(sessions, enforcer, uow, people, await _units(sessions))
    # 市住房城乡建设局 has no demo account: the city's admin adds a handler.
    await registry.create_staff(
        uow=uow,
        actor=world.p("admin"),
        username=ZJJ_HANDLER,
        display_name="住建局专人",
        password="yiwang-demo",
        unit_id=world.units[ZJJ],
        roles=["unit_handler"],
    )
    world.people[ZJJ_HANDLER] = await principal(ZJJ_HANDLER)
    return world


async def new_ticket(w: World, *, by: str = "city.dispatcher", centre: str = CITY) -> int:
    t = await ts.create_ticket(
        uow=w.uow,
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code="WS.DRAINAGE",
            title="小区门前雨水井堵塞积水",
            content="小区南门外道路雨水井堵塞，雨后积水数日不退。",
            complainant_phone="13812341234",
            received_at=T0 - timedelta(hours=1),
            centre_code=centre,
        ),
        now=T0 - timedelta(hours=1),
    )
    return t.id


async def assignment_of(w: World, ticket_id: int, unit: str, status: S) -> Assignment:
    async with w.sessions() as s:
        return (
            await s.execute(
                select(Assignment).where(
                    Assignment.ticket_id == ticket_id,
                    Assignment.unit_id == w.units[unit],
                    Assignment.status == status,
                )
            )
        ).scalar_one()


@dataclass
class Dispute:
    ticket: int
    zjj: int  # lead assignment
    cgj: int  # co-unit assignment


async def disputed(w: World) -> Dispute:
    """Dispatched to 市住房城乡建设局 (lead) and 市城管局 (co); both ask to return it."""
    t = await new_ticket(w)
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=t,
        lead_unit_id=w.units[ZJJ],
        co_unit_ids=[w.units[CGJ]],
        now=T0,
    )
    zjj = (await assignment_of(w, t, ZJJ, S.DISPATCHED)).id
    cgj = (await assignment_of(w, t, CGJ, S.DISPATCHED)).id
    await ts.request_return(
        uow=w.uow,
        actor=w.p(ZJJ_HANDLER),
        assignment_id=zjj,
        data=RETURN,
        now=T0 + timedelta(hours=1),
    )
    await ts.request_return(
        uow=w.uow,
        actor=w.p("cgj.handler"),
        assignment_id=cgj,
        data=RETURN,
        now=T0 + timedelta(hours=2),
    )
    return Dispute(t, zjj, cgj)


async def schedule(
    w: World,
    *,
    by: str = "city.supervisor",
    kind: MeetingKind = MeetingKind.JOINT,
    convened_by: str = CITY,
    participants: tuple[str, ...] = (ZJJ, CGJ),
    include_defaults: bool = True,
    tickets: tuple[int, ...] = (),
    held_at: datetime = HELD,
    agenda: str = "研判雨水井管理职责，明确办理单位",
    now: datetime = SCHEDULED,
) -> Meeting:
    return await mq.schedule_meeting(
        uow=w.uow,
        actor=w.p(by),
        data=mq.NewMeeting(
            kind=kind,
            convened_by=convened_by,
            held_at=held_at,
            agenda=agenda,
            participant_unit_ids=w.u(*participants),
            include_defaults=include_defaults,
            ticket_ids=tickets,
        ),
        now=now,
    )


async def decide(
    w: World,
    meeting: int,
    ticket: int,
    *,
    by: str = "city.supervisor",
    principle: Principle | str = Principle.WHO_ADMINISTERS,
    lead: str = CGJ,
    co: tuple[str, ...] = (WATER,),
    deadline: datetime | None = DEADLINE,
    note: str | None = "按谁主管、谁负责，由市城管局牵头疏通",
    now: datetime = DECIDED,
) -> MeetingDecision:
    return await mq.record_meeting_decision(
        uow=w.uow,
        actor=w.p(by),
        data=mq.NewDecision(
            meeting_id=meeting,
            ticket_id=ticket,
            principle=principle,
            lead_unit_id=w.units[lead],
            co_unit_ids=w.u(*co),
            deadline=deadline,
            note=note,
        ),
        now=now,
    )


_TABLES = (
    "meeting",
    "meeting_participant",
    "meeting_decision",
    "meeting_default_participant",
    "event",
    "assignment",
    "return_request",
    "extension_request",
)


async def snapshot(w: World) -> dict[str, Any]:
    """Everything a meeting use case could touch."""
    async with w.sessions() as s:
        out: dict[str, Any] = {}
        for table in _TABLES:
            out[table] = (await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        out["tickets"] = (
            await s.execute(text("SELECT id, status, due_at, version FROM ticket ORDER BY id"))
        ).all()
        out["assignments"] = (
            await s.execute(
                text(
                    "SELECT id, status, due_at, return_locked, version FROM assignment ORDER BY id"
                )
            )
        ).all()
        out["returns"] = (
            await s.execute(text("SELECT id, decision FROM return_request ORDER BY id"))
        ).all()
        out["defaults"] = (
            await s.execute(
                text("SELECT kind, unit_id FROM meeting_default_participant ORDER BY 1, 2")
            )
        ).all()
    return out


async def refused(w: World, error: type[DomainError], call: Any, field: str | None = None) -> None:
    """``call`` raises exactly ``error`` (on ``field``) and changes nothing."""
    before = await snapshot(w)
    with pytest.raises(DomainError) as info:
        await call
    assert type(info.value) is error, (type(info.value), info.value.message)
    if field is not None:
        assert info.value.field == field, info.value.message
    assert await snapshot(w) == before


async def participants(w: World, meeting_id: int) -> set[int]:
    async with w.sessions() as s:
        return set(
            (
                await s.execute(
                    select(MeetingParticipant.unit_id).where(
                        MeetingParticipant.meeting_id == meeting_id
                    )
                )
            ).scalars()
        )


async def events_since(w: World, since: int) -> list[Event]:
    async with w.sessions() as s:
        return list(
            (await s.execute(select(Event).where(Event.id > since).order_by(Event.id))).scalars()
        )


async def last_event(w: World) -> int:
    async with w.sessions() as s:
        return int((await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one())


# ---- 1. default participants -------------------------------------------------------------------
async def test_joint_defaults_are_seeded_and_a_reseed_changes_nothing(
    w: World, engine: AsyncEngine
) -> None:
    async with w.sessions() as s:
        rows = (
            await s.execute(
                select(MeetingDefaultParticipant.kind, Unit.name, Unit.member_of).join(
                    Unit, Unit.id == MeetingDefaultParticipant.unit_id
                )
            )
        ).all()
    assert sorted(rows) == sorted((MeetingKind.JOINT, n, CITY) for n in DEFAULTS)
    before = await snapshot(w)
    assert (await run_seed(engine, demo=True))["meeting_defaults"] == 0
    assert await snapshot(w) == before

    # The admin's list stands: a reseed does not bring 市司法局 back.
    assert await mq.set_meeting_defaults(
        uow=w.uow, actor=w.p("admin"), kind=MeetingKind.JOINT, unit_ids=w.u(JIWEI, BIANBAN)
    ) == sorted(w.u(JIWEI, BIANBAN))
    assert (await run_seed(engine, demo=True))["meeting_defaults"] == 0
    async with w.sessions() as s:
        assert await mq.default_participants(s, MeetingKind.JOINT) == sorted(w.u(JIWEI, BIANBAN))


async def test_only_the_city_centre_admin_sets_the_defaults(w: World) -> None:
    since = await last_event(w)
    for who in ("city.supervisor", "shuyang.admin", "city.dispatcher", "cgj.handler"):
        await refused(
            w,
            NotFound,
            mq.set_meeting_defaults(
                uow=w.uow, actor=w.p(who), kind=MeetingKind.JOINT, unit_ids=w.u(CGJ)
            ),
        )
    # Defaults are city members: a county department is not found.
    await refused(
        w,
        NotFound,
        mq.set_meeting_defaults(
            uow=w.uow, actor=w.p("admin"), kind=MeetingKind.JOINT, unit_ids=w.u(JIWEI, SY_CGJ)
        ),
        "unitIds",
    )
    assert await events_since(w, since) == []

    got = await mq.set_meeting_defaults(
        uow=w.uow, actor=w.p("admin"), kind=MeetingKind.JOINT, unit_ids=w.u(SIFA, WATER, WATER)
    )
    assert got == sorted(w.u(SIFA, WATER))
    [ev] = await events_since(w, since)
    assert (ev.type, ev.actor, ev.entity_type, ev.entity_id) == (
        "meeting.defaults_set",
        "user:admin",
        "meeting_defaults",
        "JOINT",
    )
    assert ev.before == {"kind": "JOINT", "unitIds": sorted(w.u(*DEFAULTS))}
    assert ev.after == {"kind": "JOINT", "unitIds": sorted(w.u(SIFA, WATER))}

    # A joint meeting now brings the new defaults; includeDefaults=false brings none.
    m = await schedule(w, participants=(ZJJ,))
    assert await participants(w, m.id) == set(w.u(ZJJ, SIFA, WATER))
    m = await schedule(w, participants=(ZJJ,), include_defaults=False)
    assert await participants(w, m.id) == set(w.u(ZJJ))
    # An empty list clears them.
    assert (
        await mq.set_meeting_defaults(
            uow=w.uow, actor=w.p("admin"), kind=MeetingKind.JOINT, unit_ids=[]
        )
        == []
    )
    m = await schedule(w, participants=(CGJ,))
    assert await participants(w, m.id) == set(w.u(CGJ))


# ---- 2. scheduling -----------------------------------------------------------------------------
async def test_a_joint_meeting_has_the_defaults_the_disputed_units_and_its_tickets(
    w: World,
) -> None:
    d = await disputed(w)
    since = await last_event(w)
    # The disputed units may be members of lower centres in a joint meeting.
    m = await schedule(w, participants=(ZJJ, CGJ, SY_CGJ), tickets=(d.ticket,))
    assert (m.kind, m.convened_by, m.held_at, m.created_by) == (
        MeetingKind.JOINT,
        CITY,
        HELD,
        "user:city.supervisor",
    )
    assert await participants(w, m.id) == set(w.u(*DEFAULTS, ZJJ, CGJ, SY_CGJ))
    scheduled, listed = await events_since(w, since)
    assert scheduled.type == "meeting.scheduled"
    assert scheduled.after is not None
    assert scheduled.after["ticketIds"] == [d.ticket]
    assert scheduled.after["participantUnitIds"] == sorted(w.u(*DEFAULTS, ZJJ, CGJ, SY_CGJ))
    assert (listed.type, listed.ticket_id, listed.entity_id) == (
        "meeting.ticket_listed",
        d.ticket,
        str(m.id),
    )
    async with w.sessions() as s:
        assert await mq.agenda_tickets(s, [m.id]) == [[d.ticket]]


async def test_a_county_cannot_convene_a_joint_meeting(w: World) -> None:
    sy = "shuyang.supervisor"
    # Its own centre: a joint meeting is the city's (§5(3)5).
    await refused(
        w,
        InvalidInput,
        schedule(w, by=sy, convened_by=SHUYANG, participants=(SY_CGJ, SY_ZJJ)),
        "convenedBy",
    )
    # The city centre: not its to convene at all.
    await refused(w, NotFound, schedule(w, by=sy, participants=(SY_CGJ,)), "convenedBy")
    await refused(
        w,
        NotFound,
        schedule(w, by=sy, kind=MeetingKind.SPECIAL, participants=(SY_CGJ,)),
        "convenedBy",
    )
    # A unit has no say either; an unknown centre is not found.
    await refused(w, NotFound, schedule(w, by="cgj.handler"), "convenedBy")
    await refused(w, NotFound, schedule(w, convened_by="999999"), "convenedBy")

    # A special meeting of 沭阳县 gathers its own members, never the city's.
    await refused(
        w,
        NotFound,
        schedule(
            w, by=sy, kind=MeetingKind.SPECIAL, convened_by=SHUYANG, participants=(SY_CGJ, CGJ)
        ),
        "participantUnitIds",
    )
    m = await schedule(
        w, by=sy, kind=MeetingKind.SPECIAL, convened_by=SHUYANG, participants=(SY_CGJ, SY_ZJJ)
    )
    assert (m.kind, m.convened_by) == (MeetingKind.SPECIAL, SHUYANG)
    assert await participants(w, m.id) == set(w.u(SY_CGJ, SY_ZJJ))
    # Nor does the city's special meeting reach a county's department.
    await refused(
        w,
        NotFound,
        schedule(w, kind=MeetingKind.SPECIAL, participants=(CGJ, SY_CGJ)),
        "participantUnitIds",
    )


async def test_scheduling_validates_its_input(w: World) -> None:
    sy_ticket = await new_ticket(w, by="shuyang.dispatcher", centre=SHUYANG)
    cases: list[tuple[type[DomainError], str, Any]] = [
        (InvalidInput, "agenda", schedule(w, agenda="  ")),
        (InvalidInput, "heldAt", schedule(w, held_at=datetime(2026, 11, 17, 10))),
        (InvalidInput, "heldAt", schedule(w, held_at=SCHEDULED - timedelta(days=91))),
        (InvalidInput, "heldAt", schedule(w, held_at=SCHEDULED + timedelta(days=400))),
        (InvalidInput, "participantUnitIds", schedule(w, participants=(), include_defaults=False)),
        # Tickets of the convening centre only.
        (NotFound, "ticketIds", schedule(w, tickets=(sy_ticket,))),
        (NotFound, "ticketIds", schedule(w, tickets=(10**12,))),
    ]
    for error, field, call in cases:
        await refused(w, error, call, field)
    await refused(
        w,
        NotFound,
        mq.schedule_meeting(
            uow=w.uow,
            actor=w.p("city.supervisor"),
            data=mq.NewMeeting(
                kind=MeetingKind.JOINT,
                convened_by=CITY,
                held_at=HELD,
                agenda="x",
                participant_unit_ids=[2**31 - 2],
            ),
            now=SCHEDULED,
        ),
        "participantUnitIds",
    )


# ---- 3. decisions ------------------------------------------------------------------------------
async def test_a_decision_dispatches_the_disputed_ticket_to_the_designated_units(
    w: World,
) -> None:
    d = await disputed(w)
    m = await schedule(w, tickets=(d.ticket,))
    since = await last_event(w)
    decision = await decide(w, m.id, d.ticket)
    assert (decision.principle, decision.lead_unit_id, decision.co_unit_ids) == (
        Principle.WHO_ADMINISTERS,
        w.units[CGJ],
        w.u(WATER),
    )
    assert (decision.deadline, decision.decided_by, decision.decided_at) == (
        DEADLINE,
        "user:city.supervisor",
        DECIDED,
    )

    async with w.sessions() as s:
        rows = list(
            (
                await s.execute(
                    select(Assignment)
                    .where(Assignment.ticket_id == d.ticket)
                    .order_by(Assignment.id)
                )
            ).scalars()
        )
        returns = list(
            (
                await s.execute(
                    select(ReturnRequest).where(ReturnRequest.assignment_id.in_([d.zjj, d.cgj]))
                )
            ).scalars()
        )
        ticket = await s.get(Ticket, d.ticket)
    # The disputed assignments end; their return requests are approved by the meeting.
    old = {a.id: a for a in rows if a.id in (d.zjj, d.cgj)}
    assert {a.status for a in old.values()} == {S.RETURNED}
    assert len(returns) == 2
    for rr in returns:
        assert (rr.decision, rr.decision_note, rr.decided_by, rr.decided_at) == (
            Decision.APPROVED,
            "decided by meeting",
            "user:city.supervisor",
            DECIDED,
        )
    # The designated units receive it: to sign, return-locked, with the decided deadline.
    new = [a for a in rows if a.id not in old]
    assert [(a.unit_id, a.role) for a in new] == [
        (w.units[CGJ], AssignmentRole.LEAD),
        (w.units[WATER], AssignmentRole.CO),
    ]
    for a in new:
        assert a.status == S.DISPATCHED
        assert a.return_locked is True
        assert a.due_at == DEADLINE
        assert a.return_by == DECIDED
        assert a.meeting_decision_id == decision.id
        assert a.centre_code == CITY
        assert (a.dispatched_at, a.dispatched_by) == (DECIDED, "user:city.supervisor")
    assert ticket is not None
    assert (ticket.status, ticket.due_at) == (TicketStatus.IN_PROGRESS, DEADLINE)

    # One transaction, with its events.
    evs = await events_since(w, since)
    assert [e.type for e in evs] == [
        "meeting.decision_recorded",
        "assignment.return_approved",
        "assignment.return_approved",
        "assignment.dispatched",
        "assignment.dispatched",
        "ticket.dispatched",
    ]
    assert {e.ticket_id for e in evs} == {d.ticket}
    assert {e.actor for e in evs} == {"user:city.supervisor"}
    assert evs[0].after is not None
    assert evs[0].after["principle"] == "WHO_ADMINISTERS"
    assert evs[-1].after is not None
    assert evs[-1].after["meetingDecisionId"] == decision.id

    # 市城管局 may not return it, neither before nor after signing for it.
    lead = new[0].id
    for step in ("before", "after"):
        await refused(
            w,
            InvalidTransition,
            ts.request_return(
                uow=w.uow,
                actor=w.p("cgj.handler"),
                assignment_id=lead,
                data=RETURN,
                now=DECIDED + timedelta(minutes=30),
            ),
        )
        if step == "before":
            await ts.sign_for(
                uow=w.uow,
                actor=w.p("cgj.handler"),
                assignment_id=lead,
                now=DECIDED + timedelta(minutes=20),
            )

    # Found through the ticket, and through the unit.
    async with w.sessions() as s:
        assert [x.id for x in (await mq.decisions_by_ticket(s, [d.ticket]))[0]] == [decision.id]
        cgj_scope = mq.meeting_scope(w.p("cgj.handler").scope)
        page = await mq.list_meetings(
            s, cgj_scope, mq.MeetingFilter(unit_id=w.units[CGJ], held_to=at(18, 0)), 10, None
        )
        assert [x.id for x in page.items] == [m.id]
        # 市水务集团 did not take part but was designated: its meetings include this one.
        page = await mq.list_meetings(
            s,
            mq.meeting_scope(w.p("city.supervisor").scope),
            mq.MeetingFilter(unit_id=w.units[WATER], held_to=at(18, 0)),
            10,
            None,
        )
        assert [x.id for x in page.items] == [m.id]


async def test_a_county_supervisor_cannot_decide_on_a_city_meeting(w: World) -> None:
    d = await disputed(w)
    m = await schedule(w, tickets=(d.ticket,))
    for who in ("shuyang.supervisor", "shuyang.dispatcher", "siyang.supervisor", "cgj.handler"):
        await refused(w, NotFound, decide(w, m.id, d.ticket, by=who), "meetingId")
    # Nor on its own meeting about the city's ticket.
    sy = await schedule(
        w,
        by="shuyang.supervisor",
        kind=MeetingKind.SPECIAL,
        convened_by=SHUYANG,
        participants=(SY_CGJ,),
    )
    await refused(
        w,
        NotFound,
        decide(w, sy.id, d.ticket, by="shuyang.supervisor", lead=SY_CGJ, co=()),
        "ticketId",
    )
    # The ticket still waits, disputed.
    assert (await assignment_of(w, d.ticket, ZJJ, S.RETURN_REQUESTED)).id == d.zjj


async def test_bad_decisions_are_refused_and_change_nothing(w: World) -> None:
    d = await disputed(w)
    m = await schedule(w, tickets=(d.ticket,))
    sy_ticket = await new_ticket(w, by="shuyang.dispatcher", centre=SHUYANG)
    cases: list[tuple[type[DomainError], str | None, Any]] = [
        (InvalidInput, "principle", decide(w, m.id, d.ticket, principle="WHO_PAYS")),
        (InvalidInput, "principle", decide(w, m.id, d.ticket, principle="who_administers")),
        (
            InvalidInput,
            "deadline",
            decide(w, m.id, d.ticket, deadline=DECIDED - timedelta(hours=1)),
        ),
        (InvalidInput, "deadline", decide(w, m.id, d.ticket, deadline=DECIDED)),
        (InvalidInput, "deadline", decide(w, m.id, d.ticket, deadline=datetime(2026, 11, 20, 18))),
        (InvalidInput, "deadline", decide(w, m.id, d.ticket, deadline=None)),
        (
            InvalidInput,
            "deadline",
            decide(w, m.id, d.ticket, deadline=at(17, 11) + timedelta(days=400)),
        ),
        (InvalidInput, "coUnitIds", decide(w, m.id, d.ticket, co=(WATER, CGJ))),
        (InvalidInput, "note", decide(w, m.id, d.ticket, note="长" * 501)),
        # Designated units are members of the ticket's centre.
        (NotFound, "leadUnitId", decide(w, m.id, d.ticket, lead=SY_CGJ)),
        (NotFound, "coUnitIds", decide(w, m.id, d.ticket, co=(SY_ZJJ,))),
        (NotFound, "ticketId", decide(w, m.id, sy_ticket)),
        (NotFound, "ticketId", decide(w, m.id, 10**12)),
        (NotFound, "meetingId", decide(w, 10**12, d.ticket)),
        # Not before the meeting is held.
        (InvalidTransition, None, decide(w, m.id, d.ticket, now=HELD - timedelta(hours=1))),
    ]
    for error, field, call in cases:
        await refused(w, error, call, field)
    # The meeting decides a ticket once.
    await decide(w, m.id, d.ticket)
    await refused(w, InvalidTransition, decide(w, m.id, d.ticket, lead=ZJJ, co=()))


async def test_a_ticket_whose_lead_is_replying_is_not_in_dispute(w: World) -> None:
    t = await new_ticket(w)
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=t,
        lead_unit_id=w.units[CGJ],
        co_unit_ids=[w.units[ZJJ]],
        now=T0,
    )
    lead = (await assignment_of(w, t, CGJ, S.DISPATCHED)).id
    await ts.sign_for(uow=w.uow, actor=w.p("cgj.handler"), assignment_id=lead, now=T0)
    await ts.draft_reply(
        uow=w.uow,
        actor=w.p("cgj.handler"),
        assignment_id=lead,
        data=ts.ReplyInput(handler_name="王城管", text="正在核实", outcome=Outcome.RESOLVED),
        now=T0 + timedelta(hours=1),
    )
    m = await schedule(w, tickets=(t,))
    await refused(w, InvalidTransition, decide(w, m.id, t, lead=ZJJ, co=()))


async def test_a_pending_extension_of_a_disputed_assignment_is_closed(w: World) -> None:
    t = await new_ticket(w)
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=t,
        lead_unit_id=w.units[CGJ],
        now=T0,
    )
    lead = (await assignment_of(w, t, CGJ, S.DISPATCHED)).id
    await ts.sign_for(uow=w.uow, actor=w.p("cgj.handler"), assignment_id=lead, now=T0)
    await ts.request_extension(
        uow=w.uow,
        actor=w.p("cgj.handler"),
        assignment_id=lead,
        reason="需协调多个部门",
        proposed_due=at(27, 18),
        now=T0 + timedelta(hours=1),
    )
    m = await schedule(w, tickets=(t,))
    since = await last_event(w)
    decision = await decide(w, m.id, t, lead=ZJJ, co=(CGJ,))
    async with w.sessions() as s:
        er = (
            await s.execute(select(ExtensionRequest).where(ExtensionRequest.assignment_id == lead))
        ).scalar_one()
        old = await s.get(Assignment, lead)
    assert (er.decision, er.decision_note) == (Decision.REJECTED, "decided by meeting")
    assert old is not None and old.status == S.RETURNED
    types = [e.type for e in await events_since(w, since)]
    assert types[:2] == ["meeting.decision_recorded", "assignment.withdrawn"]
    # 市城管局 holds it again, as a designated co-unit.
    again = await assignment_of(w, t, CGJ, S.DISPATCHED)
    assert (again.role, again.return_locked, again.meeting_decision_id) == (
        AssignmentRole.CO,
        True,
        decision.id,
    )


# ---- 4. reading --------------------------------------------------------------------------------
async def _ids(w: World, who: str, f: mq.MeetingFilter | None = None) -> list[int]:
    async with w.sessions() as s:
        page = await mq.list_meetings(
            s, mq.meeting_scope(w.p(who).scope), f or mq.MeetingFilter(), 50, None
        )
    return [m.id for m in page.items]


async def test_meetings_are_scoped_and_filtered(w: World) -> None:
    async with w.sessions() as s:
        demo = list((await s.execute(select(Meeting.id).where(Meeting.demo.is_(True)))).scalars())
    assert len(demo) == 1  # the demo joint meeting (the city's; 市城管局 designated)
    joint = await schedule(w, participants=(ZJJ,), held_at=at(17, 10))
    special = await schedule(
        w, kind=MeetingKind.SPECIAL, participants=(CGJ,), include_defaults=False, held_at=at(18, 9)
    )
    county = await schedule(
        w,
        by="shuyang.supervisor",
        kind=MeetingKind.SPECIAL,
        convened_by=SHUYANG,
        participants=(SY_CGJ,),
        held_at=at(19, 9),
    )
    # Latest held first; the demo meeting (held around the real clock) leads.
    assert await _ids(w, "city.supervisor") == [*demo, special.id, joint.id]
    assert await _ids(w, "city.dispatcher") == [*demo, special.id, joint.id]
    assert await _ids(w, "shuyang.supervisor") == [county.id]
    assert await _ids(w, "shuyang.cgj.handler") == [county.id]
    assert await _ids(w, "siyang.supervisor") == []
    # 市城管局 takes part in the special meeting and was designated by the demo one.
    assert await _ids(w, "cgj.handler") == [*demo, special.id]
    assert await _ids(w, ZJJ_HANDLER) == [*demo, joint.id]

    f = mq.MeetingFilter
    sup = "city.supervisor"
    assert await _ids(w, sup, f(kind=MeetingKind.SPECIAL)) == [special.id]
    assert await _ids(w, sup, f(convened_by=SHUYANG)) == []  # not the city's to read
    assert await _ids(w, sup, f(held_from=at(17, 0), held_to=at(18, 9))) == [joint.id]
    assert await _ids(w, sup, f(held_from=at(17, 0), held_to=at(19, 0))) == [special.id, joint.id]
    assert await _ids(w, sup, f(unit_id=w.units[ZJJ], held_to=at(20, 0))) == [joint.id]
    assert await _ids(w, sup, f(unit_id=w.units[JIWEI])) == [*demo, joint.id]

    # Keyset pagination, stable.
    async with w.sessions() as s:
        ms = mq.meeting_scope(w.p(sup).scope)
        p1 = await mq.list_meetings(s, ms, f(held_to=at(20, 0)), 1, None)
        p2 = await mq.list_meetings(s, ms, f(held_to=at(20, 0)), 1, p1.cursors[-1])
        p3 = await mq.list_meetings(s, ms, f(held_to=at(20, 0)), 1, p2.cursors[-1])
        assert [x.id for x in (*p1.items, *p2.items, *p3.items)] == [special.id, joint.id]
        assert (p1.total, p1.has_next, p2.has_next, p3.items) == (2, True, False, [])
        got = await mq.meetings_by_id(s, ms, [county.id, joint.id])
        assert [x and x.id for x in got] == [None, joint.id]


# ---- 5. over HTTP, and the demo ----------------------------------------------------------------
MEETING_FIELDS = """
  id kind convenedByCode heldAt agenda
  convenedBy { code }
  participants { name unit { name } }
  decisions { principle deadline note lead { name } coUnits { name } ticket { id } }
  tickets { id number }
"""


async def test_a_joint_meeting_over_http(w: World, client: GraphQLClient, new_client: Any) -> None:
    now = datetime.now(TZ)
    # The dispute, as the units made it (real clock).
    t = await new_ticket(w)
    await ts.dispatch_ticket(
        uow=w.uow,
        actor=w.p("city.dispatcher"),
        ticket_id=t,
        lead_unit_id=w.units[ZJJ],
        co_unit_ids=[w.units[CGJ]],
    )
    for unit, who in ((ZJJ, ZJJ_HANDLER), (CGJ, "cgj.handler")):
        a = await assignment_of(w, t, unit, S.DISPATCHED)
        await ts.request_return(uow=w.uow, actor=w.p(who), assignment_id=a.id, data=RETURN)
    tid = to_global_id("Ticket", t)
    gid = {n: to_global_id("Unit", w.units[n]) for n in (ZJJ, CGJ, WATER)}

    await client.login("city.supervisor")
    body = await client.data(
        "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) {"
        f" meeting {{ {MEETING_FIELDS} }} errors {{ code message field }} }} }}",
        {
            "i": {
                "kind": "JOINT",
                "convenedBy": CITY,
                "heldAt": (now - timedelta(hours=1)).isoformat(),
                "participantUnitIds": [gid[ZJJ], gid[CGJ]],
                "agenda": "研判雨水井管理职责",
                "ticketIds": [tid],
                "idempotencyKey": "joint-1",
            }
        },
    )
    payload = body["scheduleMeeting"]
    assert payload["errors"] == []
    meeting = payload["meeting"]
    assert {p["name"] for p in meeting["participants"]} == {*DEFAULTS, ZJJ, CGJ}
    assert (meeting["kind"], meeting["convenedByCode"], meeting["convenedBy"]) == (
        "JOINT",
        CITY,
        {"code": CITY},
    )
    assert [x["id"] for x in meeting["tickets"]] == [tid]
    assert meeting["decisions"] == []

    decide_q = (
        "mutation($i: RecordMeetingDecisionInput!) { recordMeetingDecision(input: $i) {"
        " decision { principle deadline lead { name } coUnits { name } meeting { id } }"
        " ticket { id status dueAt } errors { code field } } }"
    )
    deadline = (now + timedelta(days=5)).replace(microsecond=0)
    good = {
        "meetingId": meeting["id"],
        "ticketId": tid,
        "principle": "WHO_ADMINISTERS",
        "leadUnitId": gid[CGJ],
        "coUnitIds": [gid[WATER]],
        "deadline": deadline.isoformat(),
        "note": "由市城管局牵头疏通",
    }
    county = new_client()
    await county.login("shuyang.supervisor")
    before = await snapshot(w)
    # A principle outside the regulation's is not even valid input; a past deadline is refused.
    bad = await client.execute(decide_q, {"i": {**good, "principle": "WHO_PAYS"}})
    assert bad["errors"] and bad.get("data") is None
    past = await client.data(
        decide_q, {"i": {**good, "deadline": (now - timedelta(hours=1)).isoformat()}}
    )
    assert past["recordMeetingDecision"]["errors"] == [
        {"code": "INVALID_INPUT", "field": "deadline"}
    ]
    assert past["recordMeetingDecision"]["decision"] is None
    # A county supervisor: not found.
    other = await county.data(decide_q, {"i": good})
    assert other["recordMeetingDecision"]["errors"] == [{"code": "NOT_FOUND", "field": "meetingId"}]
    assert await snapshot(w) == before

    done = (await client.data(decide_q, {"i": good}))["recordMeetingDecision"]
    assert done["errors"] == []
    assert done["decision"]["principle"] == "WHO_ADMINISTERS"
    assert done["decision"]["lead"] == {"name": CGJ}
    assert done["decision"]["coUnits"] == [{"name": WATER}]
    assert done["decision"]["meeting"] == {"id": meeting["id"]}
    assert datetime.fromisoformat(done["decision"]["deadline"]) == deadline
    assert done["ticket"]["status"] == "IN_PROGRESS"
    assert datetime.fromisoformat(done["ticket"]["dueAt"]) == deadline

    # 市城管局 receives it: to sign, return-locked, with the decided deadline …
    cgj = new_client()
    await cgj.login("cgj.handler")
    work = await cgj.data(
        "{ myAssignments(filter: {kind: TO_SIGN}, first: 100) { nodes {"
        " id role returnLocked ticket { id } deadlines { dueAt } } } }"
    )
    [mine] = [a for a in work["myAssignments"]["nodes"] if a["ticket"]["id"] == tid]
    assert (mine["role"], mine["returnLocked"]) == ("LEAD", True)
    assert datetime.fromisoformat(mine["deadlines"]["dueAt"]) == deadline
    # … and cannot return it.
    refused_return = await cgj.data(
        "mutation($i: RequestReturnInput!) { requestReturn(input: $i) {"
        " assignment { status } errors { code } } }",
        {
            "i": {
                "assignmentId": mine["id"],
                "reason": RETURN.reason,
                "basis": RETURN.basis,
                "suggestedUnit": RETURN.suggested_unit,
                "verifierName": RETURN.verifier_name,
                "verifierPhone": RETURN.verifier_phone,
            }
        },
    )
    assert refused_return["requestReturn"] == {
        "assignment": None,
        "errors": [{"code": "INVALID_TRANSITION"}],
    }

    # The meeting is found through meetings(filter: {unitId}) and through the ticket.
    found = await cgj.data(
        "query($u: ID!) { meetings(filter: {unitId: $u, kind: JOINT}) { totalCount"
        f" nodes {{ {MEETING_FIELDS} }} }} }}",
        {"u": gid[CGJ]},
    )
    ids = [x["id"] for x in found["meetings"]["nodes"]]
    assert meeting["id"] in ids
    [seen] = [x for x in found["meetings"]["nodes"] if x["id"] == meeting["id"]]
    assert [(x["principle"], x["lead"]["name"], x["ticket"]["id"]) for x in seen["decisions"]] == [
        ("WHO_ADMINISTERS", CGJ, tid)
    ]
    assert [x["id"] for x in seen["tickets"]] == [tid]
    via_ticket = await cgj.data(
        "query($t: ID!) { ticket(id: $t) { meetingDecisions {"
        " principle note deadline lead { name } coUnits { name } meeting { id kind } } } }",
        {"t": tid},
    )
    [via] = via_ticket["ticket"]["meetingDecisions"]
    assert datetime.fromisoformat(via.pop("deadline")) == deadline
    assert [via] == [
        {
            "principle": "WHO_ADMINISTERS",
            "note": "由市城管局牵头疏通",
            "lead": {"name": CGJ},
            "coUnits": [{"name": WATER}],
            "meeting": {"id": meeting["id"], "kind": "JOINT"},
        }
    ]
    # The county sees neither the city's meeting nor its decision.
    assert (await county.data("query($id: ID!) { node(id: $id) { id } }", {"id": meeting["id"]}))[
        "node"
    ] is None
    listed = await county.data("{ meetings { totalCount nodes { id } } }")
    assert meeting["id"] not in [x["id"] for x in listed["meetings"]["nodes"]]
    # node() resolves it for the city.
    node = await client.data(
        "query($id: ID!) { node(id: $id) { ... on Meeting { id kind } } }", {"id": meeting["id"]}
    )
    assert node["node"] == {"id": meeting["id"], "kind": "JOINT"}

    # A replayed idempotency key returns the first meeting and schedules nothing.
    async with w.sessions() as s:
        n = (await s.execute(select(func.count()).select_from(Meeting))).scalar_one()
    again = await client.data(
        "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) {"
        " meeting { id } errors { code } } }",
        {
            "i": {
                "kind": "JOINT",
                "convenedBy": CITY,
                "heldAt": (now - timedelta(hours=1)).isoformat(),
                "agenda": "研判雨水井管理职责",
                "idempotencyKey": "joint-1",
            }
        },
    )
    assert again["scheduleMeeting"] == {"meeting": {"id": meeting["id"]}, "errors": []}
    async with w.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Meeting))).scalar_one() == n


async def test_a_county_cannot_convene_a_joint_meeting_over_http(
    w: World, client: GraphQLClient
) -> None:
    await client.login("shuyang.supervisor")
    q = (
        "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) {"
        " meeting { id } errors { __typename code field } } }"
    )
    base = {
        "kind": "JOINT",
        "heldAt": datetime.now(TZ).isoformat(),
        "participantUnitIds": [to_global_id("Unit", w.units[SY_CGJ])],
        "agenda": "研判",
    }
    before = await snapshot(w)
    own = await client.data(q, {"i": {**base, "convenedBy": SHUYANG}})
    assert own["scheduleMeeting"] == {
        "meeting": None,
        "errors": [
            {"__typename": "InvalidInputError", "code": "INVALID_INPUT", "field": "convenedBy"}
        ],
    }
    city = await client.data(q, {"i": {**base, "convenedBy": CITY}})
    assert city["scheduleMeeting"]["errors"] == [
        {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "convenedBy"}
    ]
    assert await snapshot(w) == before


async def test_the_demo_joint_meeting(w: World, engine: AsyncEngine) -> None:
    async with w.sessions() as s:
        [m] = (await s.execute(select(Meeting).where(Meeting.demo.is_(True)))).scalars().all()
        [d] = (
            (await s.execute(select(MeetingDecision).where(MeetingDecision.meeting_id == m.id)))
            .scalars()
            .all()
        )
        ticket = await s.get(Ticket, d.ticket_id)
        rows = list(
            (
                await s.execute(
                    select(Assignment)
                    .where(Assignment.ticket_id == d.ticket_id)
                    .order_by(Assignment.id)
                )
            ).scalars()
        )
        listed = (
            (
                await s.execute(
                    select(Event.type)
                    .where(Event.ticket_id == d.ticket_id, Event.type.like("meeting.%"))
                    .order_by(Event.id)
                )
            )
            .scalars()
            .all()
        )
    assert (m.kind, m.convened_by) == (MeetingKind.JOINT, CITY)
    assert await participants(w, m.id) >= set(w.u(*DEFAULTS, CGJ, ZJJ))
    assert ticket is not None and ticket.demo
    assert (ticket.status, ticket.due_at) == (TicketStatus.IN_PROGRESS, d.deadline)
    assert d.lead_unit_id == w.units[CGJ]
    assert [a.status for a in rows[:2]] == [S.RETURNED, S.RETURNED]
    designated = [a for a in rows if a.meeting_decision_id == d.id]
    assert [(a.unit_id, a.role, a.status, a.return_locked) for a in designated] == [
        (w.units[CGJ], AssignmentRole.LEAD, S.DISPATCHED, True),
        (w.units[ZJJ], AssignmentRole.CO, S.DISPATCHED, True),
    ]
    assert list(listed) == ["meeting.ticket_listed", "meeting.decision_recorded"]
    # cgj.handler finds it among its unit's meetings.
    assert m.id in await _ids(w, "cgj.handler", mq.MeetingFilter(unit_id=w.units[CGJ]))
    # Made once.
    before = await snapshot(w)
    assert await seed_demo_meetings(engine) == 0
    assert (await run_seed(engine, demo=True))["demo_meetings"] == 0
    assert await snapshot(w) == before


async def test_the_demo_meeting_seeded_after_2026_keeps_its_deadlines_in_2026(
    w: World, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE meeting SET demo = false"))
    assert await seed_demo_meetings(engine, now=datetime(2027, 3, 1, 9, 0, tzinfo=TZ)) == 1
    async with w.sessions() as s:
        [m] = (await s.execute(select(Meeting).where(Meeting.demo.is_(True)))).scalars().all()
        [d] = (
            (await s.execute(select(MeetingDecision).where(MeetingDecision.meeting_id == m.id)))
            .scalars()
            .all()
        )
        rows = (
            (await s.execute(select(Assignment).where(Assignment.ticket_id == d.ticket_id)))
            .scalars()
            .all()
        )
    assert d.deadline < datetime(2027, 1, 1, tzinfo=TZ)
    for a in rows:
        assert max(a.sign_by, a.return_by, a.due_at) < datetime(2027, 1, 1, tzinfo=TZ)


# Each loader is asked by one parent only (decisions' tickets would race the agenda's tickets
# for the same batch, so they are left out here): the count is then exact.
DEEP_MEETINGS = """query($first: Int!) {
  meetings(first: $first, filter: {heldTo: "2026-11-18T00:00:00+08:00"}) { nodes {
    id kind convenedBy { code }
    participants { name unit { name } }
    decisions { principle lead { name } coUnits { name } }
    tickets { id number }
  } }
}"""
# One batch each for the meetings' parts, however many meetings (the rest: the principal, its
# visibility, centres, units and tickets, as for any list).
MEETING_BATCHES = {
    "FROM meeting_participant": 1,
    "FROM meeting_decision": 2,  # the decisions; the agenda's decided tickets
    "FROM event": 1,  # the agenda's listed tickets
    "SELECT unit.id, unit.name \nFROM unit": 1,  # the decisions' unit names
    "FROM ticket": 1,
}


async def test_the_meeting_list_statement_count_is_constant(
    w: World, client: GraphQLClient, statement_counter: StatementCounter
) -> None:
    for i in range(6):
        t = await new_ticket(w)
        m = await schedule(w, tickets=(t,), held_at=HELD + timedelta(minutes=i))
        if i % 2 == 0:
            await decide(w, m.id, t, now=HELD + timedelta(hours=1))
    await client.login("city.supervisor")
    await client.data(DEEP_MEETINGS, {"first": 2})  # warm up
    counts = {}
    for first in (2, 6):
        statement_counter.take()
        data = await client.data(DEEP_MEETINGS, {"first": first})
        counts[first] = statement_counter.take()
        nodes = data["meetings"]["nodes"]
        assert len(nodes) == first
        assert all(len(n["participants"]) == 5 and len(n["tickets"]) == 1 for n in nodes)
        assert sum(len(n["decisions"]) for n in nodes) == first // 2
    assert len(counts[2]) == len(counts[6]), "\n---\n".join(counts[6])
    for needle, n in MEETING_BATCHES.items():
        assert len([x for x in counts[6] if needle in x]) == n, (needle, counts[6])
