"""Meeting mutations: schedule, record a decision, set the default participants."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.errors import UserError
from api.meetings.types import Meeting, MeetingDecision, MeetingKind, MeetingUnit, Principle
from api.mutations import Loaded, run
from api.relay import int_key
from api.tickets.types import Ticket
from domain.supervision import meetings as mq
from domain.supervision import models as m
from domain.tickets import models as tm
from domain.uow import UnitOfWork


# ---- payloads -----------------------------------------------------------------------------------
@strawberry.type
class MeetingPayload:
    meeting: Meeting | None
    errors: list[UserError]


@strawberry.type
class MeetingDecisionPayload:
    decision: MeetingDecision | None
    ticket: Ticket | None = strawberry.field(description="The ticket, dispatched by the decision.")
    errors: list[UserError]


@strawberry.type
class MeetingDefaultsPayload:
    kind: MeetingKind | None  # type: ignore[valid-type]
    units: list[MeetingUnit] | None
    errors: list[UserError]


# ---- inputs -------------------------------------------------------------------------------------
@strawberry.input
class ScheduleMeetingInput:
    kind: MeetingKind  # type: ignore[valid-type]
    convened_by: str = strawberry.field(
        description="The convening centre's code (a joint meeting: the city centre)."
    )
    held_at: datetime
    agenda: str
    participant_unit_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Added to the kind's defaults (for a joint meeting: any unit, e.g. the units "
        "in dispute; for a special meeting: members of the convening centre).",
    )
    include_defaults: bool = strawberry.field(
        default=True, description="false: only the units given here take part."
    )
    ticket_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Tickets of the convening centre to discuss."
    )
    idempotency_key: str | None = None


@strawberry.input
class RecordMeetingDecisionInput:
    meeting_id: strawberry.ID
    ticket_id: strawberry.ID
    principle: Principle  # type: ignore[valid-type]
    lead_unit_id: strawberry.ID
    co_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    deadline: datetime = strawberry.field(description="The decided due time (in the future).")
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class SetMeetingDefaultsInput:
    kind: MeetingKind  # type: ignore[valid-type]
    unit_ids: list[strawberry.ID] = strawberry.field(description="Members of the city centre.")


def _meeting(result: Loaded) -> MeetingPayload:
    obj, errors = result
    return MeetingPayload(meeting=Meeting.of(obj) if obj else None, errors=errors)


async def _decision(info: Info, result: Loaded) -> MeetingDecisionPayload:
    obj, errors = result
    if obj is None:
        return MeetingDecisionPayload(decision=None, ticket=None, errors=errors)
    async with info.context.sessions() as s:
        t = await s.get(tm.Ticket, obj.ticket_id)
    return MeetingDecisionPayload(
        decision=MeetingDecision.of(obj), ticket=Ticket.of(t) if t else None, errors=errors
    )


@strawberry.type
class MeetingMutation:
    @strawberry.mutation(
        description="Convene a joint (city centre only) or special meeting (§5(3)4–5)."
    )
    async def schedule_meeting(self, info: Info, input: ScheduleMeetingInput) -> MeetingPayload:
        p = info.context.principal

        async def call(uow: UnitOfWork) -> m.Meeting:
            data = mq.NewMeeting(
                kind=m.MeetingKind(input.kind),
                convened_by=input.convened_by,
                held_at=input.held_at,
                agenda=input.agenda,
                participant_unit_ids=[
                    int_key(u, "Unit", "participantUnitIds") for u in input.participant_unit_ids
                ],
                include_defaults=input.include_defaults,
                ticket_ids=[int_key(t, "Ticket", "ticketIds") for t in input.ticket_ids],
            )
            return await mq.schedule_meeting(uow=uow, actor=p, data=data)

        return _meeting(await run(info, "scheduleMeeting", input.idempotency_key, call))

    @strawberry.mutation(
        description="Record a meeting's decision on a ticket: it is dispatched to the designated "
        "lead and co-units with the decided deadline, and they may not return it."
    )
    async def record_meeting_decision(
        self, info: Info, input: RecordMeetingDecisionInput
    ) -> MeetingDecisionPayload:
        p = info.context.principal

        async def call(uow: UnitOfWork) -> m.MeetingDecision:
            data = mq.NewDecision(
                meeting_id=int_key(input.meeting_id, "Meeting", "meetingId"),
                ticket_id=int_key(input.ticket_id, "Ticket", "ticketId"),
                principle=m.Principle(input.principle),
                lead_unit_id=int_key(input.lead_unit_id, "Unit", "leadUnitId"),
                co_unit_ids=[int_key(u, "Unit", "coUnitIds") for u in input.co_unit_ids],
                deadline=input.deadline,
                note=input.note,
            )
            return await mq.record_meeting_decision(uow=uow, actor=p, data=data)

        return await _decision(
            info, await run(info, "recordMeetingDecision", input.idempotency_key, call)
        )

    @strawberry.mutation(
        description="Set the units invited to every meeting of a kind (the city's centre admin)."
    )
    async def set_meeting_defaults(
        self, info: Info, input: SetMeetingDefaultsInput
    ) -> MeetingDefaultsPayload:
        p = info.context.principal
        kind = m.MeetingKind(input.kind)
        obj, errors = await run(
            info,
            "setMeetingDefaults",
            None,
            lambda uow: mq.set_meeting_defaults(
                uow=uow,
                actor=p,
                kind=kind,
                unit_ids=[int_key(u, "Unit", "unitIds") for u in input.unit_ids],
            ),
        )
        if errors:
            return MeetingDefaultsPayload(kind=None, units=None, errors=errors)
        return MeetingDefaultsPayload(
            kind=kind, units=await MeetingUnit.many(info, list(obj)), errors=[]
        )
