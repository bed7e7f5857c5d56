"""Ticket read side: scoped list queries (SQL filters from the scope), queues, loaders' queries."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.events import Event
from domain.loading import by_key, grouped
from domain.pagination import Page, key_page, time_page
from domain.registry.models import Unit
from domain.registry.visibility import Visibility
from domain.tickets.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Callback,
    Channel,
    ExtensionRequest,
    PiiAccess,
    Reply,
    ReturnRequest,
    Ticket,
    TicketStatus,
)
from domain.tickets.workflow import ACTIVE

S = AssignmentStatus


def _units_standing_for(centres: frozenset[str]) -> Select[int]:
    return select(Unit.id).where(Unit.represents.in_(centres))


def assignment_visible(vis: Visibility) -> ColumnElement[bool]:
    """An assignment is visible to the centre that dispatched it, to the centre it was referred
    to (its unit stands for that centre) and to the unit's own staff. Read-down widens the
    centres; nothing else does (a county sees its hop and what it dispatched below)."""
    conds: list[ColumnElement[bool]] = []
    if vis.ticket_centres:
        conds.append(Assignment.centre_code.in_(vis.ticket_centres))
        conds.append(Assignment.unit_id.in_(_units_standing_for(vis.ticket_centres)))
    if vis.ticket_units:
        conds.append(Assignment.unit_id.in_(vis.ticket_units))
    return or_(*conds) if conds else false()


def ticket_filter(vis: Visibility) -> ColumnElement[bool]:
    """A ticket is visible to its own centre, wherever one of its assignments is, and to the
    API client that created it."""
    conds: list[ColumnElement[bool]] = []
    if vis.ticket_centres:
        conds.append(Ticket.centre_code.in_(vis.ticket_centres))
    if vis.ticket_centres or vis.ticket_units:
        conds.append(exists().where(Assignment.ticket_id == Ticket.id, assignment_visible(vis)))
    if vis.subject is not None:  # an API client: the tickets it created
        conds.append(Ticket.created_by == vis.subject)
    return or_(*conds) if conds else false()


def assignment_filter(vis: Visibility) -> ColumnElement[bool]:
    return assignment_visible(vis)


class TicketOrder(enum.StrEnum):
    RECEIVED_DESC = "RECEIVED_DESC"
    RECEIVED_ASC = "RECEIVED_ASC"
    DUE_ASC = "DUE_ASC"


@dataclass(frozen=True)
class TicketFilter:
    status: TicketStatus | None = None
    channel: Channel | None = None
    category: str | None = None
    unit_id: int | None = None
    centre_code: str | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    search: str | None = None
    referred_to: str | None = None  # a centre the ticket was referred to (at any hop)
    referred_from: str | None = None  # a centre that referred it down


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    return and_(
        Ticket.status == TicketStatus.IN_PROGRESS, Ticket.due_at.is_not(None), Ticket.due_at < now
    )


async def list_tickets(
    session: AsyncSession,
    vis: Visibility,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: str | None,
    now: datetime,
) -> Page[Ticket]:
    q = select(Ticket).where(ticket_filter(vis))
    if f.status is not None:
        q = q.where(Ticket.status == f.status)
    if f.channel is not None:
        q = q.where(Ticket.channel == f.channel)
    if f.category is not None:
        q = q.where(
            or_(
                Ticket.category_code == f.category,
                Ticket.category_code.startswith(f.category + "."),
            )
        )
    if f.unit_id is not None:
        q = q.where(
            exists().where(Assignment.ticket_id == Ticket.id, Assignment.unit_id == f.unit_id)
        )
    if f.centre_code is not None:
        q = q.where(Ticket.centre_code == f.centre_code)
    if f.referred_to is not None:
        q = q.where(
            exists().where(
                Assignment.ticket_id == Ticket.id,
                Assignment.unit_id.in_(_units_standing_for(frozenset({f.referred_to}))),
            )
        )
    if f.referred_from is not None:
        q = q.where(
            exists().where(
                Assignment.ticket_id == Ticket.id,
                Assignment.centre_code == f.referred_from,
                Assignment.unit_id.in_(select(Unit.id).where(Unit.represents.is_not(None))),
            )
        )
    if f.overdue is True:
        q = q.where(_overdue_clause(now))
    elif f.overdue is False:
        q = q.where(~_overdue_clause(now))
    if f.due_before is not None:
        q = q.where(Ticket.due_at < f.due_before)
    if f.received_from is not None:
        q = q.where(Ticket.received_at >= f.received_from)
    if f.received_to is not None:
        q = q.where(Ticket.received_at < f.received_to)
    if f.search:
        pattern = _like(f.search.strip())
        q = q.where(
            or_(
                Ticket.title.ilike(pattern),
                Ticket.content.ilike(pattern),
                Ticket.number == f.search.strip(),
            )
        )
    if order == TicketOrder.DUE_ASC:
        # Undated (undispatched) tickets sort last: a far-future stand-in keeps keyset simple.
        far = datetime(9999, 1, 1, tzinfo=now.tzinfo)
        return await time_page(
            session,
            q,
            func.coalesce(Ticket.due_at, far),
            Ticket.id,
            first,
            after,
            time_of=lambda t: t.due_at or far,
            descending=False,
        )
    return await time_page(
        session,
        q,
        Ticket.received_at,
        Ticket.id,
        first,
        after,
        time_of=lambda t: t.received_at,
        descending=order == TicketOrder.RECEIVED_DESC,
    )


class WorkKind(enum.StrEnum):
    ALL = "ALL"
    TO_SIGN = "TO_SIGN"
    TO_REPLY = "TO_REPLY"
    SUPPLEMENT = "SUPPLEMENT"  # returned for supplement by the centre
    REDO = "REDO"  # citizen unsatisfied: handle again


_OPEN_WORK = (S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED)


async def my_assignments(
    session: AsyncSession,
    vis: Visibility,
    kind: WorkKind,
    status: AssignmentStatus | None,
    first: int,
    after: str | None,
) -> Page[Assignment]:
    """A unit's work list: only assignments of the viewer's own units."""
    if not vis.ticket_units:
        q = select(Assignment).where(false())
    else:
        q = select(Assignment).where(Assignment.unit_id.in_(vis.ticket_units))
    if kind == WorkKind.TO_SIGN:
        q = q.where(Assignment.status == S.DISPATCHED)
    elif kind == WorkKind.TO_REPLY:
        q = q.where(Assignment.status.in_(_OPEN_WORK))
    elif kind == WorkKind.SUPPLEMENT:
        q = q.where(Assignment.status.in_(_OPEN_WORK), Assignment.sent_back_count > 0)
    elif kind == WorkKind.REDO:
        q = q.where(Assignment.status.in_(_OPEN_WORK), Assignment.redo_count > 0)
    if status is not None:
        q = q.where(Assignment.status == status)
    return await key_page(session, q, Assignment.id, first, after)


class QueueKind(enum.StrEnum):
    UNDISPATCHED = "UNDISPATCHED"
    REFERRALS_TO_SIGN = "REFERRALS_TO_SIGN"  # referred to this centre, to sign for
    REFERRALS_TO_DISPATCH = "REFERRALS_TO_DISPATCH"  # signed referrals with no lead below
    RETURNS_TO_DECIDE = "RETURNS_TO_DECIDE"
    EXTENSIONS_TO_DECIDE = "EXTENSIONS_TO_DECIDE"
    REPLIES_TO_REVIEW = "REPLIES_TO_REVIEW"
    CALLBACKS_DUE = "CALLBACKS_DUE"


QUEUE_ACTION = {
    QueueKind.UNDISPATCHED: "dispatch",
    QueueKind.REFERRALS_TO_SIGN: "dispatch",
    QueueKind.REFERRALS_TO_DISPATCH: "dispatch",
    QueueKind.RETURNS_TO_DECIDE: "decide",
    QueueKind.EXTENSIONS_TO_DECIDE: "decide",
    QueueKind.REPLIES_TO_REVIEW: "review",
    QueueKind.CALLBACKS_DUE: "callback",
}


async def centre_queue(
    session: AsyncSession, centres: frozenset[str], kind: QueueKind, first: int, after: str | None
) -> Page[tuple[Ticket, Assignment | None]]:
    """A dispatcher's queue over the centres it acts for (never read-down centres)."""
    if kind in (QueueKind.UNDISPATCHED, QueueKind.CALLBACKS_DUE):
        tq = select(Ticket).where(Ticket.centre_code.in_(centres) if centres else false())
        if kind == QueueKind.UNDISPATCHED:
            tq = tq.where(Ticket.status == TicketStatus.NEW)
        else:
            tq = tq.where(Ticket.status == TicketStatus.REPLIED, Ticket.satisfaction.is_(None))
        page = await key_page(session, tq, Ticket.id, first, after)
        return Page(
            [(t, None) for t in page.items],
            page.cursors,
            page.has_next,
            page.has_previous,
            page.total,
        )
    if kind in (QueueKind.REFERRALS_TO_SIGN, QueueKind.REFERRALS_TO_DISPATCH):
        q = select(Assignment).where(
            Assignment.unit_id.in_(_units_standing_for(centres)) if centres else false()
        )
        if kind == QueueKind.REFERRALS_TO_SIGN:
            q = q.where(Assignment.status == S.DISPATCHED)
        else:
            child = aliased(Assignment)
            q = q.where(
                Assignment.status == S.HANDLING,
                ~exists().where(
                    child.parent_id == Assignment.id,
                    child.role == AssignmentRole.LEAD,
                    child.status.in_(ACTIVE),
                ),
            )
    else:
        # Decisions belong to the centre that dispatched the assignment.
        q = select(Assignment).where(Assignment.centre_code.in_(centres) if centres else false())
    if kind == QueueKind.RETURNS_TO_DECIDE:
        q = q.where(Assignment.status == S.RETURN_REQUESTED)
    elif kind == QueueKind.REPLIES_TO_REVIEW:
        q = q.where(Assignment.status == S.REPLY_SUBMITTED)
    elif kind == QueueKind.EXTENSIONS_TO_DECIDE:
        q = q.where(
            exists().where(
                ExtensionRequest.assignment_id == Assignment.id, ExtensionRequest.decision.is_(None)
            )
        )
    page = await key_page(session, q, Assignment.id, first, after)
    tickets = {
        t.id: t
        for t in (
            await session.execute(
                select(Ticket).where(Ticket.id.in_({a.ticket_id for a in page.items}))
            )
        ).scalars()
    }
    return Page(
        [(tickets[a.ticket_id], a) for a in page.items],
        page.cursors,
        page.has_next,
        page.has_previous,
        page.total,
    )


