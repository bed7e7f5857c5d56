"""Keyset pagination with opaque cursors: cursor encoding, and the one page query every list
uses (a total count, then ``first + 1`` rows after the cursor to know if more follow)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("malformed cursor", field="after") from exc
    if not isinstance(value, list) or not value:
        raise InvalidInput("malformed cursor", field="after")
    return value


def clamp_first(first: int | None, maximum: int, default: int = 20) -> int:
    if first is None:
        return min(default, maximum)
    if first < 0:
        raise InvalidInput("first must not be negative", field="first")
    if first > maximum:
        raise InvalidInput(f"first must be at most {maximum}", field="first")
    return first


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int


async def _total(session: AsyncSession, q: Select[Any]) -> int:
    count = select(func.count()).select_from(q.order_by(None).subquery())
    return int((await session.execute(count)).scalar_one())


async def _fetch(session: AsyncSession, q: Select[Any], first: int) -> tuple[list[Any], bool]:
    rows = list((await session.execute(q.limit(first + 1))).scalars())
    return rows[:first], len(rows) > first


async def key_page(
    session: AsyncSession,
    q: Select[Any],
    key_col: Any,
    first: int,
    after: str | None,
    *,
    key_of: Callable[[Any], Any] = lambda row: row.id,
    key_type: type = int,
    descending: bool = False,
) -> Page[Any]:
    """A page ordered by one unique key (an id or a code)."""
    total = await _total(session, q)
    if after is not None:
        key = decode_cursor(after)[0]
        if not isinstance(key, key_type) or isinstance(key, bool):
            raise InvalidInput("malformed cursor", field="after")
        q = q.where(key_col < key if descending else key_col > key)
    q = q.order_by(key_col.desc() if descending else key_col.asc())
    rows, has_next = await _fetch(session, q, first)
    cursors = [encode_cursor([key_of(r)]) for r in rows]
    return Page(rows, cursors, has_next, after is not None, total)


async def time_page(
    session: AsyncSession,
    q: Select[Any],
    time_col: Any,
    id_col: Any,
    first: int,
    after: str | None,
    *,
    time_of: Callable[[Any], datetime],
    descending: bool,
) -> Page[Any]:
    """A page ordered by a time (not unique) and then the id: cursors carry both."""
    total = await _total(session, q)
    if after is not None:
        raw = decode_cursor(after)
        if len(raw) != 2 or not isinstance(raw[0], str) or not isinstance(raw[1], int):
            raise InvalidInput("malformed cursor", field="after")
        try:
            at = datetime.fromisoformat(raw[0])
        except ValueError:
            raise InvalidInput("malformed cursor", field="after") from None
        if descending:
            q = q.where(or_(time_col < at, and_(time_col == at, id_col < raw[1])))
        else:
            q = q.where(or_(time_col > at, and_(time_col == at, id_col > raw[1])))
    if descending:
        q = q.order_by(time_col.desc(), id_col.desc())
    else:
        q = q.order_by(time_col.asc(), id_col.asc())
    rows, has_next = await _fetch(session, q, first)
    cursors = [encode_cursor([time_of(r).isoformat(), r.id]) for r in rows]
    return Page(rows, cursors, has_next, after is not None, total)
