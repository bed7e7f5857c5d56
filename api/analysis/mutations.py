"""Analysis mutations: a dispatcher corrects the repeat-complaint links (§4(5)6)."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from api.context import Info
from api.errors import UserError
from api.mutations import run
from api.relay import int_key
from api.tickets.types import Ticket
from domain.analysis import linking as al
from domain.tickets import models as tm
from domain.uow import UnitOfWork


@strawberry.type
class TicketLinkPayload:
    ticket: Ticket | None = strawberry.field(
        description="The first ticket of the input; read its related field for the result."
    )
    errors: list[UserError]


@strawberry.input
class LinkTicketsInput:
    ticket_id: strawberry.ID
    related_ticket_id: strawberry.ID
    note: str | None = strawberry.field(default=None, description="Why (at most 500 characters).")
    idempotency_key: str | None = None


@strawberry.input
class UnlinkTicketsInput:
    ticket_id: strawberry.ID
    related_ticket_id: strawberry.ID
    note: str = strawberry.field(description="Why they are not the same matter (required).")
    idempotency_key: str | None = None


def _payload(result: tuple[object, list[UserError]]) -> TicketLinkPayload:
    obj, errors = result
    return TicketLinkPayload(
        ticket=Ticket.of(obj) if isinstance(obj, tm.Ticket) else None, errors=errors
    )


@strawberry.type
class AnalysisMutation:
    @strawberry.mutation(
        description="Link two tickets on the same matter by hand (reason MANUAL). Needs the "
        "dispatcher role on either ticket's centre and sight of both; a ticket you may not see "
        "is answered as one that does not exist (NotFoundError)."
    )
    async def link_tickets(self, info: Info, input: LinkTicketsInput) -> TicketLinkPayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[tm.Ticket]:
            return al.link_tickets(
                uow=uow,
                actor=p,
                ticket_id=int_key(input.ticket_id, "Ticket", "ticketId"),
                related_id=int_key(input.related_ticket_id, "Ticket", "relatedTicketId"),
                note=input.note,
            )

        return _payload(await run(info, "linkTickets", input.idempotency_key, call))

    @strawberry.mutation(
        description="Remove every link between two tickets (automatic or manual), with the "
        "reason; the automatic rules will not link them again. Same permissions as linkTickets."
    )
    async def unlink_tickets(self, info: Info, input: UnlinkTicketsInput) -> TicketLinkPayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[tm.Ticket]:
            return al.unlink_tickets(
                uow=uow,
                actor=p,
                ticket_id=int_key(input.ticket_id, "Ticket", "ticketId"),
                related_id=int_key(input.related_ticket_id, "Ticket", "relatedTicketId"),
                note=input.note,
            )

        return _payload(await run(info, "unlinkTickets", input.idempotency_key, call))
