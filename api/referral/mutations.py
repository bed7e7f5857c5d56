"""Referral mutations: a lower centre dispatches a referred ticket on to its own members."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.mutations import run
from api.relay import int_key
from api.tickets.mutations import AssignmentPayload, _assignment
from domain.referral import service as rs


@strawberry.input
class DispatchReferralInput:
    assignment_id: strawberry.ID = strawberry.field(
        description="The referral: an assignment to the unit that stands for your centre."
    )
    lead_unit_id: strawberry.ID
    co_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    note: str | None = None
    due_at: datetime | None = strawberry.field(
        default=None, description="At most the referral's own due time (the default caps it)."
    )
    idempotency_key: str | None = None


@strawberry.type
class ReferralMutation:
    @strawberry.mutation(
        description="转办/下派: dispatch a ticket referred to your centre on to your own members "
        "(departments, or the unit that stands for a township centre). Returns the referral."
    )
    async def dispatch_referral(
        self, info: Info, input: DispatchReferralInput
    ) -> AssignmentPayload:
        p = info.context.principal
        return _assignment(
            await run(
                info,
                "dispatchReferral",
                input.idempotency_key,
                lambda uow: rs.dispatch_referral(
                    uow=uow,
                    actor=p,
                    assignment_id=int_key(input.assignment_id, "Assignment", "assignmentId"),
                    lead_unit_id=int_key(input.lead_unit_id, "Unit", "leadUnitId"),
                    co_unit_ids=[int_key(u, "Unit", "coUnitIds") for u in input.co_unit_ids],
                    note=input.note,
                    due_at=input.due_at,
                ),
            )
        )
