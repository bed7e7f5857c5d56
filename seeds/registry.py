"""Seed the hierarchy and the 155-unit registry by idempotent upserts (never by a migration).

Sources (copied into ``seeds/data/``):
- ``suqian-divisions.csv``: NBS 2023 statistical division codes of 宿迁市 (city, 6 county-level
  areas, 109 township-level divisions).
- ``units.csv``: the appendix of the 2022 regulation, 155 units in five categories, names exactly
  as written there (a test re-parses the regulation text and compares).

The appendix's functional zones 市湖滨新区, 市洋河新区 and 苏州宿迁工业园区 have no statistical
code; they get the stable codes below. Townships they administer are placed under them by
default (administrators may move them: ``moveCentre`` keeps history).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, centre_obj, face_obj, node_obj, unit_domain, unit_obj
from authz import store as policy_store
from authz.policies import default_p_rules, read_down_rules
from domain import events
from domain.registry.models import Centre, CentreKind, CentreLevel, Unit, UnitCategory

CITY_CODE = "3213"

# Functional zones of the appendix without a statistical code: stable codes of our own.
FUNCTIONAL_ZONES: dict[str, str] = {
    "3213Z1": "市湖滨新区",
    "3213Z2": "市洋河新区",
    "3213Z3": "苏州宿迁工业园区",
}
# 宿迁经济技术开发区 has an official county-level statistical code but is a functional zone.
ZONE_WITH_CODE = {"321371"}

# Default administrative parent of townships that functional zones administer (托管).
# Statistical parents differ; the zone is where these townships' tickets are dispatched from.
ZONE_TOWNSHIPS: dict[str, str] = {
    "321302450": "3213Z3",  # 苏州宿迁工业园 -> 苏州宿迁工业园区 (DESIGN.md)
    "321311004": "3213Z1",  # 晓店街道 -> 市湖滨新区
    "321311005": "3213Z1",  # 井头街道 -> 市湖滨新区
    "321311151": "3213Z1",  # 皂河镇 -> 市湖滨新区
    "321302111": "3213Z1",  # 王官集镇 -> 市湖滨新区
    "321311450": "3213Z1",  # 嶂山林场 -> 市湖滨新区
    "321302150": "3213Z2",  # 洋河镇 -> 市洋河新区
}


@dataclass(frozen=True)
class CentreSeed:
    code: str
    name: str
    level: CentreLevel
    kind: CentreKind
    parent_code: str | None
    division_code: str | None


@dataclass(frozen=True)
class UnitSeed:
    seed_key: str
    category: UnitCategory
    name: str
    represents: str | None


def _data(name: str) -> str:
    return resources.files("seeds").joinpath("data", name).read_text(encoding="utf-8")


def centre_seeds() -> list[CentreSeed]:
    rows = list(csv.DictReader(_data("suqian-divisions.csv").splitlines()))
    out: list[CentreSeed] = []
    for r in rows:
        level = {"city": CentreLevel.CITY, "county": CentreLevel.COUNTY}.get(
            r["level"], CentreLevel.TOWNSHIP
        )
        parent = None if level == CentreLevel.CITY else r["parent_code"]
        if level == CentreLevel.TOWNSHIP:
            parent = ZONE_TOWNSHIPS.get(r["code"], parent)
        kind = (
            CentreKind.FUNCTIONAL_ZONE if r["code"] in ZONE_WITH_CODE else CentreKind.ADMINISTRATIVE
        )
        out.append(CentreSeed(r["code"], r["name"], level, kind, parent, r["code"]))
    for code, name in FUNCTIONAL_ZONES.items():
        out.append(
            CentreSeed(code, name, CentreLevel.COUNTY, CentreKind.FUNCTIONAL_ZONE, CITY_CODE, None)
        )
    order = {CentreLevel.CITY: 0, CentreLevel.COUNTY: 1, CentreLevel.TOWNSHIP: 2}
    return sorted(out, key=lambda c: (order[c.level], c.code))


def unit_seeds() -> list[UnitSeed]:
    rows = list(csv.DictReader(_data("units.csv").splitlines()))
    return [
        UnitSeed(
            seed_key=f"appendix:{i:03d}",
            category=UnitCategory(r["category"]),
            name=r["name"],
            represents=r["represents"] or None,
        )
        for i, r in enumerate(rows, start=1)
    ]


Progress = Callable[[str], None]


async def seed_registry(session: AsyncSession, progress: Progress | None = None) -> dict[str, int]:
    """Upsert centres, units and default policies; returns what was added (zeros on reseed)."""
    say = progress or (lambda _msg: None)
    added = {"centres": 0, "units": 0, "rules": 0}

    say("centres")
    first_time = await session.get(Centre, CITY_CODE) is None
    for c in centre_seeds():
        res = await session.execute(
            insert(Centre)
            .values(
                code=c.code,
                name=c.name,
                level=c.level,
                kind=c.kind,
                parent_code=c.parent_code,
                division_code=c.division_code,
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )
        added["centres"] += int(res.rowcount or 0)  # type: ignore[attr-defined]

    say("units")
    for u in unit_seeds():
        res = await session.execute(
            insert(Unit)
            .values(
                seed_key=u.seed_key,
                name=u.name,
                category=u.category,
                member_of=CITY_CODE,
                represents=u.represents,
            )
            .on_conflict_do_nothing(index_elements=["seed_key"])
        )
        added["units"] += int(res.rowcount or 0)  # type: ignore[attr-defined]

    say("policies")
    added["rules"] = await sync_policies(session, first_time=first_time)
    await record_seeded(session, "registry.seeded", added)
    return added


async def record_seeded(session: AsyncSession, event_type: str, added: dict[str, int]) -> None:
    """A seed run that changed anything leaves one event with its counts (none on a no-op)."""
    if any(added.values()):
        await events.record(
            session,
            type=event_type,
            actor="system:seed",
            entity_type="registry",
            entity_id=CITY_CODE,
            before=None,
            after=dict(added),
            domains=[centre_domain(CITY_CODE)],
        )


async def sync_policies(session: AsyncSession, *, first_time: bool) -> int:
    """Default p rules, and the membership mirror (g2) for every centre and unit."""
    n = await policy_store.sync_rules(session, "p", default_p_rules(CITY_CODE))
    if first_time:
        # The city reads down its chain by default (to follow what it referred); counties do
        # not. Only on the first seed: an administrator's later choice is never overridden.
        n += await policy_store.sync_rules(session, "p", read_down_rules(CITY_CODE))
    centres = (await session.execute(select(Centre.code))).scalars().all()
    g2: list[list[str]] = []
    for code in centres:
        g2.append([centre_obj(code), centre_domain(code)])
        g2.append([node_obj(code), centre_domain(CITY_CODE)])
    units = (await session.execute(select(Unit.id, Unit.member_of, Unit.represents))).all()
    for unit_id, member_of, represents in units:
        g2.append([unit_obj(unit_id), centre_domain(member_of)])
        g2.append([unit_obj(unit_id), unit_domain(unit_id)])
        if represents:
            g2.append([face_obj(unit_id), centre_domain(represents)])
    n += await policy_store.sync_rules(session, "g2", g2)
    return n
