"""GraphQL types of the monthly assessment (§6): scores, their breakdown, the annual mean."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.registry.types import Centre, Unit
from api.relay import to_global_id
from api.tickets.types import OriginLevel
from domain.assessment import models as m
from domain.assessment import queries as aq
from domain.assessment.scheme import Indicator
from domain.assessment.service import month_str
from domain.tickets.models import OriginLevel as OriginLevelRow

AssessmentStatus = strawberry.enum(
    m.RunStatus, description="DRAFT: computed, may be computed again; PUBLISHED: frozen."
)
AssessmentIndicator = strawberry.enum(
    Indicator, description="An indicator of the monthly assessment (docs/ASSESSMENT.md)."
)


@strawberry.type(description="A ticket that cost points: its global ID and number.")
class ScoredTicket:
    id: strawberry.ID
    number: str


@strawberry.type(
    description="One line of a score's breakdown: what was measured, its weight, the points "
    "it earned and the tickets (or supervision cases) that cost points."
)
class BreakdownLine:
    origin_level: OriginLevel | None = strawberry.field(  # type: ignore[valid-type]
        description="PROVINCE or CITY tickets; null for unit-wide lines (supervision)."
    )
    indicator: AssessmentIndicator  # type: ignore[valid-type]
    value: Decimal | None = strawberry.field(
        description="A rate (0–1), a count, a level score or the attention score."
    )
    numerator: int | None
    denominator: int | None
    weight: Decimal | None = strawberry.field(
        description="A rate's or attention's weight, a deduction per case, or a level's share."
    )
    points: Decimal | None = strawberry.field(description="Earned (negative: deducted).")
    max_points: Decimal | None
    note: str
    tickets: list[ScoredTicket]
    supervision_case_ids: list[strawberry.ID]

    @classmethod
    def of(cls, d: dict[str, Any]) -> BreakdownLine:
        def dec(v: str | None) -> Decimal | None:
            return None if v is None else Decimal(v)

        return cls(
            origin_level=OriginLevelRow(d["originLevel"]) if d["originLevel"] else None,
            indicator=Indicator(d["indicator"]),
            value=dec(d["value"]),
            numerator=d["numerator"],
            denominator=d["denominator"],
            weight=dec(d["weight"]),
            points=dec(d["points"]),
            max_points=dec(d["maxPoints"]),
            note=d["note"],
            tickets=[ScoredTicket(id=to_global_id("Ticket", i), number=n) for i, n in d["tickets"]],
            supervision_case_ids=[to_global_id("SupervisionCase", c) for c in d["cases"]],
        )


@strawberry.type(description="A unit's counts for one origin level and month, from the events.")
class LevelIndicators:
    received: int
    signed: int
    signed_late: int
    deemed: int = strawberry.field(description="Never signed: deemed accepted (late).")
    completed: int
    completed_late: int
    open_overdue: int
    satisfied: int
    unsatisfied: int
    unreachable: int = strawberry.field(description="Excluded from the rates, counted.")
    resolved: int
    returns_requested: int
    returns_approved: int
    returns_rejected: int
    redo: int
    extensions: int
    sent_back: int
    hollow: int


@strawberry.type(description="A unit's score on the tickets of one origin level (§6 单独考核).")
class LevelScore:
    origin_level: OriginLevel  # type: ignore[valid-type]
    score: Decimal
    indicators: LevelIndicators


@strawberry.type(description="A member unit's monthly score, rank and breakdown.")
class UnitScore:
    unit_pk: strawberry.Private[int]
    unit_id: strawberry.ID
    centre_code: str = strawberry.field(description="The assessing centre.")
    month: str
    status: AssessmentStatus  # type: ignore[valid-type]
    score: Decimal = strawberry.field(description="The composite 0–100 score that is ranked.")
    province_score: Decimal | None
    city_score: Decimal | None
    rank: int = strawberry.field(description="1 = best; equal scores share a rank.")
    flagged_for_notice: bool = strawberry.field(
        description="Among the bottom three (ties at the boundary included), §7(3)1."
    )
    attention_score: Decimal = strawberry.field(description="重视程度 used (0–100).")
    attention_entered: bool = strawberry.field(
        description="False: the centre entered none; the scheme's default was used."
    )
    supervision_opened: int
    supervision_overdue: int
    levels: list[LevelScore]
    breakdown: list[BreakdownLine]

    @classmethod
    def of(cls, run: m.AssessmentRun, s: m.UnitScore) -> UnitScore:
        ind = s.indicators
        levels = []
        for lv, counts in ind["levels"].items():
            level_score = s.province_score if lv == "PROVINCE" else s.city_score
            if level_score is None:
                continue
            levels.append(
                LevelScore(
                    origin_level=OriginLevelRow(lv),
                    score=level_score,
                    indicators=LevelIndicators(
                        received=counts["received"],
                        signed=counts["signed"],
                        signed_late=counts["signedLate"],
                        deemed=counts["deemed"],
                        completed=counts["completed"],
                        completed_late=counts["completedLate"],
                        open_overdue=counts["openOverdue"],
                        satisfied=counts["satisfied"],
                        unsatisfied=counts["unsatisfied"],
                        unreachable=counts["unreachable"],
                        resolved=counts["resolved"],
                        returns_requested=counts["returnsRequested"],
                        returns_approved=counts["returnsApproved"],
                        returns_rejected=counts["returnsRejected"],
                        redo=counts["redo"],
                        extensions=counts["extensions"],
                        sent_back=counts["sentBack"],
                        hollow=counts["hollow"],
                    ),
                )
            )
        return cls(
            unit_pk=s.unit_id,
            unit_id=to_global_id("Unit", s.unit_id),
            centre_code=run.centre_code,
            month=month_str(run.month),
            status=run.status,
            score=s.score,
            province_score=s.province_score,
            city_score=s.city_score,
            rank=s.rank,
            flagged_for_notice=s.flagged,
            attention_score=s.attention,
            attention_entered=s.attention_entered,
            supervision_opened=len(ind.get("supervisionOpened", [])),
            supervision_overdue=len(ind.get("supervisionOverdue", [])),
            levels=levels,
            breakdown=[BreakdownLine.of(d) for d in s.breakdown],
        )

    @strawberry.field(description="The unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None


@strawberry.type(description="A version of the scoring scheme (weights, thresholds, cliffs).")
class ScoringScheme:
    version: int
    name: str
    effective_from: date
    body: JSON
    note: str | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, s: m.ScoringScheme) -> ScoringScheme:
        return cls(
            version=s.version,
            name=s.name,
            effective_from=s.effective_from,
            body=cast(JSON, s.body),
            note=s.note,
            created_by=s.created_by,
            created_at=s.created_at,
        )


@strawberry.type(description="A centre's assessment of one month (§6): scores by rank.")
class Assessment:
    centre_code: str
    month: str
    status: AssessmentStatus  # type: ignore[valid-type]
    scheme: ScoringScheme
    digest: str = strawberry.field(description="Hash of the stored scores: equal on a re-run.")
    computed_by: str
    computed_at: datetime
    published_by: str | None
    published_at: datetime | None
    scores: list[UnitScore] = strawberry.field(description="Every scored member, by rank.")

    @classmethod
    def of(cls, v: aq.MonthView) -> Assessment:
        r = v.run
        return cls(
            centre_code=r.centre_code,
            month=month_str(r.month),
            status=r.status,
            scheme=ScoringScheme.of(v.scheme),
            digest=r.digest,
            computed_by=r.computed_by,
            computed_at=r.computed_at,
            published_by=r.published_by,
            published_at=r.published_at,
            scores=[UnitScore.of(r, s) for s in v.scores],
        )

    @strawberry.field(description="The bottom three (ties at the boundary included), §7(3)1.")
    def bottom(self) -> list[UnitScore]:
        return [s for s in self.scores if s.flagged_for_notice]

    @strawberry.field(description="The assessing centre.")
    async def centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_code)
        return Centre.of(c) if c else None


@strawberry.type(description="One published month's score in an annual mean.")
class MonthScore:
    month: str
    score: Decimal


@strawberry.type(description="A unit's annual score: the mean of its published monthly scores.")
class AnnualUnitScore:
    unit_pk: strawberry.Private[int]
    unit_id: strawberry.ID
    score: Decimal
    months: int = strawberry.field(description="Published months the unit was scored in.")
    rank: int
    flagged_for_notice: bool = strawberry.field(
        description="Among the bottom three of the year (§7(3)1 年度考核排名后3位)."
    )
    monthly: list[MonthScore]

    @strawberry.field(description="The unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None


@strawberry.type(
    description="年度综合得分 (§6): the mean of each unit's scores in the year's published months."
)
class AnnualAssessment:
    centre_code: str
    year: int
    published_months: list[str]
    complete: bool = strawberry.field(description="All 12 months are published.")
    scores: list[AnnualUnitScore]

    @classmethod
    def of(cls, v: aq.AnnualView) -> AnnualAssessment:
        return cls(
            centre_code=v.centre_code,
            year=v.year,
            published_months=[month_str(mo) for mo in v.published_months],
            complete=len(v.published_months) == 12,
            scores=[
                AnnualUnitScore(
                    unit_pk=a.unit_id,
                    unit_id=to_global_id("Unit", a.unit_id),
                    score=a.score,
                    months=a.months,
                    rank=a.rank,
                    flagged_for_notice=a.flagged,
                    monthly=[MonthScore(month=month_str(mo), score=sc) for mo, sc in a.monthly],
                )
                for a in v.scores
            ],
        )

    @strawberry.field(description="The bottom three of the year (ties included).")
    def bottom(self) -> list[AnnualUnitScore]:
        return [s for s in self.scores if s.flagged_for_notice]


@strawberry.type(description="重视程度: the centre's attention score of a member unit and month.")
class AttentionScore:
    centre_code: str
    unit_id: strawberry.ID
    month: str
    score: Decimal
    note: str | None
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, a: m.AttentionScore) -> AttentionScore:
        return cls(
            centre_code=a.centre_code,
            unit_id=to_global_id("Unit", a.unit_id),
            month=month_str(a.month),
            score=a.score,
            note=a.note,
            set_by=a.set_by,
            set_at=a.set_at,
        )
