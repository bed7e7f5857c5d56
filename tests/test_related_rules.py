"""Repeat-complaint rules (§4(5)6) as pure functions: normalisation, similarity, the rules.

The database side (keys, candidates, links, visibility, the API) is in ``test_related.py``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest

from domain.analysis.models import LinkReason, MatchKind
from domain.analysis.related import (
    DEFAULT_POLICY,
    Facts,
    MatchPolicy,
    cn_number,
    evidence,
    jaccard,
    match_keys,
    matches,
    normalise_address,
    normalise_phone,
    shingles,
    text_bands,
)
from domain.calendar import TZ

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)

NOISE = (
    "烧烤摊夜间扰民",
    "幸福小区东门有烧烤摊每天晚上十点后仍在营业，油烟和噪音严重扰民，请相关部门尽快处理。",
)
# The same complaint retold: a few characters differ (similarity ≈ 0.85).
NOISE_RETOLD = (
    "烧烤摊夜间扰民",
    "幸福小区东门有烧烤摊每天晚上十点以后还在营业，油烟和噪音严重扰民，请相关部门尽快处理！",
)
# Reworded a little more (similarity ≈ 0.77): just under the threshold — the rule is for
# near-identical text, not for complaints on the same topic.
NOISE_REWORDED = (
    "烧烤摊夜间扰民",
    "幸福小区东门的烧烤摊每天晚上十点以后还在营业，油烟和噪音严重扰民，请相关部门尽快处理！",
)
# Same place, another matter: much shared vocabulary, but not the same complaint.
WATER = (
    "幸福小区停水",
    "幸福小区东门一带从今天早上开始停水，没有任何通知，请相关部门尽快处理。",
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("86 138 1234 5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full width
        ("0527-84361234", "052784361234"),
        ("(0527) 8436 1234", "052784361234"),
        ("84361234", "052784361234"),  # a local landline gets Suqian's area code
        ("8436123", "05278436123"),
        ("12345", None),  # the hotline itself
        ("110", None),
        ("", None),
        (None, None),
        ("1381234567", None),  # ten digits: a typo, not a phone
        ("138123456789", None),
        ("abc", None),
        ("01234567", None),  # 8 digits from 0: a broken area code
    ],
)
def test_phone_normalisation(raw: str | None, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("宿城区幸福路12号", "宿城区幸福路12号"),
        ("江苏省宿迁市宿城区幸福路12号", "宿城区幸福路12号"),
        ("宿迁市 宿城区 幸福路 １２ 号", "宿城区幸福路12号"),  # spaces, full-width digits
        ("宿城区幸福路12号附近", "宿城区幸福路12号"),
        ("宿城区幸福路12号。", "宿城区幸福路12号"),
        ("Xingfu Rd. 12", "xingfurd12"),
        ("不详", None),
        ("无", None),
        ("宿城区", None),  # too vague
        ("宿迁市", None),
        ("", None),
        (None, None),
    ],
)
def test_address_normalisation(raw: str | None, expected: str | None) -> None:
    assert normalise_address(raw) == expected


def test_two_spellings_of_one_address_match_and_neighbours_do_not() -> None:
    a = normalise_address("江苏省宿迁市宿城区幸福路12号")
    assert a == normalise_address("宿城区 幸福路12号 附近")
    assert a == normalise_address("宿城区幸福路十二号")
    assert a != normalise_address("宿城区幸福路14号")
    assert a != normalise_address("宿城区幸福路十四号")
    room = normalise_address("幸福小区3栋二单元二〇一室")
    assert room == normalise_address("幸福小区三栋2单元201室")
    assert room != normalise_address("幸福小区3栋2单元202室")
    # A numeral in a name is not a house number: left as written.
    assert normalise_address("三台山路菜市场门口") == "三台山路菜市场门口"


@pytest.mark.parametrize(
    ("run", "digits"),
    [
        ("十", "10"),
        ("十二", "12"),
        ("二十", "20"),
        ("二十三", "23"),
        ("一百零五", "105"),
        ("一百一十", "110"),
        ("两千零一", "2001"),
        ("二〇一", "201"),
        ("三", "3"),
    ],
)
def test_chinese_numerals_in_digits(run: str, digits: str) -> None:
    assert cn_number(run) == digits


def grams(pair: tuple[str, str]) -> frozenset[str]:
    return shingles(pair[0], pair[1])


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        (NOISE, NOISE, True),
        (NOISE, NOISE_RETOLD, True),
        (NOISE, NOISE_REWORDED, False),
        (NOISE, WATER, False),
        (NOISE_RETOLD, WATER, False),
    ],
)
def test_text_similarity_threshold(a: tuple[str, str], b: tuple[str, str], similar: bool) -> None:
    sim = jaccard(grams(a), grams(b))
    assert (sim >= DEFAULT_POLICY.text_threshold) is similar, sim


def test_similarity_values() -> None:
    assert jaccard(grams(NOISE), grams(NOISE)) == 1.0
    assert 0.8 <= jaccard(grams(NOISE), grams(NOISE_RETOLD)) < 0.9
    assert 0.75 < jaccard(grams(NOISE), grams(NOISE_REWORDED)) < 0.8
    assert jaccard(grams(NOISE), grams(WATER)) < 0.3
    assert jaccard(frozenset(), grams(NOISE)) == 0.0
    # Punctuation, spaces, width and case do not count.
    assert shingles("Ａbc，", "d e") == shingles("abc", "DE")
    assert shingles("噪音", "") == frozenset({"噪音"})


def facts(
    tid: int,
    *,
    text: tuple[str, str] = NOISE,
    phone: str | None = None,
    address: str | None = None,
    category: str = "CM.CATERING_FUMES",
    anonymous: bool = False,
    days: float = 0,
) -> Facts:
    return Facts(
        ticket_id=tid,
        received_at=T0 + timedelta(days=days),
        category_code=category,
        title=text[0],
        content=text[1],
        address=address,
        phone=phone,
        anonymous=anonymous,
    )


def reasons(a: Facts, b: Facts, policy: MatchPolicy = DEFAULT_POLICY) -> set[LinkReason]:
    found = {m.reason for m in matches(a, b, policy)}
    assert found == {m.reason for m in matches(b, a, policy)}  # symmetric
    return found


def test_same_phone_rule() -> None:
    a = facts(1, text=NOISE, phone="138-1234-5678")
    b = facts(2, text=WATER, phone="+86 13812345678", days=30)
    assert reasons(a, b) == {LinkReason.SAME_PHONE}
    assert reasons(a, dataclasses.replace(b, phone="13812345679")) == set()
    # The window (180 days) is inclusive; one day more and they are not linked.
    assert reasons(a, dataclasses.replace(b, received_at=T0 + timedelta(days=180))) == {
        LinkReason.SAME_PHONE
    }
    assert reasons(a, dataclasses.replace(b, received_at=T0 + timedelta(days=181))) == set()
    # Never for an anonymous ticket: the link would tell who complained.
    assert reasons(a, dataclasses.replace(b, anonymous=True)) == set()
    assert reasons(dataclasses.replace(a, anonymous=True), b) == set()
    # Service numbers are nobody's phone.
    assert reasons(facts(1, text=NOISE, phone="12345"), facts(2, text=WATER, phone="12345")) == (
        set()
    )


def test_same_address_and_category_rule() -> None:
    a = facts(1, text=NOISE, address="江苏省宿迁市宿城区幸福路12号")
    b = facts(2, text=WATER, address="宿城区幸福路12号", days=89)
    assert reasons(a, b) == {LinkReason.SAME_ADDRESS_CATEGORY}
    assert reasons(a, dataclasses.replace(b, category_code="WS.WATER_OUTAGE")) == set()
    assert reasons(a, dataclasses.replace(b, address="宿城区幸福路14号")) == set()
    assert reasons(a, dataclasses.replace(b, received_at=T0 + timedelta(days=91))) == set()
    assert reasons(facts(1, text=NOISE, address="不详"), facts(2, text=WATER, address="不详")) == (
        set()
    )
    # The window is a parameter.
    wide = MatchPolicy(address_window=timedelta(days=365))
    late = dataclasses.replace(b, received_at=T0 + timedelta(days=200))
    assert reasons(a, late, wide) == {LinkReason.SAME_ADDRESS_CATEGORY}


def test_similar_text_rule() -> None:
    a = facts(1, text=NOISE)
    b = facts(2, text=NOISE_RETOLD, category="CM.CITY_APPEARANCE", days=-20)
    (m,) = matches(a, b)
    assert m.reason == LinkReason.SIMILAR_TEXT
    assert 0.8 <= m.score < 0.9
    assert reasons(a, facts(2, text=WATER)) == set()
    assert reasons(a, dataclasses.replace(b, received_at=T0 - timedelta(days=91))) == set()
    # The threshold is a parameter.
    assert reasons(a, b, MatchPolicy(text_threshold=0.95)) == set()
    # Too short to say anything.
    short = ("噪音", "扰民")
    assert reasons(facts(1, text=short), facts(2, text=short)) == set()


def test_several_rules_at_once_and_never_with_itself() -> None:
    a = facts(1, phone="13812345678", address="宿城区幸福路12号")
    b = facts(2, phone="13812345678", address="宿城区幸福路12号", days=1)
    assert [m.reason for m in matches(a, b)] == [
        LinkReason.SAME_PHONE,
        LinkReason.SAME_ADDRESS_CATEGORY,
        LinkReason.SIMILAR_TEXT,
    ]
    assert matches(a, a) == []


def test_match_keys_follow_the_rules() -> None:
    a = facts(1, phone="138-1234-5678", address="宿迁市宿城区幸福路12号")
    b = facts(2, phone="13812345678", address="宿城区幸福路12号", text=NOISE_RETOLD)
    ka, kb = match_keys(a), match_keys(b)
    kinds = [k for k, _ in ka]
    assert kinds[:2] == [MatchKind.PHONE, MatchKind.ADDRESS_CATEGORY]
    assert kinds.count(MatchKind.TEXT_BAND) == DEFAULT_POLICY.bands

    def by_kind(keys: list[tuple[MatchKind, int]], kind: MatchKind) -> set[int]:
        return {v for k, v in keys if k == kind}

    assert by_kind(ka, MatchKind.PHONE) == by_kind(kb, MatchKind.PHONE)
    assert by_kind(ka, MatchKind.ADDRESS_CATEGORY) == by_kind(kb, MatchKind.ADDRESS_CATEGORY)
    # A near-identical text shares at least one band; an unrelated one none.
    assert by_kind(ka, MatchKind.TEXT_BAND) & by_kind(kb, MatchKind.TEXT_BAND)
    assert not by_kind(ka, MatchKind.TEXT_BAND) & set(text_bands(grams(WATER)))
    # Keys are stable across processes (no salted hash()) and fit a BIGINT.
    assert text_bands(grams(NOISE)) == text_bands(grams(NOISE))
    assert all(-(2**63) <= v < 2**63 for _, v in ka)
    # An anonymous ticket has no phone key; another category another address key.
    assert MatchKind.PHONE not in {k for k, _ in match_keys(dataclasses.replace(a, anonymous=True))}
    other = match_keys(dataclasses.replace(a, category_code="WS.WATER_OUTAGE"))
    assert by_kind(other, MatchKind.ADDRESS_CATEGORY) != by_kind(ka, MatchKind.ADDRESS_CATEGORY)
    # No phone, no address, short text: no keys at all.
    assert match_keys(facts(3, text=("噪音", "扰民"))) == []


def test_evidence_names_the_rule_never_the_phone() -> None:
    a = facts(1, phone="13812345678", address="宿城区幸福路12号")
    b = facts(2, phone="13812345678", address="宿城区幸福路12号", days=1)
    for m in matches(a, b):
        ev = json.dumps(evidence(m))
        assert "1381234" not in ev and "5678" not in ev
        assert json.loads(ev)["rule"] == m.reason.value
    sim = next(m for m in matches(a, b) if m.reason == LinkReason.SIMILAR_TEXT)
    assert evidence(sim)["threshold"] == 0.8
