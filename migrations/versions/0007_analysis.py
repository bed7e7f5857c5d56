"""analysis (related tickets)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:00:00

Repeat-complaint links (§4(5)6) and the keys their rules look up. No extension is needed:
the near-identical-text rule uses character bigrams and MinHash bands computed in Python
(pg_trgm ignores CJK characters under the C locale and is absent from the embedded
pgserver PostgreSQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_link",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("related_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "SAME_PHONE",
                "SAME_ADDRESS_CATEGORY",
                "SIMILAR_TEXT",
                "MANUAL",
                name="link_reason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=100), nullable=True),
        sa.Column("removed_note", sa.String(length=500), nullable=True),
        sa.CheckConstraint("ticket_id > related_id", name=op.f("ck_ticket_link_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_link_related_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_link_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_link")),
        sa.UniqueConstraint(
            "ticket_id",
            "related_id",
            "reason",
            name=op.f("uq_ticket_link_ticket_id_related_id_reason"),
        ),
    )
    op.create_index(op.f("ix_ticket_link_related_id"), "ticket_link", ["related_id"], unique=False)
    op.create_table(
        "ticket_match_key",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "PHONE",
                "ADDRESS_CATEGORY",
                "TEXT_BAND",
                name="match_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_ticket_match_key_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "kind", "key", name=op.f("pk_ticket_match_key")),
    )
    op.create_index(
        "ix_ticket_match_key_lookup",
        "ticket_match_key",
        ["kind", "key", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_match_key_lookup", table_name="ticket_match_key")
    op.drop_table("ticket_match_key")
    op.drop_index(op.f("ix_ticket_link_related_id"), table_name="ticket_link")
    op.drop_table("ticket_link")
