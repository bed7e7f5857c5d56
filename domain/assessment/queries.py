"""Assessment reads: a centre's month, its year (the mean of monthly scores), a unit's scores.

Who sees what (Casbin, ``assessment``/``read``): a centre's supervisors and leaders read their
own centre's months, drafts included; a unit's staff read their own unit's scores of published
months only (a draft may still change); nobody reads another centre's or a peer's scores —
refused reads answer exactly as missing ones (``None`` / empty).

Annual score (§6 年度综合得分为当年度12个月的平均得分): the mean of the unit's composite scores in
the centre's **published** months of the year. A month not yet published (or never computed)
is missing and does not count, for any unit: the annual score is the mean over the months
that exist so far (``months`` says how many, ``complete`` whether all 12 do), so a unit is never
charged zero for a month that was not assessed. A unit that was not a member in some published
month is averaged over the months it was scored in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_obj
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.assessment import scoring
from domain.assessment.models import AssessmentRun, RunStatus, ScoringScheme, UnitScore
from domain.assessment.scheme import parse_scheme


def may_read_centre(enforcer: PolicyEnforcer, actor: Principal, centre_code: str) -> bool:
    return enforcer.allowed(actor.subject, "assessment", centre_obj(centre_code), "read")


@dataclass(frozen=True)
class MonthView:
    run: AssessmentRun
    scheme: ScoringScheme
    scores: list[UnitScore]  # by rank, then unit id


async def month_view(
    s: AsyncSession, enforcer: PolicyEnforcer, actor: Principal, centre_code: str, month: date
) -> MonthView | None:
    if not may_read_centre(enforcer, actor, centre_code):
        return None
    run = (
        await s.execute(
            select(AssessmentRun).where(
                AssessmentRun.centre_code == centre_code, AssessmentRun.month == month
            )
        )
    ).scalar_one_or_none()
    if run is None:
        return None
    scheme = await s.get(ScoringScheme, run.scheme_id)
    assert scheme is not None
    scores = list(
        (
            await s.execute(
                select(UnitScore)
                .where(UnitScore.run_id == run.id)
                .order_by(UnitScore.rank, UnitScore.unit_id)
            )
        ).scalars()
    )
    return MonthView(run, scheme, scores)


@dataclass(frozen=True)
class AnnualScore:
    unit_id: int
    score: Decimal
    months: int  # published months the unit was scored in
    monthly: list[tuple[date, Decimal]]
    rank: int
    flagged: bool


@dataclass(frozen=True)
class AnnualView:
    centre_code: str
    year: int
    published_months: list[date]
    scores: list[AnnualScore]  # by rank, then unit id


async def annual_view(
    s: AsyncSession, enforcer: PolicyEnforcer, actor: Principal, centre_code: str, year: int
) -> AnnualView | None:
    if not may_read_centre(enforcer, actor, centre_code):
        return None
    rows = (
        await s.execute(
            select(AssessmentRun.month, UnitScore.unit_id, UnitScore.score, ScoringScheme.body)
            .join(UnitScore, UnitScore.run_id == AssessmentRun.id)
            .join(ScoringScheme, ScoringScheme.id == AssessmentRun.scheme_id)
            .where(
                AssessmentRun.centre_code == centre_code,
                AssessmentRun.status == RunStatus.PUBLISHED,
                AssessmentRun.month >= date(year, 1, 1),
                AssessmentRun.month < date(year + 1, 1, 1),
            )
            .order_by(AssessmentRun.month, UnitScore.unit_id)
        )
    ).all()
    monthly: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    months: set[date] = set()
    bottom_n = 3
    for month, unit_id, score, body in rows:
        monthly[unit_id].append((month, score))
        months.add(month)
        bottom_n = parse_scheme(body).bottom  # the latest month's scheme decides
    means: dict[int, Decimal] = {}
    for uid, ms in monthly.items():
        m = scoring.mean([v for _, v in ms])
        assert m is not None
        means[uid] = m
    ranks = scoring.rank(means)
    flagged = scoring.bottom(means, bottom_n)
    scores = sorted(
        (
            AnnualScore(
                uid, means[uid], len(monthly[uid]), monthly[uid], ranks[uid], uid in flagged
            )
            for uid in means
        ),
        key=lambda a: (a.rank, a.unit_id),
    )
    return AnnualView(centre_code, year, sorted(months), scores)


@dataclass(frozen=True)
class UnitMonth:
    run: AssessmentRun
    score: UnitScore


async def unit_scores(
    s: AsyncSession,
    enforcer: PolicyEnforcer,
    actor: Principal,
    unit_id: int,
    first: date,
    last: date,
) -> list[UnitMonth]:
    """The unit's monthly scores from ``first`` to ``last`` (months, inclusive) that the actor
    may see: every run of a centre it reads; published runs when it works for the unit."""
    rows = (
        await s.execute(
            select(AssessmentRun, UnitScore)
            .join(UnitScore, UnitScore.run_id == AssessmentRun.id)
            .where(
                UnitScore.unit_id == unit_id,
                AssessmentRun.month >= first,
                AssessmentRun.month <= last,
            )
            .order_by(AssessmentRun.month, AssessmentRun.centre_code)
        )
    ).all()
    own = unit_id in actor.scope.units_for("assessment", "read")
    out: list[UnitMonth] = []
    readable: dict[str, bool] = {}
    for run, score in rows:
        if run.centre_code not in readable:
            readable[run.centre_code] = may_read_centre(enforcer, actor, run.centre_code)
        if readable[run.centre_code] or (own and run.status == RunStatus.PUBLISHED):
            out.append(UnitMonth(run, score))
    return out
