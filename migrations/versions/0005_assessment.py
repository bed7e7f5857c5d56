"""assessment (monthly scores and scoring schemes)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scoring_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "extract(day from effective_from) = 1",
            name=op.f("ck_scoring_scheme_starts_a_month"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_scheme")),
        sa.UniqueConstraint("version", name=op.f("uq_scoring_scheme_version")),
    )
    op.create_index(
        "ix_scoring_scheme_effective",
        "scoring_scheme",
        ["effective_from", "version"],
        unique=False,
    )
    op.create_table(
        "attention_score",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("centre_code", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "score >= 0 AND score <= 100", name=op.f("ck_attention_score_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["centre_code"], ["centre.code"], name=op.f("fk_attention_score_centre_code_centre")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_attention_score_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attention_score")),
        sa.UniqueConstraint(
            "centre_code",
            "unit_id",
            "month",
            name=op.f("uq_attention_score_centre_code_unit_id_month"),
        ),
    )
    op.create_index(
        op.f("ix_attention_score_unit_id"), "attention_score", ["unit_id"], unique=False
    )
    op.create_table(
        "assessment_run",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("centre_code", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("DRAFT", "PUBLISHED", name="run_status", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("computed_by", sa.String(length=100), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "extract(day from month) = 1", name=op.f("ck_assessment_run_month_start")
        ),
        sa.ForeignKeyConstraint(
            ["centre_code"], ["centre.code"], name=op.f("fk_assessment_run_centre_code_centre")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["scoring_scheme.id"],
            name=op.f("fk_assessment_run_scheme_id_scoring_scheme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_run")),
        sa.UniqueConstraint(
            "centre_code", "month", name=op.f("uq_assessment_run_centre_code_month")
        ),
    )
    op.create_table(
        "unit_score",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("province_score", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("city_score", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("attention", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("attention_entered", sa.Boolean(), nullable=False),
        sa.Column("indicators", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("breakdown", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["assessment_run.id"],
            name=op.f("fk_unit_score_run_id_assessment_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_unit_score_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_score")),
        sa.UniqueConstraint("run_id", "unit_id", name=op.f("uq_unit_score_run_id_unit_id")),
    )
    op.create_index(op.f("ix_unit_score_unit_id"), "unit_score", ["unit_id"], unique=False)
    # The month's workflow events by type: the indicator scan of a centre-month.
    op.create_index("ix_event_type_at", "event", ["type", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_type_at", table_name="event")
    op.drop_index(op.f("ix_unit_score_unit_id"), table_name="unit_score")
    op.drop_table("unit_score")
    op.drop_table("assessment_run")
    op.drop_index(op.f("ix_attention_score_unit_id"), table_name="attention_score")
    op.drop_table("attention_score")
    op.drop_index("ix_scoring_scheme_effective", table_name="scoring_scheme")
    op.drop_table("scoring_scheme")
