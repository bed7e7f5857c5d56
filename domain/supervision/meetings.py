"""Joint meetings (联席会议) and special meetings (专项会议): regulation §5(3)4–5.

A **joint meeting** is convened by the city centre only, with 市纪委监委机关, 市委编办 and 市司法局
by default (a configurable list per kind, editable per meeting) plus the units in dispute, which
may be members of lower centres. A **special meeting** is convened by any centre among its own
members.

A meeting's **decision** settles a disputed ticket by one of the regulation's principles and
dispatches it to the designated lead and co-units with the decided deadline: the disputed
assignments (to sign, return requested, handling) end as RETURNED, pending return requests are
approved "decided by meeting", and the designated units receive return-locked assignments — a
unit so designated may not return it (§5(3)5 界定工作职责，明确办理单位). One transaction, with
its events.

Authorization: ``("meeting", "manage")`` on the convening centre (its supervisors and
dispatchers); anything else is reported as not found. Reading: meetings convened by centres the
viewer reads meetings of (``("meeting", "read")``), or in which one of the viewer's units takes
part or is designated — filtered in SQL.

The tickets a meeting is scheduled to discuss are recorded as ``meeting.ticket_listed`` events
(entity ``meeting``, with the ticket): they show in each ticket's history, and the meeting's
``tickets`` are those plus the tickets it decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope, centre_domain, centre_obj, unit_domain, unit_obj
from domain import events
from domain.accounts import Principal
from domain.errors import Conflict, InvalidInput, NotFound
from domain.events import Event
from domain.inputs import aware_now as _now
from domain.inputs import clean_text as _text
from domain.loading import by_key, grouped
from domain.pagination import Page, time_page
from domain.registry.models import Centre, Unit
from domain.supervision.models import (
    Meeting,
    MeetingDecision,
    MeetingDefaultParticipant,
    MeetingKind,
    MeetingParticipant,
    Principle,
)
from domain.tickets import service as ts
from domain.tickets import workflow as wf
from domain.tickets.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Decision,
    ExtensionRequest,
    ReturnRequest,
    Ticket,
    TicketStatus,
)
from domain.uow import UnitOfWork

__all__ = [
    "DECIDED_BY_MEETING",
    "DISPUTED",
    "MeetingFilter",
    "MeetingScope",
    "NewDecision",
    "NewMeeting",
    "agenda_tickets",
    "decisions_by_meeting",
    "decisions_by_ticket",
    "default_participants",
    "list_meetings",
    "meeting_scope",
    "meetings_by_id",
    "participants_by_meeting",
    "record_meeting_decision",
    "schedule_meeting",
    "set_meeting_defaults",
    "unit_names",
]

S = AssignmentStatus
# The assignments a meeting settles: not yet replying (to sign, return asked for, handling).
DISPUTED = frozenset({S.DISPATCHED, S.RETURN_REQUESTED, S.HANDLING})
DECIDED_BY_MEETING = "decided by meeting"
AGENDA_MAX = 5000
NOTE_MAX = 500  # the note travels with the new assignments (Assignment.note: 500)
MAX_PARTICIPANTS = 100
MAX_TICKETS = 100
HELD_PAST_LIMIT = timedelta(days=90)  # recording a meeting already held
HELD_FUTURE_LIMIT = timedelta(days=366)
DEADLINE_LIMIT = timedelta(days=366)
TOLERANCE = timedelta(minutes=5)
TICKET_LISTED = "meeting.ticket_listed"
DEFAULTS_LOCK = 0x4D454554  # pg_advisory_xact_lock key ("MEET") for the defaults of a kind


# ---- helpers -----------------------------------------------------------------------------------


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{field} must carry a time zone", field=field)
    return value


async def _root(s: AsyncSession) -> str:
    return str(
        (await s.execute(select(Centre.code).where(Centre.parent_code.is_(None)))).scalar_one()
    )


def _may_manage(uow: UnitOfWork, actor: Principal, centre_code: str) -> bool:
    return uow.enforcer.allowed(actor.subject, "meeting", centre_obj(centre_code), "manage")


def meeting_snapshot(m: Meeting, participants: Sequence[int]) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind.value,
        "convenedBy": m.convened_by,
        "heldAt": m.held_at.isoformat(),
        "agenda": m.agenda,
        "participantUnitIds": sorted(participants),
    }


def decision_snapshot(d: MeetingDecision) -> dict[str, Any]:
    return {
        "id": d.id,
        "meetingId": d.meeting_id,
        "ticketId": d.ticket_id,
        "principle": d.principle.value,
        "leadUnitId": d.lead_unit_id,
        "coUnitIds": list(d.co_unit_ids),
        "deadline": d.deadline.isoformat(),
        "note": d.note,
    }


async def default_participants(s: AsyncSession, kind: MeetingKind) -> list[int]:
    rows = await s.execute(
        select(MeetingDefaultParticipant.unit_id)
        .where(MeetingDefaultParticipant.kind == kind)
        .order_by(MeetingDefaultParticipant.unit_id)
    )
    return list(rows.scalars())


# ---- defaults (the city's centre admin) --------------------------------------------------------
async def set_meeting_defaults(
    *, uow: UnitOfWork, actor: Principal, kind: MeetingKind, unit_ids: Sequence[int]
) -> list[int]:
    """Replace the units invited to every meeting of ``kind`` by default (city members only).

    City-wide reference data, like the routing rules: only ``("routing", "manage")`` on the root
    centre (the city's centre admin) may change it; anyone else is told "not found".
    """
    kind = MeetingKind(kind)
    wanted = list(dict.fromkeys(unit_ids))
    if len(wanted) > MAX_PARTICIPANTS:
        raise InvalidInput(f"at most {MAX_PARTICIPANTS} units", field="unitIds")
    async with uow:
        s = uow.session
        root = await _root(s)
        if not uow.enforcer.allowed(actor.subject, "routing", centre_obj(root), "manage"):
            raise NotFound("meeting defaults not found")
        for uid in wanted:
            unit = await s.get(Unit, uid)
            if unit is None or not uow.enforcer.has_member(unit_obj(uid), centre_domain(root)):
                raise NotFound("unit not found", field="unitIds")
            if not unit.active:
                raise InvalidInput(f"{unit.name} is deactivated", field="unitIds")
        # Serialise concurrent changes of the same kind's list.
        await s.execute(
            select(func.pg_advisory_xact_lock(DEFAULTS_LOCK, list(MeetingKind).index(kind)))
        )
        before = await default_participants(s, kind)
        dropped = delete(MeetingDefaultParticipant).where(MeetingDefaultParticipant.kind == kind)
        if wanted:
            dropped = dropped.where(MeetingDefaultParticipant.unit_id.not_in(wanted))
        await s.execute(dropped)
        if wanted:
            await s.execute(
                insert(MeetingDefaultParticipant)
                .values([{"kind": kind, "unit_id": uid} for uid in wanted])
                .on_conflict_do_nothing(index_elements=["kind", "unit_id"])
            )
        after = await default_participants(s, kind)
        await events.record(
            s,
            type="meeting.defaults_set",
            actor=actor.subject,
            entity_type="meeting_defaults",
            entity_id=kind.value,
            before={"kind": kind.value, "unitIds": before},
            after={"kind": kind.value, "unitIds": after},
            domains=[centre_domain(root)],
        )
        await uow.commit()
        return after


# ---- scheduling --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewMeeting:
    kind: MeetingKind
    convened_by: str
    held_at: datetime
    agenda: str
    participant_unit_ids: Sequence[int] = ()
    include_defaults: bool = True
    ticket_ids: Sequence[int] = ()
    demo: bool = False  # demo data (seeds --demo)


async def schedule_meeting(
    *, uow: UnitOfWork, actor: Principal, data: NewMeeting, now: datetime | None = None
) -> Meeting:
    """Convene a meeting: the defaults of its kind (unless left out), the given participants
    and the tickets it will discuss."""
    now = _now(now)
    kind = MeetingKind(data.kind)
    agenda = _text(data.agenda, "agenda", AGENDA_MAX, required=True)
    held_at = _aware(data.held_at, "heldAt")
    if held_at < now - HELD_PAST_LIMIT:
        raise InvalidInput("heldAt is more than 90 days ago", field="heldAt")
    if held_at > now + HELD_FUTURE_LIMIT:
        raise InvalidInput("heldAt is more than a year ahead", field="heldAt")
    given = list(dict.fromkeys(data.participant_unit_ids))
    ticket_ids = list(dict.fromkeys(data.ticket_ids))
    if len(given) > MAX_PARTICIPANTS:
        raise InvalidInput(f"at most {MAX_PARTICIPANTS} participants", field="participantUnitIds")
    if len(ticket_ids) > MAX_TICKETS:
        raise InvalidInput(f"at most {MAX_TICKETS} tickets", field="ticketIds")
    async with uow:
        s = uow.session
        centre = await s.get(Centre, data.convened_by) if data.convened_by else None
        if centre is None or not _may_manage(uow, actor, centre.code):
            raise NotFound("centre not found", field="convenedBy")
        root = await _root(s)
        if kind == MeetingKind.JOINT and centre.code != root:
            raise InvalidInput(
                "a joint meeting (联席会议) is convened by the city centre (§5(3)5)",
                field="convenedBy",
            )
        members_of = centre_domain(centre.code)
        participants: list[int] = []
        for uid in given:
            unit = await s.get(Unit, uid)
            # A joint meeting may bring in any unit (the disputed ones may be members of lower
            # centres); a special meeting gathers the convening centre's own members.
            if unit is None or (
                kind == MeetingKind.SPECIAL
                and not uow.enforcer.has_member(unit_obj(uid), members_of)
            ):
                raise NotFound("unit not found", field="participantUnitIds")
            if not unit.active:
                raise InvalidInput(f"{unit.name} is deactivated", field="participantUnitIds")
            participants.append(uid)
        if data.include_defaults:
            for uid in await default_participants(s, kind):
                unit = await s.get(Unit, uid)
                if uid in participants or unit is None or not unit.active:
                    continue
                if kind == MeetingKind.SPECIAL and not uow.enforcer.has_member(
                    unit_obj(uid), members_of
                ):
                    continue  # a default of the city's special meetings, not of this centre's
                participants.append(uid)
        if not participants:
            raise InvalidInput(
                "a meeting needs at least one participant", field="participantUnitIds"
            )
        tickets: list[Ticket] = []
        for tid in ticket_ids:
            t = await s.get(Ticket, tid)
            # The convening centre's own tickets (the ones it can dispatch by a decision).
            if t is None or t.centre_code != centre.code:
                raise NotFound("ticket not found", field="ticketIds")
            tickets.append(t)
        meeting = Meeting(
            kind=kind,
            convened_by=centre.code,
            held_at=held_at,
            agenda=agenda,
            created_by=actor.subject,
            demo=data.demo,
        )
        s.add(meeting)
        await s.flush()
        s.add_all(MeetingParticipant(meeting_id=meeting.id, unit_id=u) for u in participants)
        await s.flush()
        await events.record(
            s,
            type="meeting.scheduled",
            actor=actor.subject,
            entity_type="meeting",
            entity_id=meeting.id,
            before=None,
            after={**meeting_snapshot(meeting, participants), "ticketIds": ticket_ids},
            domains=[members_of, *(unit_domain(u) for u in participants)],
        )
        for t in tickets:
            await events.record(
                s,
                type=TICKET_LISTED,
                actor=actor.subject,
                entity_type="meeting",
                entity_id=meeting.id,
                before=None,
                after={"meetingId": meeting.id, "ticketId": t.id, "kind": kind.value},
                domains=[centre_domain(t.centre_code), members_of],
                ticket_id=t.id,
            )
        await uow.commit(result=("Meeting", meeting.id))
        return meeting


# ---- decisions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewDecision:
    meeting_id: int
    ticket_id: int
    principle: Principle | str
    lead_unit_id: int
    co_unit_ids: Sequence[int] = ()
    deadline: datetime | None = None
    note: str | None = None


def _principle(value: Principle | str) -> Principle:
    try:
        return Principle(value)
    except ValueError:
        raise InvalidInput(
            "principle must be one of " + ", ".join(p.value for p in Principle), field="principle"
        ) from None


async def record_meeting_decision(
    *, uow: UnitOfWork, actor: Principal, data: NewDecision, now: datetime | None = None
) -> MeetingDecision:
    """Settle a disputed ticket: the designated units receive it, return-locked, with the
    decided deadline; the disputed assignments end as RETURNED."""
    now = _now(now)
    principle = _principle(data.principle)
    if data.deadline is None:
        raise InvalidInput("deadline is required", field="deadline")
    deadline = _aware(data.deadline, "deadline")
    if deadline <= now:
        raise InvalidInput("deadline must be in the future", field="deadline")
    if deadline > now + DEADLINE_LIMIT:
        raise InvalidInput("deadline is more than a year ahead", field="deadline")
    note = _text(data.note, "note", NOTE_MAX, required=False)
    co = list(dict.fromkeys(data.co_unit_ids))
    if data.lead_unit_id in co:
        raise InvalidInput("the lead unit cannot also be a co-unit", field="coUnitIds")
    if len(co) > MAX_PARTICIPANTS:
        raise InvalidInput(f"at most {MAX_PARTICIPANTS} co-units", field="coUnitIds")
    async with uow:
        s = uow.session
        meeting = await s.get(Meeting, data.meeting_id)
        if meeting is None or not _may_manage(uow, actor, meeting.convened_by):
            raise NotFound("meeting not found", field="meetingId")
        if meeting.held_at > now + TOLERANCE:
            raise wf.InvalidTransition("the meeting has not been held yet")
        # Lock order as in the ticket use cases: the ticket, then its assignments.
        t = (
            await s.execute(select(Ticket).where(Ticket.id == data.ticket_id).with_for_update())
        ).scalar_one_or_none()
        if t is None or t.centre_code != meeting.convened_by:
            raise NotFound("ticket not found", field="ticketId")
        if t.status not in (TicketStatus.NEW, TicketStatus.IN_PROGRESS):
            raise wf.InvalidTransition(
                f"a {t.status.value.lower()} ticket is not in dispute: it cannot be decided"
            )
        already = (
            await s.execute(
                select(MeetingDecision.id).where(
                    MeetingDecision.meeting_id == meeting.id, MeetingDecision.ticket_id == t.id
                )
            )
        ).scalar_one_or_none()
        if already is not None:
            raise wf.InvalidTransition("this meeting has already decided this ticket")
        units: list[Unit] = []
        for uid in [data.lead_unit_id, *co]:
            field = "leadUnitId" if uid == data.lead_unit_id else "coUnitIds"
            unit = await s.get(Unit, uid)
            if unit is None or not uow.enforcer.has_member(
                unit_obj(uid), centre_domain(t.centre_code)
            ):
                raise NotFound("unit not found", field=field)
            if not unit.active:
                raise InvalidInput(f"{unit.name} is deactivated", field=field)
            units.append(unit)

        active = list(
            (
                await s.execute(
                    select(Assignment)
                    .where(Assignment.ticket_id == t.id, Assignment.status.in_(wf.ACTIVE))
                    .order_by(Assignment.id)
                    .with_for_update()
                )
            ).scalars()
        )
        ending = [a for a in active if a.status in DISPUTED]
        staying = [a for a in active if a.status not in DISPUTED]
        ended_ids = {a.id for a in ending}
        if any(a.parent_id in ended_ids for a in staying):
            raise wf.InvalidTransition(
                "a lower hop of a disputed assignment is already replying: settle it there first"
            )
        if any(a.role == AssignmentRole.LEAD and a.parent_id is None for a in staying):
            raise wf.InvalidTransition(
                "the ticket's lead unit is already replying: the ticket is not in dispute"
            )
        held = {a.unit_id for a in staying if a.centre_code == t.centre_code}
        for i, unit in enumerate(units):
            if unit.id in held:
                raise InvalidInput(
                    f"{unit.name} already holds this ticket",
                    field="leadUnitId" if i == 0 else "coUnitIds",
                )
        limits = await ts.limits_for(s, t.channel, t.urgency)
        calendar = await ts.load_calendar(s)

        decision = MeetingDecision(
            meeting_id=meeting.id,
            ticket_id=t.id,
            principle=principle,
            lead_unit_id=units[0].id,
            co_unit_ids=[u.id for u in units[1:]],
            deadline=deadline,
            note=note,
            decided_by=actor.subject,
            decided_at=now,
        )
        s.add(decision)
        try:
            await s.flush()
        except IntegrityError:
            raise Conflict("this meeting has just decided this ticket") from None
        ended_units = [a.unit_id for a in ending]
        await events.record(
            s,
            type="meeting.decision_recorded",
            actor=actor.subject,
            entity_type="meeting_decision",
            entity_id=decision.id,
            before=None,
            after=decision_snapshot(decision),
            domains=[
                centre_domain(t.centre_code),
                centre_domain(meeting.convened_by),
                *(unit_domain(u.id) for u in units),
                *(unit_domain(u) for u in ended_units),
            ],
            ticket_id=t.id,
        )

        # The disputed assignments end: not these units' (any more).
        for a in ending:
            before = ts.assignment_snapshot(a)
            extra: dict[str, Any] = {"meetingDecisionId": decision.id, "note": DECIDED_BY_MEETING}
            if a.status == S.RETURN_REQUESTED:
                rr = (
                    await s.execute(
                        select(ReturnRequest)
                        .where(
                            ReturnRequest.assignment_id == a.id, ReturnRequest.decision.is_(None)
                        )
                        .with_for_update()
                    )
                ).scalar_one_or_none()
                if rr is not None:
                    rr.decision = Decision.APPROVED
                    rr.decision_note = DECIDED_BY_MEETING
                    rr.decided_by = actor.subject
                    rr.decided_at = now
                    extra["returnRequestId"] = rr.id
            for er in (
                await s.execute(
                    select(ExtensionRequest)
                    .where(
                        ExtensionRequest.assignment_id == a.id, ExtensionRequest.decision.is_(None)
                    )
                    .with_for_update()
                )
            ).scalars():
                # The assignment ends: a pending extension has nothing left to extend.
                er.decision = Decision.REJECTED
                er.decision_note = DECIDED_BY_MEETING
                er.decided_by = actor.subject
                er.decided_at = now
            a.status = S.RETURNED
            await s.flush()
            await ts._record(
                s,
                actor.subject,
                "assignment.return_approved"
                if "returnRequestId" in extra
                else "assignment.withdrawn",
                t,
                assignment=a,
                before=before,
                after={**ts.assignment_snapshot(a), **extra},
            )

        # The designated units receive it, with the decided deadline, and may not return it.
        t_before = ts.ticket_snapshot(t)
        created: list[Assignment] = []
        for i, unit in enumerate(units):
            a = await ts._new_assignment(
                uow,
                ticket=t,
                unit=unit,
                role=AssignmentRole.LEAD if i == 0 else AssignmentRole.CO,
                actor=actor.subject,
                now=now,
                note=note,
                limits=limits,
                calendar=calendar,
                due_at=deadline,
                return_locked=True,
                centre_code=t.centre_code,
            )
            a.meeting_decision_id = decision.id
            created.append(a)
        t.status = TicketStatus.IN_PROGRESS
        t.due_at = deadline
        await s.flush()
        await ts._record(
            s,
            actor.subject,
            "ticket.dispatched",
            t,
            before=t_before,
            after={
                **ts.ticket_snapshot(t),
                "meetingDecisionId": decision.id,
                "assignmentIds": [a.id for a in created],
            },
            extra_units=[u.id for u in units],
        )
        await uow.commit(result=("MeetingDecision", decision.id))
        return decision


# ---- read side ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeetingScope:
    """Centres whose meetings the viewer reads, and the viewer's units (participants)."""

    centres: frozenset[str]
    units: frozenset[int]


def meeting_scope(scope: Scope) -> MeetingScope:
    return MeetingScope(
        centres=scope.centres_for("meeting", "read"), units=scope.units_for("meeting", "read")
    )


def _involves(units: Sequence[int] | frozenset[int]) -> ColumnElement[bool]:
    """The meeting has one of these units as a participant or as a designated unit."""
    ids = list(units)
    return or_(
        exists().where(
            MeetingParticipant.meeting_id == Meeting.id, MeetingParticipant.unit_id.in_(ids)
        ),
        exists().where(
            MeetingDecision.meeting_id == Meeting.id,
            or_(
                MeetingDecision.lead_unit_id.in_(ids),
                MeetingDecision.co_unit_ids.overlap(ids),
            ),
        ),
    )


def meeting_filter(ms: MeetingScope) -> ColumnElement[bool]:
    conds: list[ColumnElement[bool]] = []
    if ms.centres:
        conds.append(Meeting.convened_by.in_(ms.centres))
    if ms.units:
        conds.append(_involves(ms.units))
    return or_(*conds) if conds else false()


@dataclass(frozen=True)
class MeetingFilter:
    kind: MeetingKind | None = None
    convened_by: str | None = None
    held_from: datetime | None = None
    held_to: datetime | None = None
    unit_id: int | None = None


async def list_meetings(
    session: AsyncSession, ms: MeetingScope, f: MeetingFilter, first: int, after: str | None
) -> Page[Meeting]:
    """Meetings in the viewer's scope, latest held first (keyset on held_at, id)."""
    q = select(Meeting).where(meeting_filter(ms))
    if f.kind is not None:
        q = q.where(Meeting.kind == f.kind)
    if f.convened_by is not None:
        q = q.where(Meeting.convened_by == f.convened_by)
    if f.held_from is not None:
        q = q.where(Meeting.held_at >= _aware(f.held_from, "heldFrom"))
    if f.held_to is not None:
        q = q.where(Meeting.held_at < _aware(f.held_to, "heldTo"))
    if f.unit_id is not None:
        q = q.where(_involves([f.unit_id]))
    return await time_page(
        session,
        q,
        Meeting.held_at,
        Meeting.id,
        first,
        after,
        time_of=lambda m: m.held_at,
        descending=True,
    )


async def meetings_by_id(
    session: AsyncSession, ms: MeetingScope, ids: Sequence[int]
) -> list[Meeting | None]:
    rows = await session.execute(
        select(Meeting).where(Meeting.id.in_(set(ids)), meeting_filter(ms))
    )
    return by_key(rows.scalars(), lambda m: m.id, ids)


async def participants_by_meeting(
    session: AsyncSession, meeting_ids: Sequence[int]
) -> list[list[tuple[int, str]]]:
    """(unit id, unit name) of each meeting's participants: names are public registry data."""
    rows = await session.execute(
        select(MeetingParticipant.meeting_id, Unit.id, Unit.name)
        .join(Unit, Unit.id == MeetingParticipant.unit_id)
        .where(MeetingParticipant.meeting_id.in_(set(meeting_ids)))
        .order_by(MeetingParticipant.meeting_id, Unit.id)
    )
    groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for mid, uid, name in rows.all():
        groups[mid].append((uid, name))
    return [groups.get(i, []) for i in meeting_ids]


async def decisions_by_meeting(
    session: AsyncSession, meeting_ids: Sequence[int]
) -> list[list[MeetingDecision]]:
    rows = await session.execute(
        select(MeetingDecision)
        .where(MeetingDecision.meeting_id.in_(set(meeting_ids)))
        .order_by(MeetingDecision.id)
    )
    return grouped(rows.scalars(), lambda d: d.meeting_id, meeting_ids)


async def decisions_by_ticket(
    session: AsyncSession, ticket_ids: Sequence[int]
) -> list[list[MeetingDecision]]:
    """Every decision on these tickets (callers have already checked the tickets' visibility)."""
    rows = await session.execute(
        select(MeetingDecision)
        .where(MeetingDecision.ticket_id.in_(set(ticket_ids)))
        .order_by(MeetingDecision.id)
    )
    return grouped(rows.scalars(), lambda d: d.ticket_id, ticket_ids)


async def agenda_tickets(session: AsyncSession, meeting_ids: Sequence[int]) -> list[list[int]]:
    """The tickets of each meeting: those listed when it was scheduled, then those decided."""
    keys = {str(i) for i in meeting_ids}
    listed = await session.execute(
        select(Event.entity_id, Event.ticket_id)
        .where(
            Event.entity_type == "meeting",
            Event.entity_id.in_(keys),
            Event.type == TICKET_LISTED,
        )
        .order_by(Event.id)
    )
    decided = await session.execute(
        select(MeetingDecision.meeting_id, MeetingDecision.ticket_id)
        .where(MeetingDecision.meeting_id.in_(set(meeting_ids)))
        .order_by(MeetingDecision.id)
    )
    groups: dict[int, dict[int, None]] = defaultdict(dict)
    for key, listed_id in listed.all():
        if listed_id is not None:
            groups[int(key)][int(listed_id)] = None
    for mid, tid in decided.all():
        groups[mid][tid] = None
    return [list(groups.get(i, {})) for i in meeting_ids]


async def unit_names(session: AsyncSession, ids: Sequence[int]) -> list[str | None]:
    """Unit names (public registry data from the appendix) for meeting participants."""
    rows = await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(set(ids))))
    found: dict[int, str] = {uid: name for uid, name in rows.all()}
    return [found.get(i) for i in ids]