# ---- batch loads (dataloaders) -------------------------------------------------------------------
async def tickets_by_id(
    session: AsyncSession, vis: Visibility, ids: Sequence[int]
) -> list[Ticket | None]:
    rows = await session.execute(select(Ticket).where(Ticket.id.in_(set(ids)), ticket_filter(vis)))
    return by_key(rows.scalars(), lambda t: t.id, ids)


async def assignments_by_id(
    session: AsyncSession, vis: Visibility, ids: Sequence[int]
) -> list[Assignment | None]:
    rows = await session.execute(
        select(Assignment).where(Assignment.id.in_(set(ids)), assignment_filter(vis))
    )
    return by_key(rows.scalars(), lambda a: a.id, ids)


async def assignments_by_ticket(
    session: AsyncSession, vis: Visibility, ticket_ids: Sequence[int]
) -> list[list[Assignment]]:
    """The assignments of these tickets the viewer may see (see ``assignment_visible``)."""
    rows = await session.execute(
        select(Assignment)
        .where(Assignment.ticket_id.in_(set(ticket_ids)), assignment_visible(vis))
        .order_by(Assignment.id)
    )
    return grouped(rows.scalars(), lambda a: a.ticket_id, ticket_ids)


async def latest_replies(
    session: AsyncSession, assignment_ids: Sequence[int]
) -> list[Reply | None]:
    rows = await session.execute(
        select(Reply)
        .where(Reply.assignment_id.in_(set(assignment_ids)))
        .ext(distinct_on(Reply.assignment_id))
        .order_by(Reply.assignment_id, Reply.id.desc())
    )
    return by_key(rows.scalars(), lambda r: r.assignment_id, assignment_ids)


