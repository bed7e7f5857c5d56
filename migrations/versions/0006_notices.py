"""notices and accountability referrals

Tables of regulation §7 (notices, referrals to the discipline commission) and the indexes the
analysis read side (hotspots, cockpit) needs on ticket, assignment and supervision_case.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("centre_code", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "WEEKLY",
                "SPECIAL",
                "MONTHLY_RANKING",
                name="notice_kind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean(), server_default="false", nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["centre_code"], ["centre.code"], name=op.f("fk_notice_centre_code_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index(
        "ix_notice_centre_published", "notice", ["centre_code", "published_at", "id"], unique=False
    )
    op.create_table(
        "notice_ticket",
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_ticket_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_notice_ticket_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("notice_id", "ticket_id", name=op.f("pk_notice_ticket")),
    )
    op.create_index(
        op.f("ix_notice_ticket_ticket_id"), "notice_ticket", ["ticket_id"], unique=False
    )
    op.create_table(
        "notice_unit",
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_unit_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_notice_unit_unit_id_unit")),
        sa.PrimaryKeyConstraint("notice_id", "unit_id", name=op.f("pk_notice_unit")),
    )
    op.create_index(op.f("ix_notice_unit_unit_id"), "notice_unit", ["unit_id"], unique=False)
    op.create_table(
        "accountability_referral",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("centre_code", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("grounds", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("REFERRED", "CONCLUDED", name="referral_status", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("referred_by", sa.String(length=100), nullable=False),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "NO_VIOLATION",
                "ADMONISHED",
                "NOTIFIED_CRITICISM",
                "DISCIPLINARY_ACTION",
                "TRANSFERRED_TO_JUDICIARY",
                "OTHER",
                name="accountability_outcome",
                native_enum=False,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_by", sa.String(length=100), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["centre_code"],
            ["centre.code"],
            name=op.f("fk_accountability_referral_centre_code_centre"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_accountability_referral_unit_id_unit")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_accountability_referral_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accountability_referral")),
    )
    op.create_index(
        op.f("ix_accountability_referral_unit_id"),
        "accountability_referral",
        ["unit_id"],
        unique=False,
    )
    op.create_index(
        "ix_accountability_referral_centre_referred",
        "accountability_referral",
        ["centre_code", "referred_at", "id"],
        unique=False,
    )
    op.create_table(
        "accountability_ticket",
        sa.Column("referral_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["accountability_referral.id"],
            name=op.f("fk_accountability_ticket_referral_id_accountability_referral"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_accountability_ticket_ticket_id_ticket"),
        ),
        sa.PrimaryKeyConstraint("referral_id", "ticket_id", name=op.f("pk_accountability_ticket")),
    )
    op.create_index(
        op.f("ix_accountability_ticket_ticket_id"),
        "accountability_ticket",
        ["ticket_id"],
        unique=False,
    )
    # The analysis read side (hotspots, cockpit).
    op.create_index(
        "ix_ticket_centre_received",
        "ticket",
        ["centre_code", "received_at"],
        unique=False,
        postgresql_include=[
            "category_code",
            "division_code",
            "status",
            "satisfaction",
            "actually_resolved",
        ],
    )
    op.create_index(
        "ix_assignment_centre_dispatched",
        "assignment",
        ["centre_code", "dispatched_at"],
        unique=False,
        postgresql_include=["unit_id", "status", "due_at", "replied_at"],
    )
    op.create_index(
        "ix_supervision_case_centre_status",
        "supervision_case",
        ["centre_code", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_supervision_case_centre_status", table_name="supervision_case")
    op.drop_index("ix_assignment_centre_dispatched", table_name="assignment")
    op.drop_index("ix_ticket_centre_received", table_name="ticket")
    op.drop_index(
        op.f("ix_accountability_ticket_ticket_id"),
        table_name="accountability_ticket",
    )
    op.drop_table("accountability_ticket")
    op.drop_index(
        "ix_accountability_referral_centre_referred", table_name="accountability_referral"
    )
    op.drop_index(op.f("ix_accountability_referral_unit_id"), table_name="accountability_referral")
    op.drop_table("accountability_referral")
    op.drop_index(op.f("ix_notice_unit_unit_id"), table_name="notice_unit")
    op.drop_table("notice_unit")
    op.drop_index(op.f("ix_notice_ticket_ticket_id"), table_name="notice_ticket")
    op.drop_table("notice_ticket")
    op.drop_index("ix_notice_centre_published", table_name="notice")
    op.drop_table("notice")
