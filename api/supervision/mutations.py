"""Supervision mutations: open, respond, close, escalate — typed errors, optional idempotencyKey."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

import strawberry

from api.context import Info
from api.errors import UserError
from api.mutations import Loaded, run
from api.relay import int_key
from api.supervision.types import (
    Grounds,
    SupervisionCase,
    SupervisionForm,
    SupervisionOutcome,
    SupervisionResponse,
)
from domain.supervision import models as m
from domain.supervision import service as ss
from domain.uow import UnitOfWork


@strawberry.type
class SupervisionCasePayload:
    supervision_case: SupervisionCase | None
    errors: list[UserError]


@strawberry.type
class SupervisionResponsePayload:
    response: SupervisionResponse | None
    supervision_case: SupervisionCase | None
    errors: list[UserError]


def _case(result: Loaded) -> SupervisionCasePayload:
    obj, errors = result
    return SupervisionCasePayload(
        supervision_case=SupervisionCase.of(obj) if obj else None, errors=errors
    )


async def _response(info: Info, result: Loaded) -> SupervisionResponsePayload:
    obj, errors = result
    if obj is None:
        return SupervisionResponsePayload(response=None, supervision_case=None, errors=errors)
    async with info.context.sessions() as s:
        c = await s.get(m.SupervisionCase, obj.case_id)
    assert c is not None
    return SupervisionResponsePayload(
        response=SupervisionResponse.of(obj, c.deadline),
        supervision_case=SupervisionCase.of(c),
        errors=errors,
    )


# ---- inputs -------------------------------------------------------------------------------------
@strawberry.input
class OpenSupervisionInput:
    target_unit_ids: list[strawberry.ID] = strawberry.field(
        description="Units to supervise: members of the centre you supervise. The lead and "
        "co-units are added when not listed."
    )
    grounds: list[Grounds] = strawberry.field(  # type: ignore[valid-type]
        description="One or more of §5(2); OTHER needs a note."
    )
    form: SupervisionForm  # type: ignore[valid-type]
    deadline: datetime = strawberry.field(description="When the units must have responded.")
    ticket_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Linked tickets (you must be able to see them)."
    )
    lead_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="主办单位: required when the case names several units."
    )
    co_unit_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="协办单位; every non-lead unit of the case is one."
    )
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RespondSupervisionInput:
    case_id: strawberry.ID
    unit_id: strawberry.ID = strawberry.field(description="The target unit you answer for.")
    content: str = strawberry.field(description="What was done.")
    done_at: datetime = strawberry.field(description="When it was done.")
    idempotency_key: str | None = None


@strawberry.input
class CloseSupervisionInput:
    case_id: strawberry.ID
    outcome: SupervisionOutcome  # type: ignore[valid-type]
    note: str | None = strawberry.field(
        default=None, description="Required unless the outcome is RESOLVED."
    )
    idempotency_key: str | None = None


@strawberry.input
class EscalateSupervisionInput:
    case_id: strawberry.ID
    note: str = strawberry.field(description="The special report (专报).")
    idempotency_key: str | None = None


def _cid(gid: strawberry.ID) -> int:
    return int_key(gid, "SupervisionCase", "caseId")


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(
        description="督办 (§5): open a case over members of a centre you supervise. Units you "
        "may not supervise are answered exactly as units that do not exist."
    )
    async def open_supervision(
        self, info: Info, input: OpenSupervisionInput
    ) -> SupervisionCasePayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[m.SupervisionCase]:
            return ss.open_supervision(
                uow=uow,
                actor=p,
                target_unit_ids=[
                    int_key(u, "Unit", "targetUnitIds") for u in input.target_unit_ids
                ],
                ticket_ids=[int_key(t, "Ticket", "ticketIds") for t in input.ticket_ids],
                grounds=[m.Grounds(g) for g in input.grounds],
                form=m.SupervisionForm(input.form),
                deadline=input.deadline,
                lead_unit_id=(
                    int_key(input.lead_unit_id, "Unit", "leadUnitId")
                    if input.lead_unit_id is not None
                    else None
                ),
                co_unit_ids=[int_key(u, "Unit", "coUnitIds") for u in input.co_unit_ids],
                note=input.note,
            )

        return _case(await run(info, "openSupervision", input.idempotency_key, call))

    @strawberry.mutation(
        description="A target unit reports what it did; when every target has, RESPONDED."
    )
    async def respond_supervision(
        self, info: Info, input: RespondSupervisionInput
    ) -> SupervisionResponsePayload:
        p = info.context.principal
        return await _response(
            info,
            await run(
                info,
                "respondSupervision",
                input.idempotency_key,
                lambda uow: ss.respond_supervision(
                    uow=uow,
                    actor=p,
                    case_id=_cid(input.case_id),
                    unit_id=int_key(input.unit_id, "Unit", "unitId"),
                    content=input.content,
                    done_at=input.done_at,
                ),
            ),
        )

    @strawberry.mutation(description="The supervising centre closes the case with its outcome.")
    async def close_supervision(
        self, info: Info, input: CloseSupervisionInput
    ) -> SupervisionCasePayload:
        p = info.context.principal
        return _case(
            await run(
                info,
                "closeSupervision",
                input.idempotency_key,
                lambda uow: ss.close_supervision(
                    uow=uow,
                    actor=p,
                    case_id=_cid(input.case_id),
                    outcome=m.SupervisionOutcome(input.outcome),
                    note=input.note,
                ),
            )
        )

    @strawberry.mutation(
        description="专报 (§5(3)6): report the case to the centre above, which then reads it "
        "(read-only). A city case has no centre above."
    )
    async def escalate_supervision(
        self, info: Info, input: EscalateSupervisionInput
    ) -> SupervisionCasePayload:
        p = info.context.principal
        return _case(
            await run(
                info,
                "escalateSupervision",
                input.idempotency_key,
                lambda uow: ss.escalate_supervision(
                    uow=uow, actor=p, case_id=_cid(input.case_id), note=input.note
                ),
            )
        )
