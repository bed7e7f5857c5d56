"""Unit tests of the dataloader helpers in ``domain.loading``."""

from __future__ import annotations

from dataclasses import dataclass

from domain.loading import by_key, grouped


@dataclass(frozen=True)
class Row:
    id: int
    parent: int | None


ROWS = [Row(1, 10), Row(2, 20), Row(3, 10), Row(4, None)]


def parents(*keys: int | None) -> list[int | None]:
    return list(keys)


def test_grouped_follows_keys_order_and_keeps_item_order() -> None:
    assert grouped(ROWS, lambda r: r.parent, parents(20, 10)) == [
        [Row(2, 20)],
        [Row(1, 10), Row(3, 10)],
    ]


def test_grouped_missing_key_gives_empty_list() -> None:
    result = grouped(ROWS, lambda r: r.parent, parents(99, 10, 98))
    assert result == [[], [Row(1, 10), Row(3, 10)], []]
    assert result[0] is not result[2]  # fresh lists, not one shared default


def test_grouped_derived_key_and_repeated_keys() -> None:
    result = grouped(ROWS, lambda r: r.parent or 0, [0, 10, 0])
    assert result == [[Row(4, None)], [Row(1, 10), Row(3, 10)], [Row(4, None)]]


def test_grouped_empty_inputs() -> None:
    assert grouped([], lambda r: r, [1, 2]) == [[], []]
    assert grouped(ROWS, lambda r: r.parent, []) == []


def test_grouped_consumes_a_one_shot_iterator() -> None:
    assert grouped(iter(ROWS), lambda r: r.id, [3, 1]) == [[Row(3, 10)], [Row(1, 10)]]


def test_by_key_follows_keys_order_and_fills_none() -> None:
    assert by_key(ROWS, lambda r: r.id, [3, 99, 1, 3]) == [Row(3, 10), None, Row(1, 10), Row(3, 10)]


def test_by_key_last_item_wins_on_duplicate_keys() -> None:
    assert by_key(ROWS, lambda r: r.parent, parents(10, None)) == [Row(3, 10), Row(4, None)]


def test_by_key_empty_inputs() -> None:
    assert by_key([], lambda r: r, ["a"]) == [None]
    assert by_key(ROWS, lambda r: r.id, []) == []
