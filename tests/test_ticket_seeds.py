"""Default ticket configuration (categories, routing rules, time limits) and routing ranking.

Pure: no database. The seed files must name only real units, known categories and known
divisions; the ranking of routing candidates is pinned by a table.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from importlib import resources

import pytest

from domain.calendar import LimitUnit, TimeLimit
from domain.registry.models import UnitCategory
from domain.tickets.models import Channel, Urgency
from domain.tickets.routing import Candidate, Rule, rank_candidates, rule_score
from seeds.registry import ZONE_TOWNSHIPS, unit_seeds
from seeds.tickets_data import load_categories, load_routing_rules, load_time_limits

CODE = re.compile(r"^[A-Z]{2}(\.[A-Z][A-Z0-9_]*)?$")


def _division_codes() -> set[str]:
    text = resources.files("seeds").joinpath("data", "suqian-divisions.csv").read_text("utf-8")
    return {r["code"] for r in csv.DictReader(text.splitlines())}


def _unit_names_in_csv() -> list[str]:
    text = resources.files("seeds").joinpath("data", "units.csv").read_text("utf-8")
    return [r["name"] for r in csv.DictReader(text.splitlines())]


# --- categories -----------------------------------------------------------------------------


def test_categories_are_a_two_level_tree_with_stable_codes() -> None:
    cats = load_categories()
    codes = [c.code for c in cats]
    assert len(codes) == len(set(codes)), "duplicate category code"
    by_code = {c.code: c for c in cats}
    tops = [c for c in cats if c.parent_code is None]
    assert 16 <= len(tops) <= 20
    children = Counter(c.parent_code for c in cats if c.parent_code is not None)
    for c in cats:
        assert CODE.match(c.code), c.code
        assert c.name_zh and c.name_en and len(c.name_zh) <= 100 and len(c.name_en) <= 100
        if c.parent_code is None:
            assert "." not in c.code
            assert 3 <= children[c.code] <= 8, (c.code, children[c.code])
        else:
            parent = by_code[c.parent_code]
            assert parent.parent_code is None, f"{c.code}: only two levels"
            assert c.code.startswith(parent.code + "."), c.code
    # a parent precedes its children, so rows can be inserted in file order
    seen: set[str] = set()
    for c in cats:
        assert c.parent_code is None or c.parent_code in seen, c.code
        seen.add(c.code)


def test_categories_cover_the_usual_hotline_areas() -> None:
    names = {c.name_zh for c in load_categories() if c.parent_code is None}
    for expected in ("城市管理", "道路交通", "供水排水", "供电", "燃气", "通信", "住房物业"):
        assert expected in names
    for expected in ("生态环境", "市场监管", "劳动工资", "社会保险", "医疗保障", "卫生健康"):
        assert expected in names
    for expected in ("教育", "公共安全", "金融", "农业农村", "民政", "文化旅游", "应急安全"):
        assert expected in names


# --- routing rules --------------------------------------------------------------------------


def test_every_routing_unit_is_exactly_a_unit_of_the_registry() -> None:
    units = _unit_names_in_csv()
    assert units == [u.name for u in unit_seeds()]
    unknown = sorted({r.unit_name for r in load_routing_rules()} - set(units))
    assert unknown == []


def test_every_rule_category_exists_and_every_division_prefix_is_a_division() -> None:
    codes = {c.code for c in load_categories()}
    divisions = _division_codes()
    for r in load_routing_rules():
        assert r.category_code in codes, r
        assert r.division_prefix is None or r.division_prefix in divisions, r
        assert r.priority > 0
        assert r.note is None or len(r.note) <= 200
        assert r.division_prefix is None or len(r.division_prefix) <= 16


def test_rules_are_unique_per_category_division_and_unit() -> None:
    keys = Counter((r.category_code, r.division_prefix, r.unit_name) for r in load_routing_rules())
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_subcategory_has_a_city_wide_rule() -> None:
    city_wide = {r.category_code for r in load_routing_rules() if r.division_prefix is None}
    missing = [
        c.code for c in load_categories() if c.parent_code is not None and c.code not in city_wide
    ]
    assert missing == []


def test_county_rules_go_to_the_unit_that_stands_for_that_area() -> None:
    """A rule to a county-level member (a cross-level referral) is for that member's area."""
    represents = {
        u.name: u.represents for u in unit_seeds() if u.category is UnitCategory.COUNTY_DISTRICT
    }
    county_rules = [r for r in load_routing_rules() if r.unit_name in represents]
    assert county_rules, "expected division rules that refer to county-level centres"
    for r in county_rules:
        assert r.division_prefix is not None, f"{r}: a county unit is never city-wide"
        area = represents[r.unit_name]
        zone = ZONE_TOWNSHIPS.get(r.division_prefix)
        assert r.division_prefix.startswith(str(area)) or zone == area, r


