"""Assessment use cases (§6): compute, publish, set the attention score, add a scheme version.

Each loads, checks (Casbin, in the centre's domain: a centre computes and publishes only its own
members' month), changes, records its event and commits once. Computing is re-runnable and
gives the same result on the same events; a published month is frozen: computing it again, or
changing its attention scores, is an :class:`AssessmentPublished` error that changes nothing, and
events arriving later never reach its stored scores.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, centre_obj, unit_obj
from domain import events
from domain.accounts import Principal
from domain.assessment import scoring
from domain.assessment.indicators import collect
from domain.assessment.models import (
    AssessmentRun,
    AttentionScore,
    RunStatus,
    ScoringScheme,
    UnitScore,
)
from domain.assessment.scheme import Scheme, parse_scheme
from domain.calendar import TZ
from domain.errors import DomainError, InvalidInput, NotFound
from domain.inputs import aware_now as _now
from domain.registry.models import Centre, Unit
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

ENTITY = "assessment_run"
SCHEME_LOCK = 0x7363686D  # pg_advisory_xact_lock key for scheme version numbers ("schm")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class AssessmentPublished(DomainError):
    """The month is published (frozen): nothing about it changes any more."""

    code = "ASSESSMENT_PUBLISHED"


# ---- helpers ---------------------------------------------------------------------------------
def parse_month(value: str, field: str = "month") -> date:
    """ "2026-11" -> date(2026, 11, 1)."""
    m = MONTH_RE.match((value or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise InvalidInput("month must look like 2026-11", field=field)
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_str(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _check_not_future(month: date, now: datetime) -> None:
    local = now.astimezone(TZ)
    if month > date(local.year, local.month, 1):
        raise InvalidInput("that month has not begun", field="month")


def _may(uow: UnitOfWork, actor: Principal, centre_code: str, action: str) -> bool:
    return uow.enforcer.allowed(actor.subject, "assessment", centre_obj(centre_code), action)


async def _centre(uow: UnitOfWork, actor: Principal, centre_code: str, action: str) -> Centre:
    """The centre, if the actor holds the assessment permission in its own domain; else not
    found (a county cannot tell the city's assessment from one that does not exist)."""
    c = await uow.session.get(Centre, centre_code)
    if c is None or not _may(uow, actor, centre_code, action):
        raise NotFound("centre not found", field="centreCode")
    return c


async def scheme_for(s: AsyncSession, month: date) -> ScoringScheme | None:
    """The scheme version in force for a month: latest effective_from on or before it."""
    return (
        await s.execute(
            select(ScoringScheme)
            .where(ScoringScheme.effective_from <= month)
            .order_by(ScoringScheme.effective_from.desc(), ScoringScheme.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _run_for_update(s: AsyncSession, centre_code: str, month: date) -> AssessmentRun | None:
    return (
        await s.execute(
            select(AssessmentRun)
            .where(AssessmentRun.centre_code == centre_code, AssessmentRun.month == month)
            .with_for_update()
        )
    ).scalar_one_or_none()


# ---- compute ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Computed:
    results: list[scoring.UnitResult]
    ranks: dict[int, int]
    flagged: set[int]


def evaluate(scheme: Scheme, indicators: dict[int, scoring.UnitIndicators]) -> Computed:
    """Score every member, rank them and flag the bottom ones (pure)."""
    results = [scoring.score_unit(scheme, indicators[uid]) for uid in sorted(indicators)]
    scores = {r.unit_id: r.score for r in results}
    return Computed(results, scoring.rank(scores), scoring.bottom(scores, scheme.bottom))


def _indicators_json(r: scoring.UnitResult, ind: scoring.UnitIndicators) -> dict[str, Any]:
    return {
        "levels": {lv: li.as_json() for lv, li in sorted(ind.levels.items())},
        "supervisionOpened": list(ind.supervision_opened),
        "supervisionOverdue": list(ind.supervision_overdue),
        "attention": str(r.attention),
        "attentionEntered": r.attention_entered,
    }


def digest(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(
        json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


async def compute_assessment(
    *,
    uow: UnitOfWork,
    actor: Principal,
    centre_code: str,
    month: date,
    now: datetime | None = None,
) -> AssessmentRun:
    """Score every member unit of the centre for the month from the event log (DRAFT)."""
    now = _now(now)
    if month.day != 1:
        raise InvalidInput("month must be the first day of a month", field="month")
    _check_not_future(month, now)
    async with uow:
        s = uow.session
        await _centre(uow, actor, centre_code, "compute")
        scheme_row = await scheme_for(s, month)
        if scheme_row is None:
            raise InvalidInput("no scoring scheme is in force for that month", field="month")
        scheme = parse_scheme(scheme_row.body)
        # One run per centre-month: concurrent computations queue on its row lock.
        await s.execute(
            insert(AssessmentRun)
            .values(
                centre_code=centre_code,
                month=month,
                status=RunStatus.DRAFT.value,
                scheme_id=scheme_row.id,
                digest="",
                computed_by=actor.subject,
                computed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["centre_code", "month"])
        )
        run = await _run_for_update(s, centre_code, month)
        assert run is not None
        await s.refresh(run)
        if run.status == RunStatus.PUBLISHED:
            raise AssessmentPublished(
                f"the assessment of {month_str(month)} is published and frozen", field="month"
            )
        indicators = await collect(s, centre_code=centre_code, month=month)
        computed = evaluate(scheme, indicators)
        await s.execute(delete(UnitScore).where(UnitScore.run_id == run.id))
        rows: list[dict[str, Any]] = []
        for r in computed.results:
            lv = r.levels
            rows.append(
                {
                    "run_id": run.id,
                    "unit_id": r.unit_id,
                    "score": r.score,
                    "province_score": lv["PROVINCE"].score if "PROVINCE" in lv else None,
                    "city_score": lv["CITY"].score if "CITY" in lv else None,
                    "rank": computed.ranks[r.unit_id],
                    "flagged": r.unit_id in computed.flagged,
                    "attention": r.attention,
                    "attention_entered": r.attention_entered,
                    "indicators": _indicators_json(r, indicators[r.unit_id]),
                    "breakdown": [ln.as_json() for ln in r.lines],
                }
            )
        if rows:
            await s.execute(insert(UnitScore), rows)
        before = {"digest": run.digest or None, "schemeId": run.scheme_id}
        run.scheme_id = scheme_row.id
        run.digest = digest([{k: v for k, v in row.items() if k != "run_id"} for row in rows])
        run.computed_by = actor.subject
        run.computed_at = now
        await s.flush()
        await events.record(
            s,
            type="assessment.computed",
            actor=actor.subject,
            entity_type=ENTITY,
            entity_id=run.id,
            before=before,
            after={
                "centre": centre_code,
                "month": month_str(month),
                "status": run.status.value,
                "schemeVersion": scheme_row.version,
                "units": len(rows),
                "flaggedUnitIds": sorted(computed.flagged),
                "digest": run.digest,
            },
            domains=[centre_domain(centre_code)],
        )
        await uow.commit(result=("AssessmentRun", run.id))
        return run


# ---- publish ---------------------------------------------------------------------------------
async def publish_assessment(
    *,
    uow: UnitOfWork,
    actor: Principal,
    centre_code: str,
    month: date,
    now: datetime | None = None,
) -> AssessmentRun:
    """Freeze a computed month: its scores no longer change, whatever arrives later."""
    now = _now(now)
    async with uow:
        s = uow.session
        await _centre(uow, actor, centre_code, "publish")
        run = await _run_for_update(s, centre_code, month)
        if run is None:
            raise InvalidTransition(f"compute the assessment of {month_str(month)} first")
        if run.status == RunStatus.PUBLISHED:
            raise AssessmentPublished(
                f"the assessment of {month_str(month)} is already published", field="month"
            )
        run.status = RunStatus.PUBLISHED
        run.published_by = actor.subject
        run.published_at = now
        await s.flush()
        await events.record(
            s,
            type="assessment.published",
            actor=actor.subject,
            entity_type=ENTITY,
            entity_id=run.id,
            before={"status": RunStatus.DRAFT.value},
            after={
                "centre": centre_code,
                "month": month_str(month),
                "status": run.status.value,
                "digest": run.digest,
            },
            domains=[centre_domain(centre_code)],
        )
        await uow.commit(result=("AssessmentRun", run.id))
        return run


# ---- attention (重视程度) ----------------------------------------------------------------------
def parse_score(value: Decimal | float | str) -> Decimal:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput("score must be a number", field="score") from None
    if not d.is_finite() or not 0 <= d <= 100:
        raise InvalidInput("score must be within 0–100", field="score")
    if d != d.quantize(Decimal("0.01")):
        raise InvalidInput("score has at most two decimals", field="score")
    return d.quantize(Decimal("0.01"))


async def set_attention_score(
    *,
    uow: UnitOfWork,
    actor: Principal,
    centre_code: str,
    unit_id: int,
    month: date,
    score: Decimal | float | str,
    note: str | None = None,
    now: datetime | None = None,
) -> AttentionScore:
    """The centre's 重视程度 score (0–100) of one member unit for one month."""
    now = _now(now)
    value = parse_score(score)
    note_ = (note or "").strip() or None
    if note_ is not None and len(note_) > 2000:
        raise InvalidInput("note is longer than 2000 characters", field="note")
    _check_not_future(month, now)
    async with uow:
        s = uow.session
        await _centre(uow, actor, centre_code, "attention")
        unit = await s.get(Unit, unit_id)
        if unit is None or not uow.enforcer.has_member(
            unit_obj(unit_id), centre_domain(centre_code)
        ):
            raise NotFound("unit not found", field="unitId")
        run = await _run_for_update(s, centre_code, month)
        if run is not None and run.status == RunStatus.PUBLISHED:
            raise AssessmentPublished(
                f"the assessment of {month_str(month)} is published and frozen", field="month"
            )
        row = (
            await s.execute(
                select(AttentionScore)
                .where(
                    AttentionScore.centre_code == centre_code,
                    AttentionScore.unit_id == unit_id,
                    AttentionScore.month == month,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        before = None if row is None else {"score": str(row.score), "note": row.note}
        if row is None:
            row = AttentionScore(
                centre_code=centre_code,
                unit_id=unit_id,
                month=month,
                score=value,
                note=note_,
                set_by=actor.subject,
                set_at=now,
            )
            s.add(row)
        else:
            row.score, row.note, row.set_by, row.set_at = value, note_, actor.subject, now
        await s.flush()
        await events.record(
            s,
            type="assessment.attention_set",
            actor=actor.subject,
            entity_type="attention_score",
            entity_id=row.id,
            before=before,
            after={
                "centre": centre_code,
                "unitId": unit_id,
                "month": month_str(month),
                "score": str(value),
                "note": note_,
            },
            domains=[centre_domain(centre_code)],
        )
        await uow.commit(result=("AttentionScore", row.id))
        return row


# ---- scheme versions -------------------------------------------------------------------------
async def create_scheme(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    effective_from: date,
    body: Any,
    note: str | None = None,
    now: datetime | None = None,
) -> ScoringScheme:
    """A new scheme version, in force from the first day of a month (city-wide reference data).
    Months already published keep the version they were scored with."""
    now = _now(now)
    name_ = (name or "").strip()
    if not name_ or len(name_) > 100:
        raise InvalidInput("name must be 1–100 characters", field="name")
    if effective_from.day != 1:
        raise InvalidInput("effectiveFrom must be the first day of a month", field="effectiveFrom")
    parse_scheme(body)
    async with uow:
        s = uow.session
        root = (
            await s.execute(select(Centre.code).where(Centre.parent_code.is_(None)))
        ).scalar_one()
        if not _may(uow, actor, root, "scheme"):
            raise NotFound("scoring schemes not found")
        # Version numbers are handed out one at a time.
        await s.execute(select(func.pg_advisory_xact_lock(SCHEME_LOCK)))
        version = (
            await s.execute(select(func.coalesce(func.max(ScoringScheme.version), 0)))
        ).scalar_one() + 1
        row = ScoringScheme(
            version=version,
            name=name_,
            effective_from=effective_from,
            body=body,
            note=(note or "").strip() or None,
            created_by=actor.subject,
            created_at=now,
        )
        s.add(row)
        await s.flush()
        await events.record(
            s,
            type="assessment.scheme_created",
            actor=actor.subject,
            entity_type="scoring_scheme",
            entity_id=row.id,
            before=None,
            after={
                "version": version,
                "name": name_,
                "effectiveFrom": effective_from.isoformat(),
                "body": body,
            },
            domains=[centre_domain(root)],
        )
        await uow.commit(result=("ScoringScheme", row.id))
        return row
