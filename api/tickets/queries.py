"""Ticket queries: scoped lists, a unit's work list, a centre's queues, routing suggestions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import strawberry
from sqlalchemy import select

from api.context import Info
from api.registry.types import Unit
from api.relay import Connection, Edge, PageInfo, connection, int_key
from api.tickets.types import (
    Assignment,
    AssignmentStatus,
    Category,
    Channel,
    QueueItem,
    QueueKind,
    Ticket,
    TicketOrder,
    TicketStatus,
    UnitSuggestion,
    WorkKind,
)
from domain.calendar import TZ
from domain.errors import InvalidInput
from domain.pagination import clamp_first
from domain.tickets import models as m
from domain.tickets import queries as tq
from domain.tickets import routing
from domain.tickets.service import load_calendar


@strawberry.input
class TicketFilter:
    status: TicketStatus | None = None  # type: ignore[valid-type]
    channel: Channel | None = None  # type: ignore[valid-type]
    category: str | None = strawberry.field(
        default=None, description="A category code; a top-level code includes its children."
    )
    unit_id: strawberry.ID | None = None
    centre_code: str | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    search: str | None = strawberry.field(default=None, description="Title, content or number.")
    referred_to: str | None = strawberry.field(
        default=None, description="Tickets referred to this centre at some hop (转办/下派)."
    )
    referred_from: str | None = strawberry.field(
        default=None, description="Tickets this centre referred down to a lower centre."
    )


@strawberry.input
class AssignmentFilter:
    kind: WorkKind = tq.WorkKind.ALL  # type: ignore[valid-type]
    status: AssignmentStatus | None = None  # type: ignore[valid-type]


@strawberry.type(description="One day of the working-day calendar.")
class CalendarDayInfo:
    date: date
    is_workday: bool
    overridden: bool = strawberry.field(description="Set by an administrator.")


@strawberry.type
class TicketQuery:
    @strawberry.field(description="Tickets in your scope (a centre's own, a unit's assigned).")
    async def tickets(
        self,
        info: Info,
        filter: TicketFilter | None = None,
        order_by: TicketOrder = tq.TicketOrder.RECEIVED_DESC,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Ticket]:
        ctx = info.context
        vis = await ctx.visibility()
        f = filter or TicketFilter()
        n = clamp_first(first, ctx.settings.max_page_size)
        domain_filter = tq.TicketFilter(
            status=f.status,
            channel=f.channel,
            category=f.category,
            unit_id=int_key(f.unit_id, "Unit", "unitId") if f.unit_id else None,
            centre_code=f.centre_code,
            overdue=f.overdue,
            due_before=f.due_before,
            received_from=f.received_from,
            received_to=f.received_to,
            search=f.search,
            referred_to=f.referred_to,
            referred_from=f.referred_from,
        )
        async with ctx.sessions() as s:
            page = await tq.list_tickets(
                s, vis, domain_filter, order_by, n, after, datetime.now(TZ)
            )
        return connection(page, Ticket.of)  # type: ignore[arg-type]

    @strawberry.field(description="A ticket by global ID; null when missing or not yours.")
    async def ticket(self, info: Info, id: strawberry.ID) -> Ticket | None:
        t = await info.context.loaders.ticket_by_id.load(int_key(id, "Ticket"))
        return Ticket.of(t) if t else None

    @strawberry.field(description="Your units' work list, most urgent first by id.")
    async def my_assignments(
        self,
        info: Info,
        filter: AssignmentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Assignment]:
        ctx = info.context
        vis = await ctx.visibility()
        f = filter or AssignmentFilter()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await tq.my_assignments(s, vis, f.kind, f.status, n, after)
        return connection(page, Assignment.of)  # type: ignore[arg-type]

    @strawberry.field(description="A dispatcher's queue over the centres you act for.")
    async def centre_queue(
        self,
        info: Info,
        kind: QueueKind,  # type: ignore[valid-type]
        centre_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[QueueItem]:
        ctx = info.context
        scope = ctx.require_principal().scope
        centres = scope.centres_for("ticket", tq.QUEUE_ACTION[kind])
        if centre_code is not None:
            centres = centres & {centre_code}
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await tq.centre_queue(s, centres, kind, n, after)
        edges = [
            Edge(
                cursor=c,
                node=QueueItem(ticket=Ticket.of(t), assignment=Assignment.of(a) if a else None),
            )
            for c, (t, a) in zip(page.cursors, page.items, strict=True)
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total,
        )

    @strawberry.field(description="Candidate units for a ticket, best first, with their rule.")
    async def suggest_units(self, info: Info, ticket_id: strawberry.ID) -> list[UnitSuggestion]:
        ctx = info.context
        t = await ctx.loaders.ticket_by_id.load(int_key(ticket_id, "Ticket", "ticketId"))
        if t is None:
            return []
        code = t.category_code
        codes = {code, code.split(".")[0]}
        async with ctx.sessions() as s:
            rows = (
                await s.execute(
                    select(m.RoutingRule).where(
                        m.RoutingRule.category_code.in_(codes), m.RoutingRule.active
                    )
                )
            ).scalars()
            rules = [
                routing.Rule(
                    rule_id=r.id,
                    category_code=r.category_code,
                    division_prefix=r.division_prefix,
                    unit_id=r.unit_id,
                    priority=r.priority,
                    note=r.note,
                )
                for r in rows
            ]
        ranked = routing.rank_candidates(rules, code, t.division_code)
        # Only units the ticket's centre may dispatch to: its own members.
        members = [
            c
            for c in ranked
            if ctx.enforcer.has_member(f"unit:{c.unit_id}", f"centre:{t.centre_code}/")
        ]
        units = await ctx.loaders.unit_by_id.load_many([c.unit_id for c in members])
        return [
            UnitSuggestion(
                unit=Unit.of(u),
                score=c.score,
                rule_category=c.rule.category_code,
                rule_division_prefix=c.rule.division_prefix,
                rule_priority=c.rule.priority,
                rule_note=c.rule.note,
            )
            for c, u in zip(members, units, strict=True)
            if u is not None and u.active
        ]

    @strawberry.field(description="The category taxonomy (two levels).")
    async def categories(self, info: Info, parent_code: str | None = None) -> list[Category]:
        info.context.require_principal()
        async with info.context.sessions() as s:
            q = select(m.Category).where(m.Category.active)
            q = q.where(
                m.Category.parent_code == parent_code
                if parent_code
                else m.Category.parent_code.is_(None)
            )
            rows = (await s.execute(q.order_by(m.Category.code))).scalars()
            return [Category.of(c) for c in rows]

    @strawberry.field(description="Working days between two dates (at most 366 days).")
    async def calendar_days(self, info: Info, start: date, end: date) -> list[CalendarDayInfo]:
        info.context.require_principal()
        if end < start or (end - start).days > 366:
            raise InvalidInput("give 0–366 days, end not before start", field="end")
        async with info.context.sessions() as s:
            cal = await load_calendar(s)
        out = []
        day = start
        while day <= end:
            out.append(
                CalendarDayInfo(
                    date=day, is_workday=cal.is_workday(day), overridden=day in cal.overrides
                )
            )
            day += timedelta(days=1)
        return out
