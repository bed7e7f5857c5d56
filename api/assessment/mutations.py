"""Assessment mutations: compute, publish, attention score, scheme version — typed errors,
optional idempotencyKey."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.assessment.types import Assessment, AttentionScore, ScoringScheme
from api.context import Info
from api.errors import UserError
from api.mutations import Loaded, run
from api.relay import int_key
from domain.assessment import models as m
from domain.assessment import queries as aq
from domain.assessment import service as svc

# What an idempotent replay of these mutations loads again by id.


@strawberry.type
class AssessmentPayload:
    assessment: Assessment | None
    errors: list[UserError]


@strawberry.type
class AttentionScorePayload:
    attention_score: AttentionScore | None
    errors: list[UserError]


@strawberry.type
class ScoringSchemePayload:
    scoring_scheme: ScoringScheme | None
    errors: list[UserError]


@strawberry.input
class ComputeAssessmentInput:
    centre_code: str
    month: str = strawberry.field(description='The month, e.g. "2026-11" (Asia/Shanghai).')
    idempotency_key: str | None = None


@strawberry.input
class PublishAssessmentInput:
    centre_code: str
    month: str
    idempotency_key: str | None = None


@strawberry.input
class SetAttentionScoreInput:
    centre_code: str
    unit_id: strawberry.ID = strawberry.field(description="A member unit of the centre.")
    month: str
    score: Decimal = strawberry.field(description="重视程度, 0–100, at most two decimals.")
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class CreateScoringSchemeInput:
    name: str
    effective_from: date = strawberry.field(description="The first day of a month.")
    body: JSON = strawberry.field(description="The scheme (see docs/ASSESSMENT.md).")
    note: str | None = None
    idempotency_key: str | None = None


async def _assessment(info: Info, result: Loaded) -> AssessmentPayload:
    obj, errors = result
    if obj is None:
        return AssessmentPayload(assessment=None, errors=errors)
    ctx = info.context
    async with ctx.sessions() as s:
        v = await aq.month_view(
            s, ctx.enforcer, ctx.require_principal(), obj.centre_code, obj.month
        )
    return AssessmentPayload(assessment=Assessment.of(v) if v else None, errors=errors)


@strawberry.type
class AssessmentMutation:
    @strawberry.mutation(
        description="Score every member unit of your centre for a month from the event log "
        "(§6). Re-runnable: the same events give the same scores. A published month is frozen "
        "(ASSESSMENT_PUBLISHED). Another centre's assessment answers as not found."
    )
    async def compute_assessment(
        self, info: Info, input: ComputeAssessmentInput
    ) -> AssessmentPayload:
        p = info.context.principal

        async def call(uow: Any) -> m.AssessmentRun:
            return await svc.compute_assessment(
                uow=uow,
                actor=p,
                centre_code=input.centre_code,
                month=svc.parse_month(input.month),
            )

        return await _assessment(
            info, await run(info, "computeAssessment", input.idempotency_key, call)
        )

    @strawberry.mutation(
        description="Publish (freeze) a computed month: its scores no longer change, whatever "
        "events arrive later."
    )
    async def publish_assessment(
        self, info: Info, input: PublishAssessmentInput
    ) -> AssessmentPayload:
        p = info.context.principal

        async def call(uow: Any) -> m.AssessmentRun:
            return await svc.publish_assessment(
                uow=uow,
                actor=p,
                centre_code=input.centre_code,
                month=svc.parse_month(input.month),
            )

        return await _assessment(
            info, await run(info, "publishAssessment", input.idempotency_key, call)
        )

    @strawberry.mutation(
        description="重视程度 (§6): the centre's attention score (0–100) of a member unit for a "
        "month; used by the next computation. Not once the month is published."
    )
    async def set_attention_score(
        self, info: Info, input: SetAttentionScoreInput
    ) -> AttentionScorePayload:
        p = info.context.principal

        async def call(uow: Any) -> m.AttentionScore:
            return await svc.set_attention_score(
                uow=uow,
                actor=p,
                centre_code=input.centre_code,
                unit_id=int_key(input.unit_id, "Unit", "unitId"),
                month=svc.parse_month(input.month),
                score=input.score,
                note=input.note,
            )

        obj, errors = await run(info, "setAttentionScore", input.idempotency_key, call)
        return AttentionScorePayload(
            attention_score=AttentionScore.of(obj) if obj else None, errors=errors
        )

    @strawberry.mutation(
        description="A new version of the scoring scheme, in force from the first day of a "
        "month (city centre administrators). Published months keep their version."
    )
    async def create_scoring_scheme(
        self, info: Info, input: CreateScoringSchemeInput
    ) -> ScoringSchemePayload:
        p = info.context.principal

        async def call(uow: Any) -> m.ScoringScheme:
            return await svc.create_scheme(
                uow=uow,
                actor=p,
                name=input.name,
                effective_from=input.effective_from,
                body=input.body,
                note=input.note,
            )

        obj, errors = await run(info, "createScoringScheme", input.idempotency_key, call)
        return ScoringSchemePayload(
            scoring_scheme=ScoringScheme.of(obj) if obj else None, errors=errors
        )
