"""Indicators → points, scores and an explained breakdown; ranking; the bottom three (§6, §7(3)1).

Pure functions: no database. Arithmetic is exact (fractions); each breakdown line's points are
rounded once, half up, to 0.01, and a score is the sum of its lines, so the lines always add up
to the score a unit sees.

Per origin level (§6 对省、市工单办理实行单独考核), from the tickets of that level only:

* a rate indicator with no cases earns its whole weight (nothing to hold against the unit);
  otherwise ``weight × min(1, rate / fullAt)``, and nothing when the rate is below ``cliff``;
* attention (重视程度): ``weight × attention / 100``;
* each deduction: ``-min(cap, perCase × max(0, cases - free))``;
* the level score is the sum, clamped to 0–100.

The composite (the ranked score): the levels the unit worked on that month, weighted by the
scheme's level weights renormalised over those levels (a unit with only city tickets is scored
on city tickets alone); a unit with no tickets at all gets the score of an empty level (all
rates n/a, i.e. full, plus attention). Then the unit-wide deductions (supervision), clamped to
0–100.

Ranking: by composite score, highest first; equal scores share a rank (1, 2, 2, 4).
Bottom three: the units whose score is at or below the third-lowest score — ties at the
boundary are all flagged, so more than three may be named; a centre with three or fewer scored
members flags them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from domain.assessment.scheme import (
    LEVELS,
    DeductionRule,
    Indicator,
    RateRule,
    Scheme,
)

TicketRef = tuple[int, str]  # (ticket id, ticket number)

ZERO = Decimal("0.00")
HUNDRED = Decimal("100.00")


def q2(x: Fraction | Decimal | int) -> Decimal:
    """Round half up (away from zero) to 0.01, exactly."""
    f = Fraction(x) * 100
    n = -((-f + Fraction(1, 2)).__floor__()) if f < 0 else (f + Fraction(1, 2)).__floor__()
    return (Decimal(n) / 100).quantize(Decimal("0.01"))


def _clamp(x: Decimal) -> Decimal:
    return min(HUNDRED, max(ZERO, x))


@dataclass(frozen=True)
class LevelIndicators:
    """One unit's counts for one origin level and month, from the event log."""

    received: int = 0
    signed: int = 0
    signed_late: int = 0
    deemed: int = 0  # never signed: deemed accepted when the return window closed
    completed: int = 0  # assignments whose reply was accepted
    completed_late: int = 0  # … submitted after the due time
    open_overdue: int = 0  # found overdue and not completed that month
    satisfied: int = 0  # SATISFIED or BASICALLY_SATISFIED callbacks
    unsatisfied: int = 0
    unreachable: int = 0  # excluded from the rates, counted
    resolved: int = 0  # actually resolved (reachable callbacks)
    returns_requested: int = 0
    returns_approved: int = 0
    returns_rejected: int = 0
    redo: int = 0
    extensions: int = 0
    sent_back: int = 0
    hollow: int = 0
    tickets: Mapping[str, Sequence[TicketRef]] = field(default_factory=dict)

    def active(self) -> bool:
        return any(
            (
                self.received,
                self.signed,
                self.deemed,
                self.completed,
                self.open_overdue,
                self.satisfied + self.unsatisfied + self.unreachable,
                self.returns_requested + self.returns_approved + self.returns_rejected,
                self.redo,
                self.extensions,
                self.sent_back,
                self.hollow,
            )
        )

    def as_json(self) -> dict[str, int]:
        return {
            "received": self.received,
            "signed": self.signed,
            "signedLate": self.signed_late,
            "deemed": self.deemed,
            "completed": self.completed,
            "completedLate": self.completed_late,
            "openOverdue": self.open_overdue,
            "satisfied": self.satisfied,
            "unsatisfied": self.unsatisfied,
            "unreachable": self.unreachable,
            "resolved": self.resolved,
            "returnsRequested": self.returns_requested,
            "returnsApproved": self.returns_approved,
            "returnsRejected": self.returns_rejected,
            "redo": self.redo,
            "extensions": self.extensions,
            "sentBack": self.sent_back,
            "hollow": self.hollow,
        }


@dataclass(frozen=True)
class UnitIndicators:
    unit_id: int
    levels: Mapping[str, LevelIndicators]  # PROVINCE / CITY
    supervision_opened: Sequence[int] = ()  # case ids
    supervision_overdue: Sequence[int] = ()  # case ids
    attention: Decimal | None = None  # entered by the centre (None: the scheme's default)


