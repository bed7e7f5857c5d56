"""The demo notice, referral and draft scores (``--demo`` through the CLI, seeds.demo_notices)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.assessment.models import AssessmentRun
from domain.assessment.notice_models import AccountabilityReferral, Notice
from domain.calendar import TZ
from seeds.demo_notices import DEMO_NOTICE_TITLE, seed_demo_notices

NOTICES = "{ notices(first: 10) { totalCount nodes { title kind units { name } } } }"
REFERRALS = "{ accountabilityReferrals(first: 10) { totalCount nodes { grounds } } }"


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_demo_notices_are_made_once_and_seen_by_the_right_people(
    engine: AsyncEngine, new_client: Any
) -> None:
    now = datetime.now(TZ)
    first, second = await asyncio.gather(seed_demo_notices(engine), seed_demo_notices(engine))
    assert sorted([first, second]) == [0, 1]  # the lock lets one seed in
    assert await seed_demo_notices(engine) == 0
    assert await _count(engine, Notice) == 1
    assert await _count(engine, AccountabilityReferral) == 1
    async with engine.connect() as conn:
        runs = (await conn.execute(select(AssessmentRun.centre_code, AssessmentRun.month))).all()
    assert [tuple(r) for r in runs] == [("3213", date(now.year, now.month, 1))]

    unit, county, city = new_client(), new_client(), new_client()
    await unit.login("cgj.handler")
    seen = (await unit.data(NOTICES))["notices"]
    assert [n["title"] for n in seen["nodes"]] == [DEMO_NOTICE_TITLE]
    assert seen["nodes"][0]["units"] == [{"name": "市城管局"}]
    assert (await unit.data(REFERRALS))["accountabilityReferrals"]["totalCount"] == 0
    await county.login("shuyang.supervisor")
    assert (await county.data(NOTICES))["notices"]["totalCount"] == 0
    await city.login("city.supervisor")
    referrals = (await city.data(REFERRALS))["accountabilityReferrals"]
    assert referrals["nodes"] == [{"grounds": ["PASSIVE_OR_OVERDUE_AFTER_REMINDER"]}]
    month = f"{now.year:04d}-{now.month:02d}"
    scores = await city.data(
        # The README's example.
        'query($m: String!) { assessment(centreCode: "3213", month: $m) { status '
        "scores { rank unit { name } score breakdown { indicator value points } } "
        "bottom { unit { name } } } }",
        {"m": month},
    )
    assert scores["assessment"]["status"] == "DRAFT"
    assert len(scores["assessment"]["scores"]) == 155
    assert 3 <= len(scores["assessment"]["bottom"]) < 155
    assert all(line["indicator"] for line in scores["assessment"]["scores"][0]["breakdown"])
