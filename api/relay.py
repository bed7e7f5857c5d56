"""Relay plumbing: global IDs, the Node interface, PageInfo and connections."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

import strawberry

from domain.errors import InvalidInput
from domain.pagination import Page

T = TypeVar("T")


def to_global_id(type_name: str, key: str | int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def from_global_id(gid: str, *expected: str) -> tuple[str, str]:
    """Decode a global ID; a malformed one or one of another type is an invalid input."""
    try:
        raw = base64.urlsafe_b64decode(gid.encode() + b"=" * (-len(gid) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"malformed global ID: {gid[:40]!r}", field="id") from None
    type_name, sep, key = raw.partition(":")
    if not sep or not key or not type_name.isalpha():
        raise InvalidInput(f"malformed global ID: {gid[:40]!r}", field="id")
    if expected and type_name not in expected:
        raise InvalidInput(f"expected the ID of a {' or '.join(expected)}", field="id")
    return type_name, key


# Types whose primary key is a 32-bit INTEGER (the rest are BIGINT).
MAX_ID = {"Unit": 2**31 - 1, "Staff": 2**31 - 1, "ApiClient": 2**31 - 1}


def int_key(gid: str, type_name: str, field: str = "id") -> int:
    try:
        _, key = from_global_id(gid, type_name)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=field) from None
    if not key.isdigit() or len(key) > 18:
        raise InvalidInput(f"malformed global ID: {gid[:40]!r}", field=field)
    n = int(key)
    # Keys beyond a type's id column cannot exist: answer as for any missing object (id 0 is
    # never used) rather than let the database reject the number.
    return n if n <= MAX_ID.get(type_name, 2**63 - 1) else 0


@strawberry.interface(description="An object with a global ID (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def connection(page: Page[object], convert: object) -> Connection[T]:
    nodes = [convert(item) for item in page.items]  # type: ignore[operator]
    edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        total_count=page.total,
    )
