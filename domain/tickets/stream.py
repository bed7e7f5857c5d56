"""Ticket events for subscribers: the replay from the table and the visibility of live events.

A principal receives a ticket's events exactly when it may read the ticket (the same rule as
``tickets(…)``: ``queries.ticket_filter``). The replay applies it in SQL; live batches are checked
with one query per batch for the tickets they touch, so a ticket that becomes visible (dispatched
to one's unit, referred to one's centre) is followed from that moment on.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import Event
from domain.eventstream import StreamEvent, StreamFilter
from domain.registry.visibility import Visibility
from domain.tickets.models import Assignment, Ticket
from domain.tickets.queries import ticket_filter


class AlertKind(enum.StrEnum):
    """What a deadline alert warns of."""

    SIGN_FOR_DUE_SOON = "SIGN_FOR_DUE_SOON"  # not yet signed for, a quarter of the window left
    HANDLING_DUE_SOON = "HANDLING_DUE_SOON"  # past the 催办 point, due time not yet passed
    SIGN_FOR_OVERDUE = "SIGN_FOR_OVERDUE"  # not signed for by sign_by
    HANDLING_OVERDUE = "HANDLING_OVERDUE"  # the due time has passed


# Sweeper events a dispatcher screen shows as deadline alerts, and what each means.
ALERT_KINDS: dict[str, AlertKind] = {
    "assignment.sign_due_soon": AlertKind.SIGN_FOR_DUE_SOON,
    "assignment.reminded": AlertKind.HANDLING_DUE_SOON,
    "assignment.sign_overdue_reminded": AlertKind.SIGN_FOR_OVERDUE,
    "assignment.overdue": AlertKind.HANDLING_OVERDUE,
}


def _conditions(flt: StreamFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Event.ticket_id.is_not(None)]
    if flt.ticket_id is not None:
        conds.append(Event.ticket_id == flt.ticket_id)
    if flt.types:
        conds.append(Event.type.in_(sorted(flt.types)))
    if flt.centre_code is not None:
        conds.append(Event.domains.contains([f"centre:{flt.centre_code}/"]))
    if flt.unit_id is not None:
        conds.append(Event.domains.contains([f"unit:{flt.unit_id}/"]))
    return conds


async def replay(
    session: AsyncSession,
    vis: Visibility,
    flt: StreamFilter,
    after: int,
    upto: int,
    limit: int,
) -> list[StreamEvent]:
    """Committed events ``after < id <= upto`` the viewer may see, oldest first (``limit``)."""
    q = (
        select(*Event.__table__.c)
        .join(Ticket, Ticket.id == Event.ticket_id)
        .where(Event.id > after, Event.id <= upto, ticket_filter(vis), *_conditions(flt))
        .order_by(Event.id)
        .limit(limit)
    )
    return [StreamEvent.of_record(r) for r in (await session.execute(q)).mappings()]


async def visible_tickets(
    session: AsyncSession, vis: Visibility, ticket_ids: Collection[int]
) -> set[int]:
    if not ticket_ids:
        return set()
    q = select(Ticket.id).where(Ticket.id.in_(set(ticket_ids)), ticket_filter(vis))
    return set((await session.execute(q)).scalars())


async def visible_batch(
    session: AsyncSession, vis: Visibility, batch: Sequence[StreamEvent]
) -> list[StreamEvent]:
    """The events of a live batch the viewer may see, in order."""
    ok = await visible_tickets(session, vis, {e.ticket_id for e in batch if e.ticket_id})
    return [e for e in batch if e.ticket_id in ok]


async def dispatched_by(
    session: AsyncSession, centre_code: str, assignment_ids: Collection[int]
) -> set[int]:
    """Of these assignments, those the centre dispatched (its dispatcher screen's own)."""
    if not assignment_ids:
        return set()
    q = select(Assignment.id).where(
        Assignment.id.in_(set(assignment_ids)), Assignment.centre_code == centre_code
    )
    return set((await session.execute(q)).scalars())