@dataclass(frozen=True)
class Line:
    """One explained line: what was measured, what it is worth, what it earned."""

    origin_level: str | None
    indicator: Indicator
    value: Decimal | None  # a rate (0–1), a count, a level score or an attention score
    numerator: int | None
    denominator: int | None
    weight: Decimal | None  # a rate's or attention's weight, a deduction per case, a level share
    points: Decimal | None  # None: shown for context, earns nothing
    max_points: Decimal | None
    note: str
    tickets: tuple[TicketRef, ...] = ()
    cases: tuple[int, ...] = ()  # supervision case ids

    def as_json(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "originLevel": self.origin_level,
            "indicator": self.indicator.value,
            "value": s(self.value),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "weight": s(self.weight),
            "points": s(self.points),
            "maxPoints": s(self.max_points),
            "note": self.note,
            "tickets": [[i, n] for i, n in self.tickets],
            "cases": list(self.cases),
        }


@dataclass(frozen=True)
class LevelScore:
    origin_level: str
    score: Decimal
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class UnitResult:
    unit_id: int
    score: Decimal
    levels: dict[str, LevelScore]  # only the levels the unit worked on
    lines: tuple[Line, ...]  # the whole breakdown: level lines, then composite lines
    attention: Decimal
    attention_entered: bool


def _ratio(n: int, d: int) -> Decimal | None:
    return None if d == 0 else q2(Fraction(n, d) * 100) / 100


def rate_points(rule: RateRule, numerator: int, denominator: int) -> Decimal:
    if denominator == 0:
        return q2(Fraction(rule.weight))
    rate = Fraction(numerator, denominator)
    if rate < Fraction(rule.cliff):
        return ZERO
    return q2(Fraction(rule.weight) * min(Fraction(1), rate / Fraction(rule.full_at)))


def deduction_points(rule: DeductionRule, cases: int) -> Decimal:
    chargeable = max(0, cases - rule.free)
    return -q2(min(Fraction(rule.cap), Fraction(rule.per_case) * chargeable))


def _rate_line(
    level: str,
    ind: Indicator,
    rule: RateRule,
    n: int,
    d: int,
    tickets: Sequence[TicketRef],
    what: str,
) -> Line:
    pts = rate_points(rule, n, d)
    if d == 0:
        note = f"no {what} this month: full points"
    elif Fraction(n, d) < Fraction(rule.cliff):
        note = f"{n}/{d} {what}: below the cliff {rule.cliff}, no points"
    else:
        note = f"{n}/{d} {what}; full points at {rule.full_at}"
    return Line(
        level,
        ind,
        _ratio(n, d),
        n,
        d,
        rule.weight,
        pts,
        q2(Fraction(rule.weight)),
        note,
        tuple(tickets) if pts < q2(Fraction(rule.weight)) else (),
    )


def _deduction_line(
    level: str | None,
    ind: Indicator,
    rule: DeductionRule,
    cases: int,
    what: str,
    *,
    tickets: Sequence[TicketRef] = (),
    case_ids: Sequence[int] = (),
) -> Line:
    pts = deduction_points(rule, cases)
    free = f", the first {rule.free} free" if rule.free else ""
    note = f"{cases} {what}: {rule.per_case} each{free}, at most {rule.cap}"
    return Line(
        level,
        ind,
        Decimal(cases),
        cases,
        None,
        rule.per_case,
        pts,
        ZERO,
        note,
        tuple(tickets) if pts < 0 else (),
        tuple(case_ids) if pts < 0 else (),
    )


