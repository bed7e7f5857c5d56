"""Ticket use cases (§3, §4): each loads, checks, changes, records its event and commits once.

Every transition is its own function; there is no writable status. Object-level authorization
happens here, after the object is loaded (only then is its centre or unit known); a refusal is
reported exactly like a missing object.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, centre_obj, face_obj, unit_domain, unit_obj
from domain import events
from domain.accounts import Principal
from domain.analysis.linking import link_new_ticket
from domain.calendar import TZ, LimitUnit, TimeLimit, WorkCalendar
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.inputs import aware_now as _now
from domain.inputs import clean_text as _text
from domain.partners.service import check_partner_channel
from domain.registry.models import Centre, Unit
from domain.tickets import workflow as wf
from domain.tickets.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    CalendarDay,
    Callback,
    Category,
    Channel,
    Decision,
    ExtensionRequest,
    OriginLevel,
    Reply,
    ReplyStatus,
    ReturnRequest,
    Ticket,
    TicketStatus,
    TimeLimitRule,
    Urgency,
    ticket_number_seq,
)
from domain.tickets.reply_rules import (
    FINAL_REPLY_WORDING,
    LintFinding,
    Outcome,
    ReplyContent,
    Satisfaction,
    lint_reply,
    missing_elements,
    normalise,
)
from domain.uow import UnitOfWork

S = AssignmentStatus
PHONE_RE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")
FUTURE_TOLERANCE = timedelta(minutes=5)


# ---- snapshots -------------------------------------------------------------------------------
def ticket_snapshot(t: Ticket) -> dict[str, Any]:
    # No complainant name or phone: personal data never goes into the event log.
    return {
        "id": t.id,
        "number": t.number,
        "status": t.status.value,
        "channel": t.channel.value,
        "originLevel": t.origin_level.value,
        "category": t.category_code,
        "urgency": t.urgency.value,
        "centre": t.centre_code,
        "dueAt": t.due_at.isoformat() if t.due_at else None,
        "redoCount": t.redo_count,
    }


def assignment_snapshot(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "ticketId": a.ticket_id,
        "unitId": a.unit_id,
        "role": a.role.value,
        "status": a.status.value,
        "signBy": a.sign_by.isoformat(),
        "returnBy": a.return_by.isoformat(),
        "dueAt": a.due_at.isoformat(),
        "signedLate": a.signed_late,
        "deemedAccepted": a.deemed_accepted,
        "returnLocked": a.return_locked,
        "redoCount": a.redo_count,
        "overdue": a.overdue,
    }


def _domains(ticket: Ticket, *unit_ids: int) -> list[str]:
    return [centre_domain(ticket.centre_code), *(unit_domain(u) for u in unit_ids)]


async def _record(
    s: AsyncSession,
    actor: str,
    type_: str,
    ticket: Ticket,
    *,
    assignment: Assignment | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    extra_units: Sequence[int] = (),
    extra_domains: Sequence[str] = (),
) -> None:
    units = [assignment.unit_id] if assignment else []
    # Tagged with every centre concerned: the ticket's, and the one that dispatched this
    # assignment (a lower centre below a referral), so each level's subscribers see it.
    centres = [centre_domain(assignment.centre_code)] if assignment else []
    await events.record(
        s,
        type=type_,
        actor=actor,
        entity_type="assignment" if assignment else "ticket",
        entity_id=assignment.id if assignment else ticket.id,
        before=before,
        after=after,
        domains=[*_domains(ticket, *units, *extra_units), *centres, *extra_domains],
        ticket_id=ticket.id,
    )


# ---- calendar and limits ---------------------------------------------------------------------
async def load_calendar(s: AsyncSession) -> WorkCalendar:
    rows = (await s.execute(select(CalendarDay.day, CalendarDay.is_workday))).all()
    return WorkCalendar({d: w for d, w in rows})


async def calendar_coverage(s: AsyncSession, today: date) -> dict[str, Any]:
    """Whether this year and the next have working-day data (library or administrator)."""
    cal = await load_calendar(s)
    return {
        "year": today.year,
        "yearCovered": cal.covers(today.year),
        "nextYear": today.year + 1,
        "nextYearCovered": cal.covers(today.year + 1),
    }


@dataclass(frozen=True)
class Limits:
    sign_for: TimeLimit
    handle: TimeLimit
    return_window: TimeLimit


async def limits_for(s: AsyncSession, channel: Channel, urgency: Urgency) -> Limits:
    row = await s.get(TimeLimitRule, (channel, urgency))
    if row is None:
        raise InvalidInput(
            f"no time limits are configured for {channel.value}/{urgency.value}", field="channel"
        )
    return Limits(
        sign_for=TimeLimit(row.sign_for_amount, LimitUnit(row.sign_for_unit)),
        handle=TimeLimit(row.handle_amount, LimitUnit(row.handle_unit)),
        return_window=TimeLimit(row.return_window_amount, LimitUnit(row.return_window_unit)),
    )


# ---- authorization helpers -------------------------------------------------------------------
def _centre_may(uow: UnitOfWork, actor: Principal, centre_code: str, action: str) -> bool:
    return uow.enforcer.allowed(actor.subject, "ticket", centre_obj(centre_code), action)


def _unit_may(uow: UnitOfWork, actor: Principal, unit_id: int, kind: str, action: str) -> bool:
    """The unit's own staff, or — for the unit that stands for a lower centre (a referral hop)
    — that centre's dispatchers acting for it (object face:<unit>, §3(2) 转办)."""
    if uow.enforcer.allowed(actor.subject, kind, unit_obj(unit_id), action):
        return True
    hop_action = "approve" if action == "approve_final" else action
    return kind in ("assignment", "reply") and uow.enforcer.allowed(
        actor.subject, "hop", face_obj(unit_id), hop_action
    )


