"""Analysis queries: recurring problems (hotspots, §3(10)) and the leader cockpit (§7(1))."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.analysis.types import Cockpit, Hotspots
from api.context import Info
from domain.analysis import cockpit as ck
from domain.analysis import hotspots as hs
from domain.calendar import TZ


@strawberry.type
class AnalysisQuery:
    @strawberry.field(
        description="Recurring problems of a centre's tickets (owned or referred to it) received "
        "in [from, to): counts by category × division × month with the month-on-month trend, "
        "categories against the previous period, and the fastest rising. includeBelow folds in "
        "the centres below that you may read (read-down). A centre you may not analyse is "
        "answered as one that does not exist."
    )
    async def hotspots(
        self,
        info: Info,
        centre_code: str,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")],
        to: Annotated[datetime, strawberry.argument(description="Exclusive.")],
        include_below: bool = False,
        limit: int = 200,
        top: int = 5,
    ) -> Hotspots:
        ctx = info.context
        scope = ctx.require_principal().scope
        async with ctx.sessions() as s:
            h = await hs.hotspots(
                s,
                scope,
                centre_code=centre_code,
                start=from_,
                end=to,
                include_below=include_below,
                limit=limit,
                top=top,
            )
        return Hotspots.of(h)

    @strawberry.field(
        description="领导驾驶舱 (§7(1)): received, dispatched, on-time, overdue now, "
        "satisfaction, resolution, top categories, bottom units and open supervision cases of "
        "a centre over [from, to). Another centre's cockpit is answered as a centre that does "
        "not exist."
    )
    async def cockpit(
        self,
        info: Info,
        centre_code: str,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")],
        to: Annotated[datetime, strawberry.argument(description="Exclusive.")],
        top: int = 5,
        bottom: int = 3,
    ) -> Cockpit:
        ctx = info.context
        scope = ctx.require_principal().scope
        async with ctx.sessions() as s:
            c = await ck.cockpit(
                s,
                scope,
                centre_code=centre_code,
                start=from_,
                end=to,
                now=datetime.now(TZ),
                top=top,
                bottom=bottom,
            )
        return Cockpit.of(c)
