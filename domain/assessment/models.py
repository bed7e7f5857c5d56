"""Monthly assessment (§6): scoring scheme versions, attention scores, monthly runs and scores."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base
from domain.events import Event


class RunStatus(enum.StrEnum):
    DRAFT = "DRAFT"  # computed; may be computed again
    PUBLISHED = "PUBLISHED"  # frozen (§6: 每月考核一次)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class ScoringScheme(Base):
    """One version of the scoring scheme (weights, thresholds, cliffs) as validated JSON.

    The version in force for a month is the one with the latest ``effective_from`` on or before
    the month's first day (the highest version among equals)."""

    __tablename__ = "scoring_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("extract(day from effective_from) = 1", name="starts_a_month"),
        Index("ix_scoring_scheme_effective", "effective_from", "version"),
    )


class AttentionScore(Base):
    """重视程度: entered by the centre for one member unit and month (0–100)."""

    __tablename__ = "attention_score"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    month: Mapped[date] = mapped_column(Date, nullable=False)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(100), nullable=False)
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        UniqueConstraint("centre_code", "unit_id", "month"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
    )


class AssessmentRun(Base):
    """One centre's assessment of one month: DRAFT until published, then frozen."""

    __tablename__ = "assessment_run"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False)
    month: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), nullable=False)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scoring_scheme.id"), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    computed_by: Mapped[str] = mapped_column(String(100), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("centre_code", "month"),
        CheckConstraint("extract(day from month) = 1", name="month_start"),
    )


class UnitScore(Base):
    """A member unit's score for a run: the composite (ranked) and one per origin level."""

    __tablename__ = "unit_score"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("assessment_run.id", ondelete="CASCADE"), nullable=False
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2), nullable=False)
    province_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    city_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    flagged: Mapped[bool] = mapped_column(Boolean, nullable=False)
    attention: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    attention_entered: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # Indicator values per origin level and the explained lines (value, weight, points, tickets).
    indicators: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)

    __table_args__ = (UniqueConstraint("run_id", "unit_id"),)


# The month's workflow events by type (the indicator scan), on the shared event table.
Index("ix_event_type_at", Event.type, Event.at)