async def _ticket_for_update(uow: UnitOfWork, ticket_id: int) -> Ticket:
    t = (
        await uow.session.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    ).scalar_one_or_none()
    if t is None:
        raise NotFound("ticket not found")
    return t


async def _centre_ticket(uow: UnitOfWork, actor: Principal, ticket_id: int, action: str) -> Ticket:
    """A ticket the actor's centre may act on (else: not found)."""
    t = await _ticket_for_update(uow, ticket_id)
    if not _centre_may(uow, actor, t.centre_code, action):
        raise NotFound("ticket not found")
    if t.status == TicketStatus.ARCHIVED:
        raise wf.InvalidTransition("the ticket is archived and read-only")
    return t


async def _assignment_for_update(uow: UnitOfWork, assignment_id: int) -> tuple[Assignment, Ticket]:
    """Lock the ticket first, then the assignment: every use case takes locks in that order
    (ticket before its assignments), so two of them can never deadlock."""
    ticket_id = (
        await uow.session.execute(
            select(Assignment.ticket_id).where(Assignment.id == assignment_id)
        )
    ).scalar_one_or_none()
    if ticket_id is None:
        raise NotFound("assignment not found")
    t = await _ticket_for_update(uow, ticket_id)
    a = (
        await uow.session.execute(
            select(Assignment).where(Assignment.id == assignment_id).with_for_update()
        )
    ).scalar_one()
    return a, t


async def _unit_assignment(
    uow: UnitOfWork, actor: Principal, assignment_id: int, kind: str, action: str
) -> tuple[Assignment, Ticket]:
    """An assignment of a unit the actor works for, with that permission (else: not found)."""
    a, t = await _assignment_for_update(uow, assignment_id)
    if not _unit_may(uow, actor, a.unit_id, kind, action):
        if _unit_may(uow, actor, a.unit_id, "ticket", "read"):
            raise NotPermitted(f"your role in this unit may not {kind} {action}")
        raise NotFound("assignment not found")
    if t.status == TicketStatus.ARCHIVED:
        raise wf.InvalidTransition("the ticket is archived and read-only")
    return a, t


async def _centre_assignment(
    uow: UnitOfWork, actor: Principal, assignment_id: int, action: str
) -> tuple[Assignment, Ticket]:
    """An assignment the actor's centre dispatched (its own members' work), else not found."""
    a, t = await _assignment_for_update(uow, assignment_id)
    if not _centre_may(uow, actor, a.centre_code, action):
        raise NotFound("assignment not found")
    if t.status == TicketStatus.ARCHIVED:
        raise wf.InvalidTransition("the ticket is archived and read-only")
    return a, t


# ---- intake (§3(1)) --------------------------------------------------------------------------
@dataclass(frozen=True)
class NewTicket:
    channel: Channel
    origin_level: OriginLevel
    category_code: str
    title: str
    content: str
    urgency: Urgency = Urgency.NORMAL
    address: str | None = None
    division_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    complainant_name: str | None = None
    complainant_phone: str | None = None
    anonymous: bool = False
    received_at: datetime | None = None
    centre_code: str | None = None
    demo: bool = False  # demo data (seeds --demo), marked in the same transaction


async def create_ticket(
    *, uow: UnitOfWork, actor: Principal, data: NewTicket, now: datetime | None = None
) -> Ticket:
    now = _now(now)
    title = _text(data.title, "title", 200, required=True)
    content = _text(data.content, "content", 20_000, required=True)
    address = _text(data.address, "address", 300, required=False)
    name = _text(data.complainant_name, "complainantName", 100, required=False)
    phone = _text(data.complainant_phone, "complainantPhone", 32, required=False)
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidInput("complainantPhone must be digits", field="complainantPhone")
    if not data.anonymous and not (name or phone):
        raise InvalidInput(
            "a ticket that is not anonymous needs the complainant's name or phone",
            field="complainantPhone",
        )
    received = data.received_at or now
    if received.tzinfo is None:
        raise InvalidInput("receivedAt must carry a time zone", field="receivedAt")
    if received > now + FUTURE_TOLERANCE:
        raise InvalidInput("receivedAt is in the future", field="receivedAt")
    if data.latitude is not None and not -90 <= data.latitude <= 90:
        raise InvalidInput("latitude out of range", field="latitude")
    if data.longitude is not None and not -180 <= data.longitude <= 180:
        raise InvalidInput("longitude out of range", field="longitude")
    candidates = sorted(actor.scope.centres_for("ticket", "create"))
    centre_code = data.centre_code or (candidates[0] if len(candidates) == 1 else None)
    if centre_code is None:
        raise InvalidInput(
            "give centreCode: you may create tickets in " + ", ".join(candidates or ["no centre"]),
            field="centreCode",
        )
    async with uow:
        s = uow.session
        if not _centre_may(uow, actor, centre_code, "create"):
            raise NotFound("centre not found")
        await check_partner_channel(s, actor.subject, data.channel)
        category = await s.get(Category, data.category_code)
        if category is None or not category.active:
            raise InvalidInput(f"unknown category {data.category_code}", field="categoryCode")
        if data.division_code is not None:
            known = (
                await s.execute(
                    select(func.count())
                    .select_from(Centre)
                    .where(
                        (Centre.division_code == data.division_code)
                        | (Centre.code == data.division_code)
                    )
                )
            ).scalar_one()
            if not known:
                raise InvalidInput(f"unknown division {data.division_code}", field="divisionCode")
        seq = (await s.execute(select(ticket_number_seq.next_value()))).scalar_one()
        local = received.astimezone(TZ)
        ticket = Ticket(
            number=f"SQ-{local:%Y%m%d}-{seq:06d}",
            channel=data.channel,
            origin_level=data.origin_level,
            category_code=data.category_code,
            title=title,
            content=content,
            address=address,
            division_code=data.division_code,
            latitude=data.latitude,
            longitude=data.longitude,
            urgency=data.urgency,
            complainant_name=name,
            complainant_phone=phone,
            anonymous=data.anonymous,
            received_at=received,
            centre_code=centre_code,
            status=TicketStatus.NEW,
            created_by=actor.subject,
            demo=data.demo,
        )
        s.add(ticket)
        await s.flush()
        await _record(s, actor.subject, "ticket.created", ticket, after=ticket_snapshot(ticket))
        # §4(5)6: linked to earlier tickets on the same matter before anyone dispatches it.
        await link_new_ticket(s, ticket, actor=actor.subject, now=now)
        await uow.commit(result=("Ticket", ticket.id))
        return ticket


