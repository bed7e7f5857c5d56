"""The event log: every change appends one row in the same transaction (audit + outbox).

Event ids are in **commit order**. ``record`` only queues the event on the session; just before
the transaction commits, the ``before_commit`` hook takes a transaction-scoped advisory lock,
inserts the queued events (their ids come from the sequence now) and sends one
``NOTIFY yiwang_event`` — delivered by PostgreSQL only if and when the transaction commits. The
lock is held from that insert to the commit, so a transaction that gets a higher id commits
after every lower id is committed or gone: a reader that has seen event *n* has seen every
committed event below *n*. That is what lets a subscriber resume "after *n*" with no gap.

Taking the lock at the very end keeps it short (one insert and the commit) and free of
deadlocks: by then the transaction holds every row lock it will need and waits for nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, event, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from domain.base import Base

# The channel every instance LISTENs on; the payload is the highest event id committed.
CHANNEL = "yiwang_event"
# pg_advisory_xact_lock key that orders event commits ("yiwang" in ASCII).
COMMIT_LOCK = 0x796977616E67
_PENDING = "yiwang.pending_events"


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
    """Append an event to the current transaction; it commits (or not) with the change.

    The row is inserted (and gets its id) just before the commit: see the module's docstring.
    """
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
    session.info.setdefault(_PENDING, []).append(ev)
    return ev


@event.listens_for(Session, "before_commit")
def _insert_pending(session: Session) -> None:
    pending: list[Event] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Inside an AsyncSession this runs in its greenlet: plain calls do the IO.
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": COMMIT_LOCK})
    session.add_all(pending)
    session.flush()
    top = max(ev.id for ev in pending)
    session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": str(top)})


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    # A transaction that ends without committing takes its queued events with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
