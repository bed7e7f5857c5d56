"""The registry seed matches the regulation's appendix and the official division codes."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import Event
from domain.registry.models import Centre, CentreKind, CentreLevel, Unit, UnitCategory
from seeds import run_seed
from seeds.registry import CITY_CODE, FUNCTIONAL_ZONES

ROOT = Path(__file__).resolve().parent.parent
REGULATION = ROOT / "seeds" / "data" / "suqian-2022-regulation.txt"
SHARED = ROOT.parent / "shared" / "reference"

CATEGORY_OF_HEADING = {
    "县区": UnitCategory.COUNTY_DISTRICT,
    "党群类": UnitCategory.PARTY_MASS,
    "政府类": UnitCategory.GOVERNMENT,
    "垂管类": UnitCategory.VERTICAL,
    "其他": UnitCategory.OTHER,
}


def appendix_from_regulation(text: str) -> list[tuple[UnitCategory, str]]:
    """Parse the appendix (附件 … 承办单位汇总表) of the regulation: (category, name) in order."""
    start = text.index("市域治理一张网分拨平台承办单位汇总表\n")
    out: list[tuple[UnitCategory, str]] = []
    for line in text[start:].splitlines():
        m = re.match(r"\s*（[一二三四五]）(\S+?)：(.+)$", line)
        if m:
            out += [(CATEGORY_OF_HEADING[m.group(1)], n) for n in m.group(2).strip().split("、")]
    return out


def test_regulation_copy_is_the_shared_reference() -> None:
    shared = SHARED / "suqian-2022-regulation.txt"
    if not shared.exists():
        pytest.skip("../shared/reference not present beside this checkout")
    assert REGULATION.read_bytes() == shared.read_bytes()
    divisions = ROOT / "seeds" / "data" / "suqian-divisions.csv"
    assert divisions.read_bytes() == (SHARED / "suqian-divisions.csv").read_bytes()


def test_appendix_has_155_units_in_five_categories() -> None:
    units = appendix_from_regulation(REGULATION.read_text(encoding="utf-8"))
    counts = Counter(c for c, _ in units)
    assert len(units) == 155
    assert counts == {
        UnitCategory.COUNTY_DISTRICT: 9,
        UnitCategory.PARTY_MASS: 29,
        UnitCategory.GOVERNMENT: 37,
        UnitCategory.VERTICAL: 24,
        UnitCategory.OTHER: 56,
    }
    assert len({n for _, n in units}) == 155, "names are unique"


async def test_seeded_units_match_the_regulation_exactly(engine: AsyncEngine) -> None:
    expected = appendix_from_regulation(REGULATION.read_text(encoding="utf-8"))
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Unit.category, Unit.name)
                .where(Unit.member_of == CITY_CODE, Unit.demo.is_(False))
                .order_by(Unit.seed_key)
            )
        ).all()
    assert [(r.category, r.name) for r in rows] == expected


async def test_seeded_centres_counts_and_codes(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        by_level = dict(
            (await conn.execute(select(Centre.level, func.count()).group_by(Centre.level))).all()
        )
        centres = {c.code: c for c in (await conn.execute(select(Centre))).all()}
    assert by_level == {CentreLevel.CITY: 1, CentreLevel.COUNTY: 9, CentreLevel.TOWNSHIP: 109}
    # Every statistical division is a centre under its official code.
    rows = list(csv.DictReader((ROOT / "seeds/data/suqian-divisions.csv").open(encoding="utf-8")))
    assert len(rows) == 116
    for r in rows:
        assert centres[r["code"]].name == r["name"]
        assert centres[r["code"]].division_code == r["code"]
    # The three zones without a statistical code are county-level functional zones.
    for code, name in FUNCTIONAL_ZONES.items():
        c = centres[code]
        assert (c.name, c.level, c.kind, c.parent_code, c.division_code) == (
            name,
            CentreLevel.COUNTY,
            CentreKind.FUNCTIONAL_ZONE,
            CITY_CODE,
            None,
        )
    assert centres["321371"].kind == CentreKind.FUNCTIONAL_ZONE
    # 苏州宿迁工业园 belongs under the zone's centre, not under 宿城区 (DESIGN.md).
    assert centres["321302450"].parent_code == "3213Z3"
    # Every township sits under a county-level centre.
    for c in centres.values():
        if c.level == CentreLevel.TOWNSHIP:
            assert centres[c.parent_code].level == CentreLevel.COUNTY


async def test_each_county_unit_represents_its_centre(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Unit.name, Centre.name)
                .join(Centre, Centre.code == Unit.represents)
                .where(Unit.category == UnitCategory.COUNTY_DISTRICT)
            )
        ).all()
    assert len(rows) == 9
    for unit_name, centre_name in rows:
        assert unit_name == centre_name


async def _counts(engine: AsyncEngine) -> tuple[int, ...]:
    async with engine.connect() as conn:
        out = []
        for table in ("centre", "unit", "staff", "casbin_rule", "event"):
            out.append((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
    return tuple(out)


async def test_reseeding_twice_changes_nothing(engine: AsyncEngine) -> None:
    before = await _counts(engine)
    assert await run_seed(engine, demo=True) == {
        "centres": 0,
        "units": 0,
        "rules": 0,
        "categories": 0,
        "time_limits": 0,
        "routing_rules": 0,
        "meeting_defaults": 0,
        "scoring_schemes": 0,
        "demo_units": 0,
        "demo_staff": 0,
        "demo_rules": 0,
        "demo_tickets": 0,
        "demo_meetings": 0,
        "demo_referrals": 0,
    }
    await run_seed(engine, demo=True)
    assert await _counts(engine) == before


async def test_seed_records_its_event(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        types = (await conn.execute(select(Event.type).where(Event.actor == "system:seed"))).all()
    assert sorted(t[0] for t in types) == ["registry.demo_seeded", "registry.seeded"]