def test_the_brief_examples_are_routed() -> None:
    rules = {(r.category_code, r.division_prefix, r.unit_name) for r in load_routing_rules()}
    for expected in [
        ("WS.WATER_OUTAGE", None, "市水务集团"),
        ("PW.OUTAGE", None, "市供电公司"),
        ("GS.LEAK", None, "宿迁燃气公司"),
        ("GS.LEAK", None, "宿迁华润燃气有限公司"),
        ("TC.BROADBAND", None, "宿迁电信公司"),
        ("TC.BROADBAND", None, "宿迁移动公司"),
        ("TC.BROADBAND", None, "宿迁联通公司"),
        ("CM.STREET_VENDING", None, "市城管局"),
        ("CM.STREET_VENDING", "321322", "沭阳县"),
        ("LW.WAGE_ARREARS", None, "市人力资源社会保障局"),
        ("MI.REIMBURSEMENT", None, "市医疗保障局"),
        ("ED.ENROLMENT", None, "市教育局"),
        ("MR.FOOD_SAFETY", None, "市市场监管局"),
        ("EN.AIR", None, "市生态环境局"),
        ("PS.PUBLIC_ORDER", None, "市公安局"),
        ("RT.ROAD_FREIGHT", None, "市交通运输局"),
        ("RT.TRAFFIC_ORDER", None, "市公安局"),
    ]:
        assert expected in rules, expected


def _seeded_rules() -> tuple[list[Rule], dict[str, int]]:
    ids = {u.name: i for i, u in enumerate(unit_seeds(), start=1)}
    rules = [
        Rule(i, r.category_code, r.division_prefix, ids[r.unit_name], r.priority, r.note)
        for i, r in enumerate(load_routing_rules(), start=1)
    ]
    return rules, ids


@pytest.mark.parametrize(
    ("category", "division", "first", "also"),
    [
        ("CM.STREET_VENDING", None, "市城管局", []),
        ("CM.STREET_VENDING", "321322101", "沭阳县", ["市城管局"]),
        ("CM.STREET_VENDING", "321302001", "宿迁市宿城区城市管理综合行政执法大队", ["宿城区"]),
        # a township a functional zone administers: the zone beats the statistical county
        ("CM.STREET_VENDING", "321311004", "市湖滨新区", ["宿豫区", "市城管局"]),
        ("CM.SANITATION", "321302150", "市洋河新区", ["宿城区"]),
        ("GS.LEAK", "321322101", "宿迁燃气公司", ["宿迁华润燃气有限公司", "市消防救援支队"]),
        ("PW.OUTAGE", "321324100", "市供电公司", []),
        ("CM", "321323100", "泗阳县", ["市城管局"]),
    ],
)
def test_seeded_rules_rank_as_intended(
    category: str, division: str | None, first: str, also: list[str]
) -> None:
    rules, ids = _seeded_rules()
    ranked = rank_candidates(rules, category, division)
    names = {v: k for k, v in ids.items()}
    got = [names[c.unit_id] for c in ranked]
    assert got[0] == first, got
    for name in also:
        assert name in got[1:], (name, got)


# --- time limits ----------------------------------------------------------------------------


def test_time_limit_table_is_complete() -> None:
    limits = load_time_limits()
    keys = [(t.channel, t.urgency) for t in limits]
    assert len(keys) == len(set(keys)) == len(Channel) * len(Urgency) == 21
    assert set(keys) == {(c, u) for c in Channel for u in Urgency}
    for t in limits:
        assert t.source and len(t.source) <= 300
        assert t.sign_for.amount > 0 and t.handle.amount > 0


def test_time_limit_defaults() -> None:
    sign_for = {
        Urgency.NORMAL: TimeLimit(1, LimitUnit.WORKING_DAYS),
        Urgency.URGENT: TimeLimit(2, LimitUnit.HOURS),
        Urgency.SAFETY_CRITICAL: TimeLimit(30, LimitUnit.MINUTES),  # issue #3
    }
    for t in load_time_limits():
        assert t.sign_for == sign_for[t.urgency], t
        # regulation 三（四）: 应在1个工作日内申请退回
        assert t.return_window == TimeLimit(1, LimitUnit.WORKING_DAYS), t
        assert "三（四）" in t.source
        if t.urgency is Urgency.SAFETY_CRITICAL:
            assert "issue #3" in t.source
    by_key = {(t.channel, t.urgency): t for t in load_time_limits()}
    assert by_key[Channel.HOTLINE_12345, Urgency.NORMAL].handle == TimeLimit(
        5, LimitUnit.WORKING_DAYS
    )
    assert by_key[Channel.HOTLINE_12345, Urgency.URGENT].handle == TimeLimit(
        1, LimitUnit.WORKING_DAYS
    )
    assert by_key[Channel.HOTLINE_12345, Urgency.SAFETY_CRITICAL].handle == TimeLimit(
        24, LimitUnit.HOURS
    )


