"""Cross-level referral (转办/下派, §3(2)): a lower centre dispatches a referred ticket on.

Dispatching a ticket to a unit that stands for a lower centre (the city to 沭阳县) is a referral:
that centre's dispatchers sign for it on the unit's behalf (tickets.service, via the policy's
face:<unit> objects), then dispatch it on to their own members — county departments, or the
unit that stands for a township centre, and so on down. Replies climb back: the lower centre
reviews its members' replies, and the accepted lead reply becomes the hop's reply to the level
above (tickets.service.review_reply). A lower hop's deadlines never exceed the upper hop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from authz import centre_domain, centre_obj, unit_obj
from domain.accounts import Principal
from domain.errors import InvalidInput, NotFound
from domain.inputs import aware_now, clean_text
from domain.registry.models import Unit
from domain.tickets import service as ts
from domain.tickets import workflow as wf
from domain.tickets.models import Assignment, AssignmentRole, AssignmentStatus, TicketStatus
from domain.uow import UnitOfWork

S = AssignmentStatus


def _cap(value: datetime, ceiling: datetime) -> datetime:
    return min(value, ceiling)


async def dispatch_referral(
    *,
    uow: UnitOfWork,
    actor: Principal,
    assignment_id: int,
    lead_unit_id: int,
    co_unit_ids: Sequence[int] = (),
    note: str | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Assignment:
    """The centre a ticket was referred to dispatches it on to its own members.

    ``assignment_id`` is the hop: an assignment to the unit that stands for the actor's centre,
    signed for (or deemed accepted). Returns the hop."""
    now = aware_now(now)
    note = clean_text(note, "note", 500, required=False)
    co = list(dict.fromkeys(co_unit_ids))
    if lead_unit_id in co:
        raise InvalidInput("the lead unit cannot also be a co-unit", field="coUnitIds")
    async with uow:
        s = uow.session
        hop, t = await ts._assignment_for_update(uow, assignment_id)
        face = await s.get(Unit, hop.unit_id)
        lower = face.represents if face else None
        # Only dispatchers of the centre the ticket was referred to (else: not found).
        if lower is None or not uow.enforcer.allowed(
            actor.subject, "ticket", centre_obj(lower), "dispatch"
        ):
            raise NotFound("assignment not found")
        if t.status == TicketStatus.ARCHIVED:
            raise wf.InvalidTransition("the ticket is archived and read-only")
        if hop.status != S.HANDLING:
            raise wf.InvalidTransition(
                "sign for the referral first; it can be dispatched on while it is being handled"
            )
        active = (
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
        if any(a.role == AssignmentRole.LEAD for a in active):
            raise wf.InvalidTransition("this referral already has an active lead unit below it")
        busy = {a.unit_id for a in active}
        units: list[Unit] = []
        for uid in [lead_unit_id, *co]:
            field_name = "leadUnitId" if uid == lead_unit_id else "coUnitIds"
            unit = await s.get(Unit, uid)
            if unit is None or not uow.enforcer.has_member(unit_obj(uid), centre_domain(lower)):
                raise NotFound("unit not found", field=field_name)
            if not unit.active:
                raise InvalidInput(f"{unit.name} is deactivated", field=field_name)
            if uid in busy:
                raise InvalidInput(f"{unit.name} already holds this ticket", field=field_name)
            units.append(unit)
        if due_at is not None and (due_at.tzinfo is None or due_at <= now):
            raise InvalidInput("dueAt must be in the future", field="dueAt")
        if due_at is not None and due_at > hop.due_at:
            raise InvalidInput(
                "a lower hop's due time cannot pass the referral's own due time", field="dueAt"
            )
        limits = await ts.limits_for(s, t.channel, t.urgency)
        calendar = await ts.load_calendar(s)
        due = _cap(due_at or calendar.add(now, limits.handle), hop.due_at)
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
                due_at=due,
                centre_code=lower,
                parent_id=hop.id,
            )
            # Deadlines below never pass the hop's (§3(4) at every level).
            a.sign_by = _cap(a.sign_by, hop.due_at)
            a.return_by = _cap(a.return_by, hop.due_at)
        await s.flush()
        await ts._record(
            s,
            actor.subject,
            "referral.dispatched",
            t,
            assignment=hop,
            after={
                **ts.assignment_snapshot(hop),
                "centre": lower,
                "units": [u.id for u in units],
            },
            extra_units=[u.id for u in units],
            extra_domains=[centre_domain(lower)],
        )
        await uow.commit(result=("Assignment", hop.id))
        return hop
