"""The scoring scheme and scoring as pure functions (§6, §7(3)1): table tests, no database."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from domain.assessment import scoring as sc
from domain.assessment.scheme import DeductionRule, Indicator, RateRule, parse_scheme
from domain.errors import InvalidInput
from seeds.assessment import DEFAULT_SCHEME_PATH, default_scheme_body

D = Decimal


def body() -> dict[str, Any]:
    return copy.deepcopy(default_scheme_body())


SCHEME = parse_scheme(body())


# ---- the scheme ------------------------------------------------------------------------------
def test_default_scheme_is_valid_and_documented() -> None:
    s = parse_scheme(json.loads(DEFAULT_SCHEME_PATH.read_text(encoding="utf-8")))
    assert sum(r.weight for r in s.rates.values()) + s.attention_weight == 100
    assert s.rates[Indicator.ON_TIME_COMPLETION] == RateRule(D("30"), D("0.95"), D("0.6"))
    assert s.deductions[Indicator.EXTENSION] == DeductionRule(D("0.5"), D("3"), 2)
    assert s.bottom == 3
    doc = (DEFAULT_SCHEME_PATH.parents[2] / "docs" / "ASSESSMENT.md").read_text(encoding="utf-8")
    for ind in (*s.rates, *s.deductions, *s.unit_deductions):
        assert f"`{ind.value}`" in doc, f"{ind} is not documented"


def _set(b: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.split(".")
    node = b
    for k in keys[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return b


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("rates.SATISFACTION.weight", 26, "sum to 100"),
        ("attention.weight", 14, "sum to 100"),
        ("rates.SATISFACTION.cliff", 0.95, "cliff < fullAt"),
        ("rates.SATISFACTION.fullAt", 1.5, "cliff < fullAt"),
        ("rates.SATISFACTION.cliff", -0.1, "cliff < fullAt"),
        ("rates.SATISFACTION.weight", "x", "must be a number"),
        ("rates.SATISFACTION.weight", True, "must be a number"),
        ("rates.SATISFACTION.wieght", 3, "unknown keys"),
        ("rates.SATISFACTION", _DELETE, "missing SATISFACTION"),
        ("rates.EXTRA", {"weight": 0, "fullAt": 1}, "unknown keys EXTRA"),
        ("levels.PROVINCE", 0, "must be > 0"),
        ("levels.CITY", _DELETE, "missing CITY"),
        ("attention.default", 101, "within 0–100"),
        ("deductions.REDO.perCase", 0, "perCase must be > 0"),
        ("deductions.REDO.cap", -1, "cap must be within"),
        ("deductions.REDO.free", 1.5, "free must be a whole number"),
        ("deductions.REDO", _DELETE, "missing REDO"),
        ("unitDeductions.SUPERVISION_OVERDUE", _DELETE, "missing SUPERVISION_OVERDUE"),
        ("bottom", 0, "bottom must be"),
        ("bottom", "3", "bottom must be"),
        ("extra", 1, "unknown keys extra"),
    ],
)
def test_invalid_schemes_are_refused(path: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_scheme(_set(body(), path, value))


def test_scheme_must_be_an_object() -> None:
    bad: Any
    for bad in (None, [], "x", 3):
        with pytest.raises(InvalidInput):
            parse_scheme(bad)


def test_a_shifted_weight_that_still_sums_to_100_is_accepted() -> None:
    b = _set(_set(body(), "rates.SATISFACTION.weight", 30), "rates.SIGN_ON_TIME.weight", 5)
    assert parse_scheme(b).rates[Indicator.SATISFACTION].weight == 30


# ---- rounding, rates, deductions -------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (Fraction(1, 200), "0.01"),  # 0.005 rounds half up
        (Fraction(-1, 200), "-0.01"),  # … and away from zero when negative
        (Fraction(2, 3), "0.67"),
        (Fraction(1, 3), "0.33"),
        (D("12.345"), "12.35"),
        (100, "100.00"),
    ],
)
def test_q2_rounds_half_up(x: Any, expected: str) -> None:
    assert sc.q2(x) == D(expected)


RATE = RateRule(weight=D(30), full_at=D("0.95"), cliff=D("0.6"))


@pytest.mark.parametrize(
    ("n", "d", "points"),
    [
        (0, 0, "30.00"),  # no cases: full points
        (19, 20, "30.00"),  # exactly fullAt
        (20, 20, "30.00"),  # above fullAt: capped at the weight
        (2, 3, "21.05"),  # 30 × (2/3) / 0.95
        (3, 5, "18.95"),  # at the cliff: still earns 30 × 0.6 / 0.95
        (59, 100, "0.00"),  # just below the cliff: nothing
        (0, 5, "0.00"),
    ],
)
def test_rate_points(n: int, d: int, points: str) -> None:
    assert sc.rate_points(RATE, n, d) == D(points)


@pytest.mark.parametrize(
    ("rule", "cases", "points"),
    [
        (DeductionRule(D(2), D(10)), 0, "0.00"),
        (DeductionRule(D(2), D(10)), 3, "-6.00"),
        (DeductionRule(D(2), D(10)), 7, "-10.00"),  # capped
        (DeductionRule(D("0.5"), D(3), 2), 2, "0.00"),  # free cases
        (DeductionRule(D("0.5"), D(3), 2), 5, "-1.50"),
        (DeductionRule(D("0.5"), D(3), 2), 100, "-3.00"),
    ],
)
def test_deduction_points(rule: DeductionRule, cases: int, points: str) -> None:
    assert sc.deduction_points(rule, cases) == D(points)


# ---- a unit's score --------------------------------------------------------------------------
CITY = sc.LevelIndicators(
    received=4,
    signed=4,
    signed_late=1,
    completed=3,
    completed_late=1,
    satisfied=1,
    unsatisfied=1,
    unreachable=1,
    resolved=1,
    returns_requested=1,
    returns_rejected=1,
    redo=1,
    extensions=1,
    sent_back=1,
    hollow=1,
    tickets={"late": ((7, "SQ-7"),), "redo": ((7, "SQ-7"),)},
)
PROVINCE = sc.LevelIndicators(received=1, signed=1, completed=1, satisfied=1, resolved=1)


def _points(res: sc.UnitResult, level: str | None, ind: Indicator) -> Decimal | None:
    (line,) = [ln for ln in res.lines if ln.origin_level == level and ln.indicator == ind]
    return line.points


def test_a_unit_scored_by_hand() -> None:
    u = sc.UnitIndicators(
        unit_id=1,
        levels={"CITY": CITY, "PROVINCE": PROVINCE},
        supervision_opened=(11,),
        supervision_overdue=(11,),
        attention=D(80),
    )
    res = sc.score_unit(SCHEME, u)
    # City: sign 3/4 → 7.50; on time 2/3 → 21.05; satisfaction 1/2 below the cliff → 0;
    # resolution 1/2 (at the cliff) → 20 × 0.5 / 0.9 = 11.11; attention 80 → 12.00;
    # rejected return -1, redo -2, extension (1 of 2 free) 0, sent back -1, hollow -2.
    assert res.levels["CITY"].score == D("45.66")
    assert _points(res, "CITY", Indicator.SATISFACTION) == D("0.00")
    assert _points(res, "CITY", Indicator.EXTENSION) == D("0.00")
    # Province: every rate full, attention 12 → 97.00.
    assert res.levels["PROVINCE"].score == D("97.00")
    # Composite: half of each (22.83 + 48.50), supervision opened -1 and overdue -2.
    assert res.score == D("68.33")
    assert res.attention_entered
    # The lines add up to the score, and name the tickets that cost points.
    composite = [ln for ln in res.lines if ln.indicator == Indicator.LEVEL_SCORE]
    assert [(ln.origin_level, ln.points) for ln in composite] == [
        ("PROVINCE", D("48.50")),
        ("CITY", D("22.83")),
    ]
    (late,) = [
        ln
        for ln in res.lines
        if ln.origin_level == "CITY" and ln.indicator == Indicator.ON_TIME_COMPLETION
    ]
    assert late.tickets == ((7, "SQ-7"),)
    (over,) = [ln for ln in res.lines if ln.indicator == Indicator.SUPERVISION_OVERDUE]
    assert over.cases == (11,) and over.points == D("-2.00")


def test_levels_are_scored_apart_and_renormalised() -> None:
    only_city = sc.score_unit(SCHEME, sc.UnitIndicators(unit_id=1, levels={"CITY": CITY}))
    assert set(only_city.levels) == {"CITY"}
    # Attention not entered: the default 100 → 15 points; city alone counts in full.
    assert not only_city.attention_entered
    assert only_city.levels["CITY"].score == D("48.66")
    assert only_city.score == D("48.66")
    idle = sc.LevelIndicators()
    both = sc.score_unit(
        SCHEME, sc.UnitIndicators(unit_id=1, levels={"CITY": CITY, "PROVINCE": idle})
    )
    assert set(both.levels) == {"CITY"}  # a level without activity is not scored


def test_a_unit_without_tickets_gets_full_rates_plus_attention() -> None:
    res = sc.score_unit(SCHEME, sc.UnitIndicators(unit_id=1, levels={}, attention=D(60)))
    assert res.levels == {}
    assert res.score == D("94.00")  # 85 + 15 × 0.6
    heavy = sc.score_unit(
        SCHEME,
        sc.UnitIndicators(unit_id=1, levels={}, supervision_overdue=tuple(range(10))),
    )
    assert heavy.score == D("94.00")  # 100 - the cap of 6


def test_scores_are_clamped_to_0_100() -> None:
    bad = sc.LevelIndicators(
        received=10,
        signed=10,
        signed_late=10,
        completed=10,
        completed_late=10,
        unsatisfied=10,
        redo=20,
        sent_back=20,
        hollow=20,
        returns_rejected=20,
    )
    res = sc.score_unit(
        SCHEME,
        sc.UnitIndicators(
            unit_id=1, levels={"CITY": bad}, attention=D(0), supervision_opened=(1, 2, 3)
        ),
    )
    assert res.levels["CITY"].score == D("0.00")
    assert res.score == D("0.00")


# ---- ranking and the bottom three ------------------------------------------------------------
@pytest.mark.parametrize(
    ("scores", "ranks", "flagged"),
    [
        ({1: "90", 2: "80", 3: "70", 4: "60", 5: "50"}, [1, 2, 3, 4, 5], {3, 4, 5}),
        # A tie at the boundary: all tied units are named (four).
        ({1: "90", 2: "80", 3: "80", 4: "70", 5: "60"}, [1, 2, 2, 4, 5], {2, 3, 4, 5}),
        # A tie below the boundary: exactly three.
        ({1: "90", 2: "80", 3: "70", 4: "70", 5: "95"}, [2, 3, 4, 4, 1], {2, 3, 4}),
        # Everyone equal: everyone shares rank 1, and everyone is at the boundary.
        ({1: "100", 2: "100", 3: "100", 4: "100"}, [1, 1, 1, 1], {1, 2, 3, 4}),
        # Three or fewer members: all of them.
        ({1: "90", 2: "10"}, [1, 2], {1, 2}),
        ({}, [], set()),
    ],
)
def test_rank_and_bottom_three_with_ties(
    scores: dict[int, str], ranks: list[int], flagged: set[int]
) -> None:
    s = {k: D(v) for k, v in scores.items()}
    r = sc.rank(s)
    assert [r[k] for k in sorted(s)] == ranks
    assert sc.bottom(s, 3) == flagged


def test_mean_of_monthly_scores() -> None:
    assert sc.mean([D("100.00"), D("94.00")]) == D("97.00")
    assert sc.mean([D("85.00"), D("100.00"), D("100.00")]) == D("95.00")
    assert sc.mean([D("0.01"), D("0.02")]) == D("0.02")  # 0.015 half up
    assert sc.mean([]) is None
