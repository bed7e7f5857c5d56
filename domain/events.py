"""The event log: every change appends one row in the same transaction (audit + outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Casbin domains whose members may see this event (e.g. centre:321322/).
    domains: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    # The ticket an event belongs to (workflow events), for ticket.events and subscriptions.
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_event_entity", "entity_type", "entity_id", "id"),
        Index("ix_event_domains", "domains", postgresql_using="gin"),
        Index("ix_event_ticket", "ticket_id", "id", postgresql_where="ticket_id IS NOT NULL"),
    )


async def record(
    session: AsyncSession,
    *,
    type: str,
    actor: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    domains: list[str],
    ticket_id: int | None = None,
) -> Event:
    """Append an event to the current transaction; it commits (or not) with the change."""
    ev = Event(
        type=type,
        actor=actor,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        domains=sorted(set(domains)),
        ticket_id=ticket_id,
    )
    session.add(ev)
    await session.flush()
    return ev
