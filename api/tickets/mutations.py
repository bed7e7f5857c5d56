"""Ticket mutations: one per transition, each with typed errors and an optional idempotencyKey."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.context import Info
from api.errors import UserError
from api.mutations import Loaded, run
from api.relay import int_key
from api.tickets.types import (
    Assignment,
    Channel,
    OriginLevel,
    Outcome,
    Reply,
    Satisfaction,
    Ticket,
    Urgency,
)
from domain.tickets import models as m
from domain.tickets import reply_rules as rr
from domain.tickets import service as ts


@strawberry.type
class TicketPayload:
    ticket: Ticket | None
    errors: list[UserError]


@strawberry.type
class AssignmentPayload:
    assignment: Assignment | None
    errors: list[UserError]


@strawberry.type
class ReplyPayload:
    reply: Reply | None
    assignment: Assignment | None
    errors: list[UserError]


@strawberry.type
class CalendarDayPayload:
    date: date | None
    is_workday: bool | None
    errors: list[UserError]


def _ticket(result: Loaded) -> TicketPayload:
    obj, errors = result
    return TicketPayload(ticket=Ticket.of(obj) if obj else None, errors=errors)


def _assignment(result: Loaded) -> AssignmentPayload:
    obj, errors = result
    return AssignmentPayload(assignment=Assignment.of(obj) if obj else None, errors=errors)


async def _reply(info: Info, result: Loaded) -> ReplyPayload:
    obj, errors = result
    if obj is None:
        return ReplyPayload(reply=None, assignment=None, errors=errors)
    async with info.context.sessions() as s:
        a = await s.get(m.Assignment, obj.assignment_id)
        t = await s.get(m.Ticket, a.ticket_id) if a else None
    return ReplyPayload(
        reply=Reply.of(obj, anonymous=bool(t and t.anonymous)),
        assignment=Assignment.of(a) if a else None,
        errors=errors,
    )


# ---- inputs -------------------------------------------------------------------------------------
@strawberry.input
class ComplainantInput:
    name: str | None = None
    phone: str | None = None
    anonymous: bool = False


@strawberry.input
class CreateTicketInput:
    channel: Channel  # type: ignore[valid-type]
    origin_level: OriginLevel  # type: ignore[valid-type]
    category_code: str
    title: str
    content: str
    urgency: Urgency = m.Urgency.NORMAL  # type: ignore[valid-type]
    address: str | None = None
    division_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    complainant: ComplainantInput | None = None
    received_at: datetime | None = None
    centre_code: str | None = strawberry.field(
        default=None, description="Needed only when you may create tickets in several centres."
    )
    idempotency_key: str | None = None


@strawberry.input
class DispatchTicketInput:
    ticket_id: strawberry.ID
    lead_unit_id: strawberry.ID
    co_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    note: str | None = None
    due_at: datetime | None = strawberry.field(
        default=None, description="Override the channel's handling limit (e.g. by a decision)."
    )
    idempotency_key: str | None = None


@strawberry.input
class AssignmentActionInput:
    assignment_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class RequestReturnInput:
    assignment_id: strawberry.ID
    reason: str
    basis: str = strawberry.field(description="The legal or duty basis (相关依据).")
    suggested_unit: str = strawberry.field(description="Who should handle it instead.")
    verifier_name: str
    verifier_phone: str
    idempotency_key: str | None = None


@strawberry.input
class DecideInput:
    assignment_id: strawberry.ID
    approve: bool
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RequestExtensionInput:
    assignment_id: strawberry.ID
    reason: str
    proposed_due: datetime
    idempotency_key: str | None = None


@strawberry.input
class DecideExtensionInput:
    assignment_id: strawberry.ID
    approve: bool
    new_due: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class DraftReplyInput:
    assignment_id: strawberry.ID
    handler_name: str
    text: str
    outcome: Outcome  # type: ignore[valid-type]
    communication: str = ""
    handler_phone: str | None = None
    contacted_at: datetime | None = None
    citizen_satisfied: bool | None = None
    unsatisfied_reasons: str | None = None
    documents: list[str] = strawberry.field(default_factory=list)
    handling: str = ""
    idempotency_key: str | None = None


@strawberry.input
class ReviewReplyInput:
    assignment_id: strawberry.ID
    accept: bool
    reasons: str | None = None
    supplement_due: datetime | None = None
    idempotency_key: str | None = None


@strawberry.input
class RecordCallbackInput:
    ticket_id: strawberry.ID
    satisfaction: Satisfaction  # type: ignore[valid-type]
    actually_resolved: bool
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RedoTicketInput:
    ticket_id: strawberry.ID
    reason: str
    due_at: datetime | None = None
    idempotency_key: str | None = None


@strawberry.input
class CloseTicketInput:
    ticket_id: strawberry.ID
    note: str
    idempotency_key: str | None = None


@strawberry.input
class TicketActionInput:
    ticket_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class SetCalendarDayInput:
    date: date
    is_workday: bool
    note: str | None = None


def _tid(gid: strawberry.ID) -> int:
    return int_key(gid, "Ticket", "ticketId")


def _aid(gid: strawberry.ID) -> int:
    return int_key(gid, "Assignment", "assignmentId")


@strawberry.type
class TicketMutation:
    @strawberry.mutation(description="Receive a ticket from a channel (§3(1)).")
    async def create_ticket(self, info: Info, input: CreateTicketInput) -> TicketPayload:
        c = input.complainant or ComplainantInput()
        data = ts.NewTicket(
            channel=input.channel,
            origin_level=input.origin_level,
            category_code=input.category_code,
            title=input.title,
            content=input.content,
            urgency=input.urgency,
            address=input.address,
            division_code=input.division_code,
            latitude=input.latitude,
            longitude=input.longitude,
            complainant_name=c.name,
            complainant_phone=c.phone,
            anonymous=c.anonymous,
            received_at=input.received_at,
            centre_code=input.centre_code,
        )
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "createTicket",
                input.idempotency_key,
                lambda uow: ts.create_ticket(uow=uow, actor=p, data=data),
            )
        )

    @strawberry.mutation(description="Dispatch to a lead unit and co-units (§3(2)).")
    async def dispatch_ticket(self, info: Info, input: DispatchTicketInput) -> TicketPayload:
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "dispatchTicket",
                input.idempotency_key,
                lambda uow: ts.dispatch_ticket(
                    uow=uow,
                    actor=p,
                    ticket_id=_tid(input.ticket_id),
                    lead_unit_id=int_key(input.lead_unit_id, "Unit", "leadUnitId"),
                    co_unit_ids=[int_key(u, "Unit", "coUnitIds") for u in input.co_unit_ids],
                    note=input.note,
                    due_at=input.due_at,
                ),
            )
        )

    @strawberry.mutation(description="Sign for an assignment (§3(3)); late is recorded.")
    async def sign_for(self, info: Info, input: AssignmentActionInput) -> AssignmentPayload:
        p = info.context.principal
        return _assignment(
            await run(
                info,
                "signFor",
                input.idempotency_key,
                lambda uow: ts.sign_for(uow=uow, actor=p, assignment_id=_aid(input.assignment_id)),
            )
        )

    @strawberry.mutation(description="Ask to return within 1 working day (§3(4)).")
    async def request_return(self, info: Info, input: RequestReturnInput) -> AssignmentPayload:
        p = info.context.principal
        data = ts.ReturnInput(
            reason=input.reason,
            basis=input.basis,
            suggested_unit=input.suggested_unit,
            verifier_name=input.verifier_name,
            verifier_phone=input.verifier_phone,
        )
        return _assignment(
            await run(
                info,
                "requestReturn",
                input.idempotency_key,
                lambda uow: ts.request_return(
                    uow=uow, actor=p, assignment_id=_aid(input.assignment_id), data=data
                ),
            )
        )

    @strawberry.mutation(description="Approve a return, or reject it: dispatched again, final.")
    async def decide_return(self, info: Info, input: DecideInput) -> AssignmentPayload:
        p = info.context.principal
        return _assignment(
            await run(
                info,
                "decideReturn",
                input.idempotency_key,
                lambda uow: ts.decide_return(
                    uow=uow,
                    actor=p,
                    assignment_id=_aid(input.assignment_id),
                    approve=input.approve,
                    note=input.note,
                ),
            )
        )

    @strawberry.mutation(description="Ask for more time, before the due time (§3(4)).")
    async def request_extension(
        self, info: Info, input: RequestExtensionInput
    ) -> AssignmentPayload:
        p = info.context.principal
        return _assignment(
            await run(
                info,
                "requestExtension",
                input.idempotency_key,
                lambda uow: ts.request_extension(
                    uow=uow,
                    actor=p,
                    assignment_id=_aid(input.assignment_id),
                    reason=input.reason,
                    proposed_due=input.proposed_due,
                ),
            )
        )

    @strawberry.mutation(description="Approve (optionally with another due time) or reject.")
    async def decide_extension(self, info: Info, input: DecideExtensionInput) -> AssignmentPayload:
        p = info.context.principal
        return _assignment(
            await run(
                info,
                "decideExtension",
                input.idempotency_key,
                lambda uow: ts.decide_extension(
                    uow=uow,
                    actor=p,
                    assignment_id=_aid(input.assignment_id),
                    approve=input.approve,
                    new_due=input.new_due,
                    note=input.note,
                ),
            )
        )

    @strawberry.mutation(description="A handler drafts the reply; lint and missing elements show.")
    async def draft_reply(self, info: Info, input: DraftReplyInput) -> ReplyPayload:
        p = info.context.principal
        data = ts.ReplyInput(
            handler_name=input.handler_name,
            communication=input.communication,
            text=input.text,
            outcome=rr.Outcome(input.outcome),
            handler_phone=input.handler_phone,
            contacted_at=input.contacted_at,
            citizen_satisfied=input.citizen_satisfied,
            unsatisfied_reasons=input.unsatisfied_reasons,
            documents=tuple(input.documents),
            handling=input.handling,
        )
        return await _reply(
            info,
            await run(
                info,
                "draftReply",
                input.idempotency_key,
                lambda uow: ts.draft_reply(
                    uow=uow, actor=p, assignment_id=_aid(input.assignment_id), data=data
                ),
            ),
        )

    @strawberry.mutation(description="The unit's leader approves the draft (§3(6)).")
    async def approve_reply(self, info: Info, input: AssignmentActionInput) -> ReplyPayload:
        p = info.context.principal
        return await _reply(
            info,
            await run(
                info,
                "approveReply",
                input.idempotency_key,
                lambda uow: ts.approve_reply(
                    uow=uow, actor=p, assignment_id=_aid(input.assignment_id)
                ),
            ),
        )

    @strawberry.mutation(description="Send the approved reply to the centre.")
    async def submit_reply(self, info: Info, input: AssignmentActionInput) -> ReplyPayload:
        p = info.context.principal
        return await _reply(
            info,
            await run(
                info,
                "submitReply",
                input.idempotency_key,
                lambda uow: ts.submit_reply(
                    uow=uow, actor=p, assignment_id=_aid(input.assignment_id)
                ),
            ),
        )

    @strawberry.mutation(description="The centre accepts, or sends back for supplement (§3(7)).")
    async def review_reply(self, info: Info, input: ReviewReplyInput) -> ReplyPayload:
        p = info.context.principal
        return await _reply(
            info,
            await run(
                info,
                "reviewReply",
                input.idempotency_key,
                lambda uow: ts.review_reply(
                    uow=uow,
                    actor=p,
                    assignment_id=_aid(input.assignment_id),
                    accept=input.accept,
                    reasons=input.reasons,
                    supplement_due=input.supplement_due,
                ),
            ),
        )

    @strawberry.mutation(description="Record the callback (§3(8)); unsatisfied waits for a redo.")
    async def record_callback(self, info: Info, input: RecordCallbackInput) -> TicketPayload:
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "recordCallback",
                input.idempotency_key,
                lambda uow: ts.record_callback(
                    uow=uow,
                    actor=p,
                    ticket_id=_tid(input.ticket_id),
                    satisfaction=rr.Satisfaction(input.satisfaction),
                    actually_resolved=input.actually_resolved,
                    note=input.note,
                ),
            )
        )

    @strawberry.mutation(description="退回重办 (§3(9)): back to the lead unit with a new limit.")
    async def redo_ticket(self, info: Info, input: RedoTicketInput) -> TicketPayload:
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "redoTicket",
                input.idempotency_key,
                lambda uow: ts.redo_ticket(
                    uow=uow,
                    actor=p,
                    ticket_id=_tid(input.ticket_id),
                    reason=input.reason,
                    due_at=input.due_at,
                ),
            )
        )

    @strawberry.mutation(description="Close a replied ticket whose citizen stays unsatisfied.")
    async def close_ticket(self, info: Info, input: CloseTicketInput) -> TicketPayload:
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "closeTicket",
                input.idempotency_key,
                lambda uow: ts.close_ticket(
                    uow=uow, actor=p, ticket_id=_tid(input.ticket_id), note=input.note
                ),
            )
        )

    @strawberry.mutation(description="Archive a closed ticket: read-only from then on (§3(10)).")
    async def archive_ticket(self, info: Info, input: TicketActionInput) -> TicketPayload:
        p = info.context.principal
        return _ticket(
            await run(
                info,
                "archiveTicket",
                input.idempotency_key,
                lambda uow: ts.archive_ticket(uow=uow, actor=p, ticket_id=_tid(input.ticket_id)),
            )
        )

    @strawberry.mutation(description="Set a day's working status; wins over the holiday data.")
    async def set_calendar_day(self, info: Info, input: SetCalendarDayInput) -> CalendarDayPayload:
        p = info.context.principal
        obj, errors = await run(
            info,
            "setCalendarDay",
            None,
            lambda uow: ts.set_calendar_day(
                uow=uow, actor=p, day=input.date, is_workday=input.is_workday, note=input.note
            ),
        )
        return CalendarDayPayload(
            date=obj.day if obj else None,
            is_workday=obj.is_workday if obj else None,
            errors=errors,
        )
