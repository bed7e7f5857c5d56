"""Default ticket configuration from ``seeds/data/`` — pure loaders, no database.

- ``categories.csv``: a two-level category taxonomy typical of 12345 hotlines (20 top-level
  categories, 3–8 subcategories each). Codes are stable ASCII dotted paths (``CM``,
  ``CM.STREET_VENDING``); a top-level row has an empty ``parent_code``.
- ``routing_rules.csv``: category (+ optional division code prefix; empty = the whole city)
  → a unit named exactly as in ``units.csv``, with a priority (lower = preferred). Every
  subcategory has a city-wide rule; county rules route matters handled where they happen
  (属地管理) to the county-level member unit, which is a cross-level referral. Ranking is
  ``domain.tickets.routing.rank_candidates``.
- ``time_limits.csv``: sign-for, handling and return-window limits for every channel ×
  urgency; its ``source`` column says where each number comes from (regulation clause,
  issue #3, or a typical default that administrators configure).

Administrators change all of this through the API; the seed only provides the defaults.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from domain.calendar import LimitUnit, TimeLimit
from domain.tickets.models import Channel, Urgency

__all__ = [
    "CategorySeed",
    "RoutingRuleSeed",
    "TimeLimitSeed",
    "load_categories",
    "load_routing_rules",
    "load_time_limits",
]


@dataclass(frozen=True)
class CategorySeed:
    code: str
    parent_code: str | None
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class RoutingRuleSeed:
    category_code: str
    division_prefix: str | None  # None = the whole city
    unit_name: str  # exactly a name of units.csv
    priority: int
    note: str | None


@dataclass(frozen=True)
class TimeLimitSeed:
    channel: Channel
    urgency: Urgency
    sign_for: TimeLimit
    handle: TimeLimit
    return_window: TimeLimit
    source: str


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("seeds").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load_categories() -> list[CategorySeed]:
    """Categories in file order: each top-level row precedes its subcategories."""
    return [
        CategorySeed(
            code=r["code"],
            parent_code=r["parent_code"] or None,
            name_zh=r["name_zh"],
            name_en=r["name_en"],
        )
        for r in _rows("categories.csv")
    ]


def load_routing_rules() -> list[RoutingRuleSeed]:
    return [
        RoutingRuleSeed(
            category_code=r["category_code"],
            division_prefix=r["division_prefix"] or None,
            unit_name=r["unit_name"],
            priority=int(r["priority"]),
            note=r["note"] or None,
        )
        for r in _rows("routing_rules.csv")
    ]


def _limit(r: dict[str, str], field: str) -> TimeLimit:
    return TimeLimit(int(r[f"{field}_amount"]), LimitUnit(r[f"{field}_unit"]))


def load_time_limits() -> list[TimeLimitSeed]:
    return [
        TimeLimitSeed(
            channel=Channel(r["channel"]),
            urgency=Urgency(r["urgency"]),
            sign_for=_limit(r, "sign_for"),
            handle=_limit(r, "handle"),
            return_window=_limit(r, "return_window"),
            source=r["source"],
        )
        for r in _rows("time_limits.csv")
    ]
