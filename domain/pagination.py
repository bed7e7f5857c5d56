"""Keyset pagination with opaque cursors (pure functions)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