# ---- dispatch (§3(2)) ------------------------------------------------------------------------
async def _new_assignment(
    uow: UnitOfWork,
    *,
    ticket: Ticket,
    unit: Unit,
    role: AssignmentRole,
    actor: str,
    now: datetime,
    note: str | None,
    limits: Limits,
    calendar: WorkCalendar,
    due_at: datetime | None = None,
    return_locked: bool = False,
    centre_code: str | None = None,
    parent_id: int | None = None,
) -> Assignment:
    a = Assignment(
        ticket_id=ticket.id,
        unit_id=unit.id,
        role=role,
        centre_code=centre_code or ticket.centre_code,
        parent_id=parent_id,
        status=S.DISPATCHED,
        dispatched_at=now,
        dispatched_by=actor,
        note=note,
        sign_by=calendar.add(now, limits.sign_for),
        return_by=now if return_locked else calendar.add(now, limits.return_window),
        due_at=due_at or calendar.add(now, limits.handle),
        return_locked=return_locked,
    )
    uow.session.add(a)
    await uow.session.flush()
    await _record(
        uow.session,
        actor,
        "assignment.dispatched",
        ticket,
        assignment=a,
        after=assignment_snapshot(a),
    )
    return a


async def dispatch_ticket(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    lead_unit_id: int,
    co_unit_ids: Sequence[int] = (),
    note: str | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Give the ticket to one lead unit and any co-units, members of the ticket's centre."""
    now = _now(now)
    note = _text(note, "note", 500, required=False)
    co = list(dict.fromkeys(co_unit_ids))
    if lead_unit_id in co:
        raise InvalidInput("the lead unit cannot also be a co-unit", field="coUnitIds")
    async with uow:
        s = uow.session
        t = await _centre_ticket(uow, actor, ticket_id, "dispatch")
        if t.status not in (TicketStatus.NEW, TicketStatus.IN_PROGRESS):
            raise wf.InvalidTransition(f"cannot dispatch a {t.status.value.lower()} ticket")
        active = (
            (
                await s.execute(
                    select(Assignment).where(
                        Assignment.ticket_id == t.id,
                        Assignment.parent_id.is_(None),
                        Assignment.status.in_(wf.ACTIVE),
                    )
                )
            )
            .scalars()
            .all()
        )
        if any(a.role == AssignmentRole.LEAD for a in active):
            raise wf.InvalidTransition("the ticket already has an active lead unit")
        busy = {a.unit_id for a in active}
        units: list[Unit] = []
        for uid in [lead_unit_id, *co]:
            field_name = "leadUnitId" if uid == lead_unit_id else "coUnitIds"
            unit = await s.get(Unit, uid)
            # Only members of the ticket's centre (the policy's membership mirror decides).
            if unit is None or not uow.enforcer.has_member(
                unit_obj(uid), centre_domain(t.centre_code)
            ):
                raise NotFound(
                    "unit not found", field="leadUnitId" if uid == lead_unit_id else "coUnitIds"
                )
            if not unit.active:
                raise InvalidInput(f"{unit.name} is deactivated", field=field_name)
            if uid in busy:
                raise InvalidInput(f"{unit.name} already holds this ticket", field=field_name)
            units.append(unit)
        if due_at is not None and due_at <= now:
            raise InvalidInput("dueAt must be in the future", field="dueAt")
        limits = await limits_for(s, t.channel, t.urgency)
        calendar = await load_calendar(s)
        before = ticket_snapshot(t)
        created = []
        for i, unit in enumerate(units):
            created.append(
                await _new_assignment(
                    uow,
                    ticket=t,
                    unit=unit,
                    role=AssignmentRole.LEAD if i == 0 else AssignmentRole.CO,
                    actor=actor.subject,
                    now=now,
                    note=note,
                    limits=limits,
                    calendar=calendar,
                    due_at=due_at,
                )
            )
        t.status = TicketStatus.IN_PROGRESS
        t.due_at = created[0].due_at
        await s.flush()
        await _record(
            s,
            actor.subject,
            "ticket.dispatched",
            t,
            before=before,
            after=ticket_snapshot(t),
            extra_units=[u.id for u in units],
        )
        await uow.commit(result=("Ticket", t.id))
        return t


# ---- sign-for (§3(3), §4(1)) -----------------------------------------------------------------
async def sign_for(
    *, uow: UnitOfWork, actor: Principal, assignment_id: int, now: datetime | None = None
) -> Assignment:
    now = _now(now)
    async with uow:
        a, t = await _unit_assignment(uow, actor, assignment_id, "assignment", "sign")
        wf.require_state(wf.Action.SIGN_FOR, a.status)
        before = assignment_snapshot(a)
        a.status = S.HANDLING
        a.signed_at = now
        a.signed_by = actor.subject
        a.signed_late = wf.is_late(now, a.sign_by)  # allowed, but recorded as late
        await uow.session.flush()
        await _record(
            uow.session,
            actor.subject,
            "assignment.signed",
            t,
            assignment=a,
            before=before,
            after=assignment_snapshot(a),
        )
        await uow.commit(result=("Assignment", a.id))
        return a


# ---- returns (§3(4)) -------------------------------------------------------------------------
@dataclass(frozen=True)
class ReturnInput:
    reason: str
    basis: str
    suggested_unit: str
    verifier_name: str
    verifier_phone: str


async def request_return(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    data: ReturnInput,
    now: datetime | None = None,
) -> Assignment:
    now = _now(now)
    reason = _text(data.reason, "reason", 2000, required=True)
    basis = _text(data.basis, "basis", 2000, required=True)
    suggested = _text(data.suggested_unit, "suggestedUnit", 200, required=True)
    verifier = _text(data.verifier_name, "verifierName", 100, required=True)
    phone = _text(data.verifier_phone, "verifierPhone", 32, required=True)
    if phone is None or not PHONE_RE.match(phone):
        raise InvalidInput("verifierPhone must be digits", field="verifierPhone")
    async with uow:
        a, t = await _unit_assignment(uow, actor, assignment_id, "assignment", "return")
        wf.check_return(
            status=a.status,
            now=now,
            return_by=a.return_by,
            return_locked=a.return_locked,
            deemed=a.deemed_accepted,
            by_meeting=a.meeting_decision_id is not None,
        )
        before = assignment_snapshot(a)
        rr = ReturnRequest(
            assignment_id=a.id,
            reason=reason,
            basis=basis,
            suggested_unit=suggested,
            verifier_name=verifier,
            verifier_phone=phone,
            requested_by=actor.subject,
            requested_at=now,
        )
        uow.session.add(rr)
        a.status = S.RETURN_REQUESTED
        a.return_count += 1
        await uow.session.flush()
        await _record(
            uow.session,
            actor.subject,
            "assignment.return_requested",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "returnRequestId": rr.id},
        )
        await uow.commit(result=("Assignment", a.id))
        return a


