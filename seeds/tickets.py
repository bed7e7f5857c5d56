"""Seed the ticket reference data: categories, time limits and routing rules (idempotent).

Existing rows are left alone, so an administrator's later changes survive a reseed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.registry.models import Unit
from domain.tickets.models import Category, RoutingRule, TimeLimitRule
from seeds.registry import CITY_CODE, Progress
from seeds.tickets_data import load_categories, load_routing_rules, load_time_limits


async def seed_ticket_reference(
    session: AsyncSession, progress: Progress | None = None
) -> dict[str, int]:
    say = progress or (lambda _msg: None)
    added = {"categories": 0, "time_limits": 0, "routing_rules": 0}

    say("categories")
    for c in load_categories():
        res = await session.execute(
            insert(Category)
            .values(code=c.code, parent_code=c.parent_code, name_zh=c.name_zh, name_en=c.name_en)
            .on_conflict_do_nothing(index_elements=["code"])
        )
        added["categories"] += int(res.rowcount or 0)  # type: ignore[attr-defined]

    say("time limits")
    for t in load_time_limits():
        res = await session.execute(
            insert(TimeLimitRule)
            .values(
                channel=t.channel,
                urgency=t.urgency,
                sign_for_amount=t.sign_for.amount,
                sign_for_unit=t.sign_for.unit.value,
                handle_amount=t.handle.amount,
                handle_unit=t.handle.unit.value,
                return_window_amount=t.return_window.amount,
                return_window_unit=t.return_window.unit.value,
                source=t.source,
            )
            .on_conflict_do_nothing(index_elements=["channel", "urgency"])
        )
        added["time_limits"] += int(res.rowcount or 0)  # type: ignore[attr-defined]

    say("routing rules")
    units = {
        name: uid
        for name, uid in (
            await session.execute(
                select(Unit.name, Unit.id).where(Unit.member_of == CITY_CODE, Unit.demo.is_(False))
            )
        ).all()
    }
    for r in load_routing_rules():
        res = await session.execute(
            insert(RoutingRule)
            .values(
                category_code=r.category_code,
                division_prefix=r.division_prefix,
                unit_id=units[r.unit_name],
                priority=r.priority,
                note=r.note,
            )
            .on_conflict_do_nothing(index_elements=["category_code", "division_prefix", "unit_id"])
        )
        added["routing_rules"] += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return added
