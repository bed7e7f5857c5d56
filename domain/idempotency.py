"""Idempotency keys: a replayed mutation returns the first result and changes nothing.

The key is written in the same transaction as the change it guards; a concurrent duplicate fails
on the primary key and is then answered as a replay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base
from domain.errors import InvalidInput


class IdempotencyKey(Base):
    """A client's idempotency key: a replay returns the first result and changes nothing."""

    __tablename__ = "idempotency_key"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), nullable=False)
    result_type: Mapped[str] = mapped_column(String(32), nullable=False)
    result_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


MAX_KEY = 100


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(f"idempotencyKey must be 1–{MAX_KEY} characters", field="idempotencyKey")
    return key


async def lookup(
    session: AsyncSession, subject: str, key: str, operation: str
) -> tuple[str, int] | None:
    row = (
        await session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.subject == subject, IdempotencyKey.key == key
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.operation != operation:
        raise InvalidInput(
            f"idempotencyKey was already used for {row.operation}", field="idempotencyKey"
        )
    return row.result_type, row.result_id


async def remember(
    session: AsyncSession, subject: str, key: str, operation: str, result: tuple[str, int]
) -> None:
    await session.execute(
        insert(IdempotencyKey).values(
            subject=subject,
            key=key,
            operation=operation,
            result_type=result[0],
            result_id=result[1],
        )
    )