async def decide_return(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    approve: bool,
    note: str | None = None,
    now: datetime | None = None,
) -> Assignment:
    """Approve: the assignment ends as RETURNED and the ticket waits to be dispatched elsewhere.
    Reject: a second dispatch to the same unit, which may not return it again (§3(4))."""
    now = _now(now)
    note = _text(note, "note", 2000, required=not approve)
    async with uow:
        s = uow.session
        a, t = await _centre_assignment(uow, actor, assignment_id, "decide")
        wf.require_state(wf.Action.DECIDE_RETURN, a.status)
        rr = (
            await s.execute(
                select(ReturnRequest)
                .where(ReturnRequest.assignment_id == a.id, ReturnRequest.decision.is_(None))
                .with_for_update()
            )
        ).scalar_one()
        before = assignment_snapshot(a)
        rr.decision = Decision.APPROVED if approve else Decision.REJECTED
        rr.decision_note = note
        rr.decided_by = actor.subject
        rr.decided_at = now
        if approve:
            a.status = S.RETURNED
            if a.role == AssignmentRole.LEAD and a.parent_id is None:
                # Back in the undispatched queue until a new lead is dispatched (co-units,
                # if any, carry on). Below a referral, the hop's centre dispatches again.
                t.status = TicketStatus.NEW
                t.due_at = None
        else:
            limits = await limits_for(s, t.channel, t.urgency)
            calendar = await load_calendar(s)
            a.status = S.DISPATCHED
            a.dispatched_at = now
            a.dispatched_by = actor.subject
            a.sign_by = calendar.add(now, limits.sign_for)
            a.return_by = now
            a.return_locked = True
            a.due_at = max(a.due_at, calendar.add(now, limits.handle))
            if a.parent_id is not None:
                parent = await s.get(Assignment, a.parent_id)
                assert parent is not None
                a.due_at = min(a.due_at, parent.due_at)  # never beyond the hop above
                a.sign_by = min(a.sign_by, a.due_at)
            elif a.role == AssignmentRole.LEAD:
                t.due_at = a.due_at
        await s.flush()
        await _record(
            s,
            actor.subject,
            "assignment.return_approved" if approve else "assignment.return_rejected",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "returnRequestId": rr.id, "note": note},
        )
        await uow.commit(result=("Assignment", a.id))
        return a


# ---- extensions (§3(4)) ----------------------------------------------------------------------
async def request_extension(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    reason: str,
    proposed_due: datetime,
    now: datetime | None = None,
) -> Assignment:
    now = _now(now)
    reason_ = _text(reason, "reason", 2000, required=True)
    if proposed_due.tzinfo is None:
        raise InvalidInput("proposedDue must carry a time zone", field="proposedDue")
    async with uow:
        s = uow.session
        a, t = await _unit_assignment(uow, actor, assignment_id, "assignment", "extend")
        pending = (
            await s.execute(
                select(func.count())
                .select_from(ExtensionRequest)
                .where(ExtensionRequest.assignment_id == a.id, ExtensionRequest.decision.is_(None))
            )
        ).scalar_one()
        wf.check_extension(
            status=a.status,
            now=now,
            due_at=a.due_at,
            proposed_due=proposed_due,
            pending=bool(pending),
        )
        er = ExtensionRequest(
            assignment_id=a.id,
            reason=reason_,
            proposed_due=proposed_due,
            requested_by=actor.subject,
            requested_at=now,
        )
        s.add(er)
        await s.flush()
        await _record(
            s,
            actor.subject,
            "assignment.extension_requested",
            t,
            assignment=a,
            after={"extensionRequestId": er.id, "proposedDue": proposed_due.isoformat()},
        )
        await uow.commit(result=("Assignment", a.id))
        return a