def score_level(scheme: Scheme, level: str, ind: LevelIndicators, attention: Decimal) -> LevelScore:
    t = ind.tickets
    r = scheme.rates
    lines = [
        Line(
            level,
            Indicator.RECEIVED,
            Decimal(ind.received),
            ind.received,
            None,
            None,
            None,
            None,
            "assignments received this month",
        ),
        _rate_line(
            level,
            Indicator.SIGN_ON_TIME,
            r[Indicator.SIGN_ON_TIME],
            ind.signed - ind.signed_late,
            ind.signed + ind.deemed,
            t.get("signLate", ()),
            "signed for on time (deemed acceptances count as late)",
        ),
        _rate_line(
            level,
            Indicator.ON_TIME_COMPLETION,
            r[Indicator.ON_TIME_COMPLETION],
            ind.completed - ind.completed_late,
            ind.completed + ind.open_overdue,
            t.get("late", ()),
            "completed on time (open overdue assignments count as late)",
        ),
        _rate_line(
            level,
            Indicator.SATISFACTION,
            r[Indicator.SATISFACTION],
            ind.satisfied,
            ind.satisfied + ind.unsatisfied,
            t.get("unsatisfied", ()),
            f"callbacks satisfied ({ind.unreachable} unreachable, not counted)",
        ),
        _rate_line(
            level,
            Indicator.ACTUAL_RESOLUTION,
            r[Indicator.ACTUAL_RESOLUTION],
            ind.resolved,
            ind.satisfied + ind.unsatisfied,
            t.get("unresolved", ()),
            "callbacks actually resolved (unreachable not counted)",
        ),
        Line(
            level,
            Indicator.RETURN_RATE,
            _ratio(ind.returns_requested, ind.received),
            ind.returns_requested,
            ind.received,
            None,
            None,
            None,
            f"returns requested ({ind.returns_approved} approved, {ind.returns_rejected} "
            "rejected): a timely return is allowed (§3(4)), a rejected one costs points",
            tuple(t.get("returned", ())),
        ),
        Line(
            level,
            Indicator.ATTENTION,
            attention,
            None,
            None,
            scheme.attention_weight,
            q2(Fraction(scheme.attention_weight) * Fraction(attention) / 100),
            q2(Fraction(scheme.attention_weight)),
            "重视程度 entered by the centre (0–100)",
        ),
    ]
    d = scheme.deductions
    for key, what, tk in (
        (Indicator.REJECTED_RETURN, "returns rejected", "rejectedReturn"),
        (Indicator.REDO, "redos (退回重办)", "redo"),
        (Indicator.EXTENSION, "extensions approved", "extension"),
        (Indicator.SENT_BACK, "replies sent back", "sentBack"),
        (Indicator.HOLLOW_REPLY, "hollow replies (§4(5))", "hollow"),
    ):
        n = {
            Indicator.REJECTED_RETURN: ind.returns_rejected,
            Indicator.REDO: ind.redo,
            Indicator.EXTENSION: ind.extensions,
            Indicator.SENT_BACK: ind.sent_back,
            Indicator.HOLLOW_REPLY: ind.hollow,
        }[key]
        lines.append(_deduction_line(level, key, d[key], n, what, tickets=t.get(tk, ())))
    total = sum((ln.points for ln in lines if ln.points is not None), ZERO)
    return LevelScore(level, _clamp(total), tuple(lines))


def score_unit(scheme: Scheme, u: UnitIndicators) -> UnitResult:
    entered = u.attention is not None
    attention = u.attention if u.attention is not None else scheme.attention_default
    levels = {
        lv: score_level(scheme, lv, u.levels[lv], attention)
        for lv in LEVELS
        if lv in u.levels and u.levels[lv].active()
    }
    lines: list[Line] = []
    composite: list[Line] = []
    if levels:
        total_w = sum((scheme.levels[lv] for lv in levels), Decimal(0))
        for lv, ls in levels.items():
            lines.extend(ls.lines)
            share = Fraction(scheme.levels[lv]) / Fraction(total_w)
            composite.append(
                Line(
                    lv,
                    Indicator.LEVEL_SCORE,
                    ls.score,
                    None,
                    None,
                    q2(share * 100) / 100,
                    q2(share * Fraction(ls.score)),
                    q2(share * 100),
                    f"{lv.lower()} tickets' score × its share of the levels worked on",
                )
            )
    else:
        empty = score_level(scheme, "CITY", LevelIndicators(), attention)
        composite.append(
            Line(
                None,
                Indicator.LEVEL_SCORE,
                empty.score,
                None,
                None,
                Decimal(1),
                empty.score,
                HUNDRED,
                "no tickets this month: every rate n/a (full points), plus attention",
            )
        )
    ud = scheme.unit_deductions
    composite.append(
        _deduction_line(
            None,
            Indicator.SUPERVISION_OPENED,
            ud[Indicator.SUPERVISION_OPENED],
            len(u.supervision_opened),
            "supervision cases opened",
            case_ids=u.supervision_opened,
        )
    )
    composite.append(
        _deduction_line(
            None,
            Indicator.SUPERVISION_OVERDUE,
            ud[Indicator.SUPERVISION_OVERDUE],
            len(u.supervision_overdue),
            "supervision cases not answered by the deadline",
            case_ids=u.supervision_overdue,
        )
    )
    score = _clamp(sum((ln.points for ln in composite if ln.points is not None), ZERO))
    return UnitResult(
        unit_id=u.unit_id,
        score=score,
        levels=levels,
        lines=(*lines, *composite),
        attention=attention,
        attention_entered=entered,
    )


def rank(scores: Mapping[int, Decimal]) -> dict[int, int]:
    """Competition ranking, highest first: equal scores share the best rank (1, 2, 2, 4)."""
    ordered = sorted(scores.values(), reverse=True)
    first: dict[Decimal, int] = {}
    for i, s in enumerate(ordered, start=1):
        first.setdefault(s, i)
    return {k: first[v] for k, v in scores.items()}


def bottom(scores: Mapping[int, Decimal], n: int = 3) -> set[int]:
    """The units at or below the n-th lowest score (ties at the boundary all included)."""
    if len(scores) <= n:
        return set(scores)
    threshold = sorted(scores.values())[n - 1]
    return {k for k, v in scores.items() if v <= threshold}


def mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    return q2(sum((Fraction(v) for v in values), Fraction(0)) / len(values))