# --- rank_candidates ------------------------------------------------------------------------

A, B, C = 1, 2, 3  # unit ids


def R(rule_id: int, category: str, prefix: str | None, unit: int, priority: int = 10) -> Rule:
    return Rule(rule_id, category, prefix, unit, priority, None)


RANKING_CASES: list[tuple[str, list[Rule], str, str | None, list[tuple[int, int]]]] = [
    # (case, rules, ticket category, ticket division, expected [(unit, rule_id)] in order)
    (
        "exact subcategory beats parent even with better priority",
        [R(1, "CM", None, A, priority=1), R(2, "CM.STREET_VENDING", None, B, priority=50)],
        "CM.STREET_VENDING",
        None,
        [(B, 2), (A, 1)],
    ),
    (
        "exact subcategory beats a parent rule with a longer division prefix",
        [R(1, "CM", "321322", A), R(2, "CM.STREET_VENDING", None, B)],
        "CM.STREET_VENDING",
        "321322101",
        [(B, 2), (A, 1)],
    ),
    (
        "a parent rule covers its subcategories; subcategory rules do not cover the parent",
        [R(1, "CM", None, A), R(2, "CM.STREET_VENDING", None, B)],
        "CM",
        None,
        [(A, 1)],
    ),
    (
        "sibling subcategories and look-alike codes do not match",
        [R(1, "CM.SANITATION", None, A), R(2, "C", None, B), R(3, "CMX", None, C)],
        "CM.STREET_VENDING",
        None,
        [],
    ),
    (
        "division prefix beats city-wide, longer prefix beats shorter",
        [
            R(1, "CM.STREET_VENDING", None, A, priority=1),
            R(2, "CM.STREET_VENDING", "321311", B, priority=50),
            R(3, "CM.STREET_VENDING", "321311004", C, priority=99),
        ],
        "CM.STREET_VENDING",
        "321311004",
        [(C, 3), (B, 2), (A, 1)],
    ),
    (
        "a prefix of another division does not match",
        [R(1, "CM.STREET_VENDING", None, A), R(2, "CM.STREET_VENDING", "321322", B)],
        "CM.STREET_VENDING",
        "321323100",
        [(A, 1)],
    ),
    (
        "no division on the ticket: only city-wide rules",
        [R(1, "CM.STREET_VENDING", None, A), R(2, "CM.STREET_VENDING", "321322", B)],
        "CM.STREET_VENDING",
        None,
        [(A, 1)],
    ),
    (
        "an empty prefix is city-wide",
        [R(1, "CM.STREET_VENDING", "", A)],
        "CM.STREET_VENDING",
        "321322",
        [(A, 1)],
    ),
    (
        "equal specificity: lower priority wins, then lower rule id",
        [
            R(5, "GS.LEAK", None, A, priority=20),
            R(9, "GS.LEAK", None, B, priority=10),
            R(7, "GS.LEAK", None, C, priority=20),
        ],
        "GS.LEAK",
        None,
        [(B, 9), (A, 5), (C, 7)],
    ),
    (
        "one candidate per unit, with its best rule",
        [
            R(1, "CM", None, A, priority=1),
            R(2, "CM.STREET_VENDING", None, A, priority=90),
            R(3, "CM.STREET_VENDING", "321322", A, priority=99),
            R(4, "CM.STREET_VENDING", None, B, priority=10),
        ],
        "CM.STREET_VENDING",
        "321322101",
        [(A, 3), (B, 4)],
    ),
    ("no rules at all", [], "CM.STREET_VENDING", "321322", []),
    (
        "unknown category",
        [R(1, "CM", None, A)],
        "XX.UNKNOWN",
        "321322",
        [],
    ),
]


@pytest.mark.parametrize(
    ("rules", "category", "division", "expected"),
    [case[1:] for case in RANKING_CASES],
    ids=[case[0] for case in RANKING_CASES],
)
def test_rank_candidates(
    rules: list[Rule], category: str, division: str | None, expected: list[tuple[int, int]]
) -> None:
    ranked = rank_candidates(rules, category, division)
    assert [(c.unit_id, c.rule.rule_id) for c in ranked] == expected
    assert all(isinstance(c, Candidate) and c.score == rule_score(c.rule) for c in ranked)
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    # order of the input does not matter
    assert rank_candidates(list(reversed(rules)), category, division) == ranked


def test_score_is_documented_specificity() -> None:
    assert rule_score(R(1, "CM", None, A)) == 100
    assert rule_score(R(1, "CM.STREET_VENDING", None, A)) == 200
    assert rule_score(R(1, "CM.STREET_VENDING", "321322", A)) == 206
    assert rule_score(R(1, "CM", "321322101000", A)) == 112  # still below any subcategory rule
