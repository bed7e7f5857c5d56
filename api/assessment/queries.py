"""Assessment queries: a centre's month, its year, the scheme versions."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from api.assessment.types import AnnualAssessment, Assessment, ScoringScheme
from api.context import Info
from domain.assessment import models as m
from domain.assessment import queries as aq
from domain.assessment.service import parse_month
from domain.errors import InvalidInput


@strawberry.type
class AssessmentQuery:
    @strawberry.field(
        description="A centre's assessment of a month (\"2026-11\"): every member's score by "
        "rank, the bottom three, the scheme version and the status. Null when not computed, or "
        "not your centre's (its supervisors and leaders read it)."
    )
    async def assessment(self, info: Info, centre_code: str, month: str) -> Assessment | None:
        ctx = info.context
        p = ctx.require_principal()
        mo = parse_month(month)
        async with ctx.sessions() as s:
            v = await aq.month_view(s, ctx.enforcer, p, centre_code, mo)
        return Assessment.of(v) if v else None

    @strawberry.field(
        description="年度综合得分 (§6): each member's mean score over the year's published months, "
        "ranked, with the bottom three. Null when not your centre's."
    )
    async def annual_assessment(
        self, info: Info, centre_code: str, year: int
    ) -> AnnualAssessment | None:
        ctx = info.context
        p = ctx.require_principal()
        if not 2000 <= year <= 2100:
            raise InvalidInput("year out of range", field="year")
        async with ctx.sessions() as s:
            v = await aq.annual_view(s, ctx.enforcer, p, centre_code, year)
        return AnnualAssessment.of(v) if v else None

    @strawberry.field(description="Every version of the scoring scheme, newest first.")
    async def scoring_schemes(self, info: Info) -> list[ScoringScheme]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.sessions() as s:
            rows = (
                await s.execute(select(m.ScoringScheme).order_by(m.ScoringScheme.version.desc()))
            ).scalars()
            return [ScoringScheme.of(r) for r in rows]
