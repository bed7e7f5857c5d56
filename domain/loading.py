"""Helpers for batch loads (dataloaders): line fetched rows up with the requested keys.

A dataloader's batch function gets a sequence of keys and must return one result per key, in
the same order. These helpers do that for rows already fetched by one query; the order of the
rows (the query's ``ORDER BY``) is kept inside each group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

__all__ = ["by_key", "grouped"]


def grouped(items: Iterable[T], key: Callable[[T], K], keys: Sequence[K]) -> list[list[T]]:
    """The items under each of ``keys`` (in ``keys`` order; ``[]`` for a key with none).

    Items keep their iteration order within a group. A key repeated in ``keys`` gets the same
    list each time.
    """
    groups: dict[K, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return [groups.get(k, []) for k in keys]


def by_key(items: Iterable[T], key: Callable[[T], K], keys: Sequence[K]) -> list[T | None]:
    """The item under each of ``keys`` (in ``keys`` order; ``None`` for a key with none).

    If several items share a key, the last one wins.
    """
    found = {key(item): item for item in items}
    return [found.get(k) for k in keys]
