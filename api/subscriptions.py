"""Subscriptions over graphql-transport-ws: ticket events (resumable) and deadline alerts.

``ticketEvents(filter, after)`` joins this instance's event hub *first*, then replays from the
event table every visible event after ``after`` up to the hub's position at joining, then
continues with the live events after that position. Ids are in commit order (see
``domain.events``), so the seam has no gap and no duplicate; an id already delivered is never
delivered again. The id of each event is the cursor to pass as ``after`` when reconnecting.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from api.context import Context, Info, Loaders
from api.relay import int_key, to_global_id
from api.tickets.types import Assignment, Ticket
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.eventstream import StreamEvent, StreamFilter, Subscriber
from domain.tickets import stream

REPLAY_PAGE = 200

# Close codes of this server beyond those graphql-transport-ws defines (4400, 4401, 4403, ...).
CLOSE_TOO_MANY_CONNECTIONS = 4430
CLOSE_SLOW_CONSUMER = 4431


@strawberry.input(description="Which ticket events to receive; every field given narrows.")
class TicketEventFilter:
    ticket_id: strawberry.ID | None = None
    centre_code: str | None = strawberry.field(
        default=None, description="Events concerning this centre (its tickets and its hops)."
    )
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Events concerning this unit's assignments."
    )
    types: list[str] | None = strawberry.field(
        default=None, description="Event types, e.g. assignment.signed, reply.accepted."
    )


@strawberry.type(description="A committed workflow event of a ticket the subscriber may read.")
class TicketEvent:
    id: strawberry.ID = strawberry.field(
        description="The event id, in commit order: pass the last one seen as `after` to resume."
    )
    at: datetime
    type: str
    actor: str
    entity_type: str
    entity_id: str
    ticket_id: strawberry.ID
    before: JSON | None
    after: JSON | None
    _ticket_key: strawberry.Private[int]

    @strawberry.field(description="The ticket as it is now.")
    async def ticket(self, info: Info) -> Ticket | None:
        t = await info.context.loaders.ticket_by_id.load(self._ticket_key)
        return Ticket.of(t) if t else None

    @classmethod
    def of(cls, e: StreamEvent) -> TicketEvent:
        assert e.ticket_id is not None
        return cls(
            id=strawberry.ID(str(e.id)),
            at=e.at,
            type=e.type,
            actor=e.actor,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            ticket_id=to_global_id("Ticket", e.ticket_id),
            before=cast(JSON, e.before),
            after=cast(JSON, e.after),
            _ticket_key=e.ticket_id,
        )


DeadlineAlertKind = strawberry.enum(
    stream.AlertKind, name="DeadlineAlertKind", description="What a deadline alert warns of."
)


@strawberry.type(description="An assignment about to breach (or breaching) a time limit.")
class DeadlineAlert:
    id: strawberry.ID = strawberry.field(description="The event id (usable as `after`).")
    at: datetime
    kind: DeadlineAlertKind  # type: ignore[valid-type]
    ticket_id: strawberry.ID
    assignment_id: strawberry.ID
    unit_id: strawberry.ID
    sign_by: datetime | None
    due_at: datetime | None
    _assignment_key: strawberry.Private[int]

    @strawberry.field
    async def assignment(self, info: Info) -> Assignment | None:
        a = await info.context.loaders.assignment_by_id.load(self._assignment_key)
        return Assignment.of(a) if a else None

    @classmethod
    def of(cls, e: StreamEvent) -> DeadlineAlert:
        after = e.after or {}

        def when(key: str) -> datetime | None:
            v = after.get(key)
            return datetime.fromisoformat(v) if isinstance(v, str) else None

        return cls(
            id=strawberry.ID(str(e.id)),
            at=e.at,
            kind=stream.ALERT_KINDS[e.type],
            ticket_id=to_global_id("Ticket", e.ticket_id or 0),
            assignment_id=to_global_id("Assignment", e.entity_id),
            unit_id=to_global_id("Unit", after.get("unitId", 0)),
            sign_by=when("signBy"),
            due_at=when("dueAt"),
            _assignment_key=int(e.entity_id),
        )


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 18:
        raise InvalidInput("after must be an event id from this stream", field="after")
    return int(after)


async def _events(
    ctx: Context, flt: StreamFilter, after: int | None
) -> AsyncGenerator[list[StreamEvent], None]:
    """Batches of visible events: the replay, then live. Ends when the connection is cut off."""
    hub = ctx.hub
    if hub is None:
        raise NotPermitted("subscriptions are not available on this server")
    sub: Subscriber = hub.subscribe(flt, ctx.settings.subscription_max_pending)
    try:
        vis = await ctx.visibility()
        reloads = ctx.enforcer.reloads
        last = sub.position if after is None else after
        while last < sub.position:  # the replay, in pages
            async with ctx.sessions() as s:
                page = await stream.replay(s, vis, flt, last, sub.position, REPLAY_PAGE)
            if page:
                yield page
                last = page[-1].id
            if len(page) < REPLAY_PAGE:
                break
        last = max(last, sub.position)
        while True:
            batch = await sub.next_batch()
            if sub.overflowed:
                await ctx.close_connection(
                    CLOSE_SLOW_CONSUMER,
                    f"slow consumer: more than {sub.max_pending} events behind; "
                    f"reconnect and resume with after={last}",
                )
                return
            if sub.closed:
                return
            if ctx.enforcer.reloads != reloads:  # a policy changed: scope again, or stop
                reloads = ctx.enforcer.reloads
                await ctx.refresh_principal()
                vis = await ctx.visibility()
            batch = [e for e in batch if e.id > last]
            if not batch:
                continue
            async with ctx.sessions() as s:
                visible = await stream.visible_batch(s, vis, batch)
            last = batch[-1].id
            if visible:
                yield visible
    finally:
        hub.unsubscribe(sub)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Committed ticket events you may read, as they commit. With `after` (the id of the "
            "last event you saw) the missed events are replayed first, with no gap or duplicate."
        )
    )
    async def ticket_events(
        self,
        info: Info,
        filter: TicketEventFilter | None = None,
        after: strawberry.ID | None = None,
    ) -> AsyncGenerator[TicketEvent, None]:
        ctx = info.context
        ctx.require_principal()
        f = filter or TicketEventFilter()
        flt = StreamFilter(
            ticket_id=int_key(f.ticket_id, "Ticket", "filter.ticketId") if f.ticket_id else None,
            centre_code=f.centre_code,
            unit_id=int_key(f.unit_id, "Unit", "filter.unitId") if f.unit_id else None,
            types=frozenset(f.types or ()),
        )
        async for batch in _events(ctx, flt, _cursor(after)):
            ctx.loaders = Loaders(ctx)  # "the ticket as it is now", not as first loaded
            for e in batch:
                yield TicketEvent.of(e)

    @strawberry.subscription(
        description=(
            "Deadline alerts for a dispatcher screen: assignments the centre dispatched that are "
            "about to breach their sign-for limit or their handling limit (催办), or have "
            "breached one — pushed by the sweeper."
        )
    )
    async def deadline_alerts(
        self, info: Info, centre_code: str, after: strawberry.ID | None = None
    ) -> AsyncGenerator[DeadlineAlert, None]:
        ctx = info.context
        ctx.require_principal()
        vis = await ctx.visibility()
        if centre_code not in vis.ticket_centres:
            raise NotFound(f"no centre {centre_code!r}")
        flt = StreamFilter(centre_code=centre_code, types=frozenset(stream.ALERT_KINDS))
        async for batch in _events(ctx, flt, _cursor(after)):
            ctx.loaders = Loaders(ctx)
            ids = {int(e.entity_id) for e in batch}
            async with ctx.sessions() as s:
                own = await stream.dispatched_by(s, centre_code, ids)
            for e in batch:
                if int(e.entity_id) in own:
                    yield DeadlineAlert.of(e)