async def return_requests(
    session: AsyncSession, assignment_ids: Sequence[int]
) -> list[list[ReturnRequest]]:
    rows = await session.execute(
        select(ReturnRequest)
        .where(ReturnRequest.assignment_id.in_(set(assignment_ids)))
        .order_by(ReturnRequest.id)
    )
    return grouped(rows.scalars(), lambda r: r.assignment_id, assignment_ids)


async def extension_requests(
    session: AsyncSession, assignment_ids: Sequence[int]
) -> list[list[ExtensionRequest]]:
    rows = await session.execute(
        select(ExtensionRequest)
        .where(ExtensionRequest.assignment_id.in_(set(assignment_ids)))
        .order_by(ExtensionRequest.id)
    )
    return grouped(rows.scalars(), lambda r: r.assignment_id, assignment_ids)


async def callbacks_by_ticket(
    session: AsyncSession, ticket_ids: Sequence[int]
) -> list[list[Callback]]:
    rows = await session.execute(
        select(Callback).where(Callback.ticket_id.in_(set(ticket_ids))).order_by(Callback.id)
    )
    return grouped(rows.scalars(), lambda c: c.ticket_id, ticket_ids)


async def ticket_events(
    session: AsyncSession, ticket_id: int, first: int, after: str | None
) -> Page[Event]:
    q = select(Event).where(Event.ticket_id == ticket_id)
    return await key_page(session, q, Event.id, first, after)


async def log_pii_reads(session: AsyncSession, subject: str, ticket_ids: Sequence[int]) -> None:
    """Record that ``subject`` read these tickets' complainant data in clear."""
    session.add_all(
        PiiAccess(ticket_id=t, subject=subject, fields="complainantName,complainantPhone")
        for t in dict.fromkeys(ticket_ids)
    )
    await session.commit()
