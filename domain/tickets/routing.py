"""Routing: which units a ticket may be dispatched to (regulation 三（二） 统一交办).

Pure: the caller loads the active routing rules (with unit ids resolved) and passes them in.

A rule *matches* a ticket when both hold:

* **category** — the rule's category is the ticket's category or one of its ancestors.
  Category codes are dotted paths (``CM`` is the parent of ``CM.STREET_VENDING``), so a
  rule for ``CM`` covers every ``CM.*`` subcategory; a subcategory rule never covers its
  parent or its siblings.
* **division** — the rule's ``division_prefix`` is ``None`` (city-wide) or a prefix of the
  ticket's division code (``321322`` covers ``321322101``). A ticket without a division
  code matches only city-wide rules.

The score of a match is its specificity::

    score = 100 * category_depth + prefix_length

where ``category_depth`` is the number of dot-separated segments of the *rule's* category
code (1 for a top-level category, 2 for a subcategory) and ``prefix_length`` is the length
of its division prefix (0 when city-wide). Division codes have at most 12 digits, so the
category term always dominates: for one ticket, a rule for its exact subcategory beats a
rule for the parent category whatever their divisions, and among rules for the same
category a longer (more local) division prefix beats a shorter or city-wide one.

Candidates are ordered by score (higher first), then by the rule's ``priority`` (lower
first), then by ``rule_id`` (lower first) — a total, stable order. A unit appears once,
with its best-ranked matching rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "Rule", "rank_candidates", "rule_score"]

_DEPTH_WEIGHT = 100  # > the longest division code (12 digits)


@dataclass(frozen=True)
class Rule:
    """A routing rule: tickets of ``category_code`` (in ``division_prefix``) go to a unit."""

    rule_id: int
    category_code: str
    division_prefix: str | None  # None (or "") = the whole city
    unit_id: int
    priority: int  # lower = preferred among equally specific rules
    note: str | None


@dataclass(frozen=True)
class Candidate:
    """A unit a ticket may be dispatched to, the best rule that proposes it, and its score."""

    unit_id: int
    rule: Rule
    score: int


def _category_matches(rule_category: str, ticket_category: str) -> bool:
    return ticket_category == rule_category or ticket_category.startswith(rule_category + ".")


def _division_matches(prefix: str | None, division_code: str | None) -> bool:
    if not prefix:
        return True
    return division_code is not None and division_code.startswith(prefix)


def rule_score(rule: Rule) -> int:
    """Specificity of a rule: ``100 * category depth + division prefix length``."""
    return _DEPTH_WEIGHT * len(rule.category_code.split(".")) + len(rule.division_prefix or "")


def rank_candidates(
    rules: Sequence[Rule], category_code: str, division_code: str | None
) -> list[Candidate]:
    """The units a ticket of ``category_code`` in ``division_code`` may go to, best first.

    Returns ``[]`` when no rule matches (the dispatcher then chooses by hand).
    """
    matched = [
        Candidate(unit_id=r.unit_id, rule=r, score=rule_score(r))
        for r in rules
        if _category_matches(r.category_code, category_code)
        and _division_matches(r.division_prefix, division_code)
    ]
    matched.sort(key=lambda c: (-c.score, c.rule.priority, c.rule.rule_id))
    seen: set[int] = set()
    out: list[Candidate] = []
    for c in matched:
        if c.unit_id not in seen:
            seen.add(c.unit_id)
            out.append(c)
    return out