async def decide_extension(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    approve: bool,
    new_due: datetime | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Assignment:
    now = _now(now)
    note = _text(note, "note", 2000, required=False)
    async with uow:
        s = uow.session
        a, t = await _centre_assignment(uow, actor, assignment_id, "decide")
        er = (
            await s.execute(
                select(ExtensionRequest)
                .where(ExtensionRequest.assignment_id == a.id, ExtensionRequest.decision.is_(None))
                .with_for_update()
            )
        ).scalar_one_or_none()
        if er is None:
            raise wf.InvalidTransition("there is no extension request waiting for a decision")
        wf.require_state(wf.Action.DECIDE_EXTENSION, a.status)
        before = assignment_snapshot(a)
        er.decision = Decision.APPROVED if approve else Decision.REJECTED
        er.decided_by = actor.subject
        er.decided_at = now
        er.decision_note = note
        if approve:
            due = new_due or er.proposed_due
            if due.tzinfo is None or due <= a.due_at:
                raise InvalidInput("the new due time must be after the current one", field="newDue")
            if a.parent_id is not None:
                parent = await s.get(Assignment, a.parent_id)
                assert parent is not None
                if due > parent.due_at:
                    raise InvalidInput(
                        "the new due time would pass the due time of the referral above "
                        f"({parent.due_at.isoformat()}): extend that one first",
                        field="newDue",
                    )
            er.new_due = due
            a.due_at = due
            a.extension_count += 1
            a.overdue = False
            if a.role == AssignmentRole.LEAD and a.parent_id is None:
                t.due_at = due
        await s.flush()
        await _record(
            s,
            actor.subject,
            "assignment.extension_approved" if approve else "assignment.extension_rejected",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "extensionRequestId": er.id},
        )
        await uow.commit(result=("Assignment", a.id))
        return a


# ---- replies (§3(5)–(7), §4(2)–(5)) ----------------------------------------------------------
@dataclass(frozen=True)
class ReplyInput:
    handler_name: str
    communication: str = ""
    text: str = ""
    outcome: Outcome = Outcome.RESOLVED
    handler_phone: str | None = None
    contacted_at: datetime | None = None
    citizen_satisfied: bool | None = None
    unsatisfied_reasons: str | None = None
    documents: tuple[str, ...] = field(default_factory=tuple)
    handling: str = ""


def is_final_wording(text: str) -> bool:
    return normalise(FINAL_REPLY_WORDING) in normalise(text or "")


def _content(r: Reply) -> ReplyContent:
    return ReplyContent(
        handler_name=r.handler_name,
        handler_phone=r.handler_phone,
        contacted_at=r.contacted_at,
        communication=r.communication,
        citizen_satisfied=r.citizen_satisfied,
        unsatisfied_reasons=r.unsatisfied_reasons,
        documents=tuple(r.documents),
        handling=r.handling,
        outcome=Outcome(r.outcome),
        text=r.text,
    )


def check_reply(r: Reply, *, anonymous: bool) -> None:
    """Nothing reaches or passes the centre incomplete (§4(2)) or hollow (§4(5))."""
    missing = missing_elements(_content(r), anonymous=anonymous)
    if missing:
        raise wf.ReplyIncomplete(missing)
    findings = lint_fields(r)
    if findings:
        raise wf.ReplyHollow(sorted({f.phrase for f in findings}))


def lint_fields(r: Reply) -> list[LintFinding]:
    """Lint each written field on its own, so no phrase is matched across two fields."""
    return [f for text in (r.text, r.communication, r.handling) for f in lint_reply(text or "")]


