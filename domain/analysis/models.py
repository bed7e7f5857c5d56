"""Repeat complaints (§4(5)6 "避免市民重复反映"): links between tickets on the same matter.

Two tables:

* ``ticket_link`` — one row per related pair and reason. The pair is stored once, ordered
  (``ticket_id`` is the later ticket, the repeat; ``related_id`` the earlier one), and read from
  both sides. A dispatcher's correction never deletes a row: an unlinked pair keeps its rows
  with ``removed_at`` set, so the automatic rules never link it again and the audit stays whole.
  The evidence names the rule and its parameters only — never a phone number or a name.
* ``ticket_match_key`` — the keys the rules look up, written when a ticket is created: a hash of
  the normalised complainant phone, a hash of (category, normalised address) and the MinHash
  band hashes of the normalised text. One B-tree index on (kind, key, received_at) answers
  every rule with a bounded index scan, so creating a ticket stays fast at any volume. The
  phone is stored only as a 64-bit keyed hash; the rules confirm a candidate against the ticket
  itself before linking, so a hash collision never links two tickets.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base


class LinkReason(enum.StrEnum):
    SAME_PHONE = "SAME_PHONE"  # the same complainant phone (never anonymous tickets)
    SAME_ADDRESS_CATEGORY = "SAME_ADDRESS_CATEGORY"  # same address and category, within a window
    SIMILAR_TEXT = "SIMILAR_TEXT"  # near-identical title and content, within a window
    MANUAL = "MANUAL"  # linked by a dispatcher


class MatchKind(enum.StrEnum):
    PHONE = "PHONE"
    ADDRESS_CATEGORY = "ADDRESS_CATEGORY"
    TEXT_BAND = "TEXT_BAND"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class TicketLink(Base):
    """相关工单: two tickets on the same matter, for one reason."""

    __tablename__ = "ticket_link"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The later ticket (the repeat) and the earlier one: ticket_id > related_id always.
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False
    )
    related_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, index=True
    )
    reason: Mapped[LinkReason] = mapped_column(_enum(LinkReason, "link_reason"), nullable=False)
    # Text similarity (0–1) for SIMILAR_TEXT; 1.0 for the exact-key rules and manual links.
    score: Mapped[float] = mapped_column(Float, nullable=False)
    # The rule and its parameters (window, threshold): never a phone number or a name.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # "system:related" for the automatic rules, else the dispatcher's subject (user:…).
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str | None] = mapped_column(String(100))
    removed_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("ticket_id", "related_id", "reason"),
        CheckConstraint("ticket_id > related_id", name="ordered_pair"),
    )


class TicketMatchKey(Base):
    """A key a repeat-complaint rule looks up (see ``domain.analysis.related``)."""

    __tablename__ = "ticket_match_key"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[MatchKind] = mapped_column(_enum(MatchKind, "match_kind"), primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_ticket_match_key_lookup", "kind", "key", "received_at"),)