async def current_reply(s: AsyncSession, assignment_id: int) -> Reply | None:
    return (
        await s.execute(
            select(Reply)
            .where(Reply.assignment_id == assignment_id)
            .order_by(Reply.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def draft_reply(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    data: ReplyInput,
    now: datetime | None = None,
) -> Reply:
    """A handler's draft; lint findings and missing elements are stored and shown."""
    now = _now(now)
    handler = _text(data.handler_name, "handlerName", 100, required=True)
    if data.contacted_at is not None and data.contacted_at.tzinfo is None:
        raise InvalidInput("contactedAt must carry a time zone", field="contactedAt")
    if len(data.documents) > 50:
        raise InvalidInput("at most 50 documents", field="documents")
    if data.outcome != Outcome.FINAL_REPLY and is_final_wording(data.text):
        # Otherwise the main leader's approval (§4(4)) could be bypassed.
        raise InvalidInput(
            f"「{FINAL_REPLY_WORDING}」 may only stand in a reply whose outcome is FINAL_REPLY",
            field="outcome",
        )
    async with uow:
        s = uow.session
        a, t = await _unit_assignment(uow, actor, assignment_id, "reply", "draft")
        wf.require_state(wf.Action.DRAFT_REPLY, a.status)
        reply = await current_reply(s, a.id)
        if reply is None or reply.status not in (ReplyStatus.DRAFT, ReplyStatus.APPROVED):
            reply = Reply(assignment_id=a.id, drafted_by=actor.subject, drafted_at=now)
            s.add(reply)
        reply.status = ReplyStatus.DRAFT
        reply.handler_name = handler or ""
        reply.handler_phone = (data.handler_phone or "").strip() or None
        reply.contacted_at = data.contacted_at
        reply.communication = (data.communication or "").strip()
        reply.citizen_satisfied = data.citizen_satisfied
        reply.unsatisfied_reasons = (data.unsatisfied_reasons or "").strip() or None
        reply.documents = [d.strip() for d in data.documents if d.strip()]
        reply.handling = (data.handling or "").strip()
        reply.outcome = data.outcome.value
        reply.text = (data.text or "").strip()
        reply.drafted_by = actor.subject
        reply.drafted_at = now
        reply.approved_by = None
        reply.approved_at = None
        reply.lint = [
            {"rule": f.rule, "phrase": f.phrase, "clause": f.clause} for f in lint_fields(reply)
        ]
        before = assignment_snapshot(a)
        a.status = S.REPLY_DRAFTED
        await s.flush()
        await _record(
            s,
            actor.subject,
            "reply.drafted",
            t,
            assignment=a,
            before=before,
            # The lint findings (rule and phrase, never personal data) as drafted: a corrected
            # redraft overwrites the row, and the assessment counts hollow drafts (§4(5)).
            after={
                **assignment_snapshot(a),
                "replyId": reply.id,
                "outcome": reply.outcome,
                "lint": reply.lint,
            },
        )
        await uow.commit(result=("Reply", reply.id))
        return reply


async def approve_reply(
    *, uow: UnitOfWork, actor: Principal, assignment_id: int, now: datetime | None = None
) -> Reply:
    """The unit's leader approves (§3(6)); a final reply needs the main leader (§4(4))."""
    now = _now(now)
    async with uow:
        s = uow.session
        a, t = await _unit_assignment(uow, actor, assignment_id, "reply", "approve")
        wf.require_state(wf.Action.APPROVE_REPLY, a.status)
        reply = await current_reply(s, a.id)
        assert reply is not None and reply.status == ReplyStatus.DRAFT
        if reply.outcome == Outcome.FINAL_REPLY and not _unit_may(
            uow, actor, a.unit_id, "reply", "approve_final"
        ):
            raise NotPermitted(
                "a final reply (此为最终答复) needs the approval of the unit's main leader (§4(4))"
            )
        check_reply(reply, anonymous=t.anonymous)
        before = assignment_snapshot(a)
        reply.status = ReplyStatus.APPROVED
        reply.approved_by = actor.subject
        reply.approved_at = now
        a.status = S.REPLY_APPROVED
        await s.flush()
        await _record(
            s,
            actor.subject,
            "reply.approved",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "replyId": reply.id},
        )
        await uow.commit(result=("Reply", reply.id))
        return reply


async def submit_reply(
    *, uow: UnitOfWork, actor: Principal, assignment_id: int, now: datetime | None = None
) -> Reply:
    now = _now(now)
    async with uow:
        s = uow.session
        a, t = await _unit_assignment(uow, actor, assignment_id, "reply", "submit")
        wf.require_state(wf.Action.SUBMIT_REPLY, a.status)
        reply = await current_reply(s, a.id)
        assert reply is not None and reply.status == ReplyStatus.APPROVED
        check_reply(reply, anonymous=t.anonymous)
        before = assignment_snapshot(a)
        reply.status = ReplyStatus.SUBMITTED
        reply.submitted_at = now
        a.status = S.REPLY_SUBMITTED
        a.replied_at = now
        await s.flush()
        await _record(
            s,
            actor.subject,
            "reply.submitted",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "replyId": reply.id, "late": now > a.due_at},
        )
        await uow.commit(result=("Reply", reply.id))
        return reply


async def review_reply(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    accept: bool,
    reasons: str | None = None,
    supplement_due: datetime | None = None,
    now: datetime | None = None,
) -> Reply:
    """The centre accepts, or sends back for supplement within a time limit (§3(7))."""
    now = _now(now)
    reasons = _text(reasons, "reasons", 2000, required=not accept)
    async with uow:
        s = uow.session
        a, t = await _centre_assignment(uow, actor, assignment_id, "review")
        wf.require_state(wf.Action.REVIEW_REPLY, a.status)
        reply = await current_reply(s, a.id)
        assert reply is not None and reply.status == ReplyStatus.SUBMITTED
        before = assignment_snapshot(a)
        if accept:
            check_reply(reply, anonymous=t.anonymous)  # hollow replies are never accepted
            reply.status = ReplyStatus.ACCEPTED
            a.status = S.ACCEPTED
            a.accepted_at = now
        else:
            reply.status = ReplyStatus.SENT_BACK
            a.status = S.HANDLING
            a.sent_back_count += 1
            if supplement_due is not None:
                if supplement_due.tzinfo is None or supplement_due <= now:
                    raise InvalidInput("supplementDue must be in the future", field="supplementDue")
                a.due_at = supplement_due
                a.overdue = False
                if a.role == AssignmentRole.LEAD and a.parent_id is None:
                    t.due_at = supplement_due
        reply.reviewed_by = actor.subject
        reply.reviewed_at = now
        reply.review_note = reasons
        await s.flush()
        t_before = ticket_snapshot(t)
        forwarded: tuple[Assignment, Reply] | None = None
        if accept and a.parent_id is not None:
            forwarded = await _forward_up(s, actor.subject, a, reply, now)
        elif accept and await _all_accepted(s, t.id):
            t.status = TicketStatus.REPLIED
        await s.flush()
        await _record(
            s,
            actor.subject,
            "reply.accepted" if accept else "reply.sent_back",
            t,
            assignment=a,
            before=before,
            after={**assignment_snapshot(a), "replyId": reply.id, "reasons": reasons},
        )
        if t.status != TicketStatus(t_before["status"]):
            await _record(
                s, actor.subject, "ticket.replied", t, before=t_before, after=ticket_snapshot(t)
            )
        if forwarded is not None:
            hop, hop_reply = forwarded
            await _record(
                s,
                actor.subject,
                "reply.forwarded",
                t,
                assignment=hop,
                after={
                    **assignment_snapshot(hop),
                    "replyId": hop_reply.id,
                    "fromAssignmentId": a.id,
                },
            )
        await uow.commit(result=("Reply", reply.id))
        return reply


async def _all_accepted(s: AsyncSession, ticket_id: int) -> bool:
    """Every active assignment's reply is accepted, and one of them is the lead's."""
    rows = (
        await s.execute(
            select(Assignment.role, Assignment.status).where(
                Assignment.ticket_id == ticket_id,
                Assignment.parent_id.is_(None),
                Assignment.status.in_(wf.ACTIVE),
            )
        )
    ).all()
    return all(st == S.ACCEPTED for _, st in rows) and any(
        role == AssignmentRole.LEAD for role, _ in rows
    )


async def _forward_up(
    s: AsyncSession, actor: str, child: Assignment, reply: Reply, now: datetime
) -> tuple[Assignment, Reply] | None:
    """The lower centre accepted its members' replies: the lead's reply becomes the reply of
    the unit that stands for that centre, submitted to the level above (§3(2), §3(6)).

    Only when every active child of the hop is accepted and the hop is still waiting for its
    reply; otherwise nothing climbs yet."""
    hop = (
        await s.execute(
            select(Assignment).where(Assignment.id == child.parent_id).with_for_update()
        )
    ).scalar_one()
    if hop.status not in (S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED):
        return None
    children = (
        (
            await s.execute(
                select(Assignment).where(
                    Assignment.parent_id == hop.id, Assignment.status.in_(wf.ACTIVE)
                )
            )
        )
        .scalars()
        .all()
    )
    lead = next((c for c in children if c.role == AssignmentRole.LEAD), None)
    if lead is None or any(c.status != S.ACCEPTED for c in children):
        return None
    source = reply if lead.id == child.id else await current_reply(s, lead.id)
    assert source is not None
    # Drafts the hop may hold are superseded by the forwarded reply.
    up = Reply(
        assignment_id=hop.id,
        status=ReplyStatus.SUBMITTED,
        handler_name=source.handler_name,
        handler_phone=source.handler_phone,
        contacted_at=source.contacted_at,
        communication=source.communication,
        citizen_satisfied=source.citizen_satisfied,
        unsatisfied_reasons=source.unsatisfied_reasons,
        documents=list(source.documents),
        handling=source.handling,
        outcome=source.outcome,
        text=source.text,
        lint=list(source.lint),
        drafted_by=source.drafted_by,
        drafted_at=source.drafted_at,
        approved_by=actor,
        approved_at=now,
        submitted_at=now,
    )
    s.add(up)
    hop.status = S.REPLY_SUBMITTED
    hop.replied_at = now
    await s.flush()
    return hop, up


# ---- callback, redo, close, archive (§3(8)–(10)) ---------------------------------------------
async def record_callback(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    satisfaction: Satisfaction,
    actually_resolved: bool,
    note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """回访: satisfied, basically satisfied or unreachable closes the ticket; unsatisfied leaves
    it for a redo (or an explicit close)."""
    now = _now(now)
    note = _text(note, "note", 2000, required=False)
    async with uow:
        s = uow.session
        t = await _centre_ticket(uow, actor, ticket_id, "callback")
        if t.status != TicketStatus.REPLIED:
            raise wf.InvalidTransition(
                "a callback follows an accepted reply; this ticket is " + t.status.value.lower()
            )
        before = ticket_snapshot(t)
        s.add(
            Callback(
                ticket_id=t.id,
                satisfaction=satisfaction.value,
                actually_resolved=actually_resolved,
                note=note,
                recorded_by=actor.subject,
                recorded_at=now,
            )
        )
        t.satisfaction = satisfaction.value
        t.actually_resolved = actually_resolved
        await s.flush()
        await _record(
            s,
            actor.subject,
            "ticket.callback_recorded",
            t,
            before=before,
            after={
                **ticket_snapshot(t),
                "satisfaction": satisfaction.value,
                "actuallyResolved": actually_resolved,
            },
        )
        if satisfaction != Satisfaction.UNSATISFIED:
            await _close(s, actor.subject, t, now)
        await uow.commit(result=("Ticket", t.id))
        return t


async def _close(s: AsyncSession, actor: str, t: Ticket, now: datetime) -> None:
    before = ticket_snapshot(t)
    for a in (
        await s.execute(
            select(Assignment)
            .where(Assignment.ticket_id == t.id, Assignment.status == S.ACCEPTED)
            .with_for_update()
        )
    ).scalars():
        a.status = S.CLOSED
    t.status = TicketStatus.CLOSED
    t.closed_at = now
    await s.flush()
    await _record(s, actor, "ticket.closed", t, before=before, after=ticket_snapshot(t))


async def redo_ticket(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    reason: str,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Ticket:
    """退回重办 (§3(9)): the citizen is unsatisfied; the lead unit handles it again."""
    now = _now(now)
    reason_ = _text(reason, "reason", 2000, required=True)
    async with uow:
        s = uow.session
        t = await _centre_ticket(uow, actor, ticket_id, "dispatch")
        if t.status != TicketStatus.REPLIED or t.satisfaction != Satisfaction.UNSATISFIED:
            raise wf.InvalidTransition("a redo follows a callback with an unsatisfied citizen")
        if due_at is not None and (due_at.tzinfo is None or due_at <= now):
            raise InvalidInput("dueAt must be in the future", field="dueAt")
        limits = await limits_for(s, t.channel, t.urgency)
        calendar = await load_calendar(s)
        new_due = due_at or calendar.add(now, limits.handle)
        lead = (
            await s.execute(
                select(Assignment)
                .where(
                    Assignment.ticket_id == t.id,
                    Assignment.parent_id.is_(None),
                    Assignment.role == AssignmentRole.LEAD,
                    Assignment.status == S.ACCEPTED,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if lead is None:
            raise wf.InvalidTransition("the ticket has no accepted lead assignment to redo")
        wf.require_state(wf.Action.REDO, lead.status)
        t_before, a_before = ticket_snapshot(t), assignment_snapshot(lead)
        lead.status = S.HANDLING
        lead.redo_count += 1
        lead.due_at = new_due
        lead.overdue = False
        lead.reminded_at = None
        redone = await _redo_down(s, lead, new_due)
        t.status = TicketStatus.IN_PROGRESS
        t.redo_count += 1
        t.due_at = new_due
        t.satisfaction = None
        t.actually_resolved = None
        await s.flush()
        await _record(
            s,
            actor.subject,
            "assignment.redo",
            t,
            assignment=lead,
            before=a_before,
            after={**assignment_snapshot(lead), "reason": reason_},
        )
        for child, child_before in redone:
            await _record(
                s,
                actor.subject,
                "assignment.redo",
                t,
                assignment=child,
                before=child_before,
                after={**assignment_snapshot(child), "reason": reason_},
            )
        await _record(s, actor.subject, "ticket.redo", t, before=t_before, after=ticket_snapshot(t))
        await uow.commit(result=("Ticket", t.id))
        return t


async def _redo_down(
    s: AsyncSession, hop: Assignment, due: datetime
) -> list[tuple[Assignment, dict[str, Any]]]:
    """A redo reaches the unit that actually handled it: down the accepted lead chain."""
    out: list[tuple[Assignment, dict[str, Any]]] = []
    current = hop
    while True:
        child = (
            await s.execute(
                select(Assignment)
                .where(
                    Assignment.parent_id == current.id,
                    Assignment.role == AssignmentRole.LEAD,
                    Assignment.status == S.ACCEPTED,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if child is None:
            return out
        before = assignment_snapshot(child)
        child.status = S.HANDLING
        child.redo_count += 1
        child.due_at = min(due, current.due_at)
        child.overdue = False
        child.reminded_at = None
        out.append((child, before))
        current = child


async def close_ticket(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    note: str,
    now: datetime | None = None,
) -> Ticket:
    """Close a replied ticket whose citizen stays unsatisfied (e.g. after a final reply)."""
    now = _now(now)
    _text(note, "note", 2000, required=True)
    async with uow:
        t = await _centre_ticket(uow, actor, ticket_id, "callback")
        if t.status != TicketStatus.REPLIED or t.satisfaction is None:
            raise wf.InvalidTransition("only a replied ticket with a recorded callback can close")
        await _close(uow.session, actor.subject, t, now)
        await uow.commit(result=("Ticket", t.id))
        return t


async def archive_ticket(
    *, uow: UnitOfWork, actor: Principal, ticket_id: int, now: datetime | None = None
) -> Ticket:
    """归档 (§3(10)): a closed ticket becomes read-only."""
    now = _now(now)
    async with uow:
        t = await _centre_ticket(uow, actor, ticket_id, "archive")
        if t.status != TicketStatus.CLOSED:
            raise wf.InvalidTransition("only a closed ticket can be archived")
        before = ticket_snapshot(t)
        t.status = TicketStatus.ARCHIVED
        t.archived_at = now
        await uow.session.flush()
        await _record(
            uow.session,
            actor.subject,
            "ticket.archived",
            t,
            before=before,
            after=ticket_snapshot(t),
        )
        await uow.commit(result=("Ticket", t.id))
        return t


# ---- calendar administration -----------------------------------------------------------------
async def set_calendar_day(
    *,
    uow: UnitOfWork,
    actor: Principal,
    day: date,
    is_workday: bool,
    note: str | None = None,
) -> CalendarDay:
    note = _text(note, "note", 200, required=False)
    async with uow:
        s = uow.session
        root = (
            await s.execute(select(Centre.code).where(Centre.parent_code.is_(None)))
        ).scalar_one()
        if not uow.enforcer.allowed(actor.subject, "calendar", centre_obj(root), "manage"):
            raise NotFound("calendar not found")
        row = await s.get(CalendarDay, day, with_for_update=True)
        before = {"day": day.isoformat(), "isWorkday": row.is_workday} if row else None
        if row is None:
            row = CalendarDay(day=day, is_workday=is_workday, note=note, set_by=actor.subject)
            s.add(row)
        else:
            row.is_workday = is_workday
            row.note = note
            row.set_by = actor.subject
        await s.flush()
        await events.record(
            s,
            type="calendar.day_set",
            actor=actor.subject,
            entity_type="calendar",
            entity_id=day.isoformat(),
            before=before,
            after={"day": day.isoformat(), "isWorkday": is_workday, "note": note},
            domains=[centre_domain(root)],
        )
        await uow.commit()
        return row
