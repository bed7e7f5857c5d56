"""GraphQL types of the recurring-problem analysis (§3(10)) and the leader cockpit (§7(1))."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.context import Info
from api.registry.types import Unit
from api.relay import to_global_id
from api.tickets.types import Category
from domain.analysis import cockpit as ck
from domain.analysis import hotspots as hs


async def _category(info: Info, code: str) -> Category | None:
    c = await info.context.loaders.category_by_code.load(code)
    return Category.of(c) if c else None


@strawberry.type(description="Tickets of one category in one division in one month.")
class HotspotCell:
    category_code: str
    division_code: str = strawberry.field(
        description="The county (for the city), township (for a county) or full division code; "
        "empty when tickets carry none."
    )
    month: date = strawberry.field(description="First day of the month (Asia/Shanghai).")
    count: int = strawberry.field(description="Tickets received in the period in that month.")
    previous: int = strawberry.field(
        description="The same category and division in the whole month before."
    )
    change: int

    @classmethod
    def of(cls, c: hs.HotspotCell) -> HotspotCell:
        return cls(
            category_code=c.category_code,
            division_code=c.division_code,
            month=c.month,
            count=c.count,
            previous=c.previous,
            change=c.change,
        )

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.category_code)


@strawberry.type(description="A category's tickets in the period against the previous period.")
class CategoryTrend:
    category_code: str
    count: int
    previous: int = strawberry.field(description="In the previous period of the same length.")
    change: int
    change_rate: float | None = strawberry.field(
        description="change / previous; null when previous is 0."
    )

    @classmethod
    def of(cls, c: hs.CategoryTrend) -> CategoryTrend:
        return cls(
            category_code=c.category_code,
            count=c.count,
            previous=c.previous,
            change=c.change,
            change_rate=c.change_rate,
        )

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.category_code)


@strawberry.type(
    description="Recurring problems (归档分析, §3(10)) of a centre's tickets over a period."
)
class Hotspots:
    centre_code: str
    centre_codes: list[str] = strawberry.field(
        description="The centres whose tickets were counted (the centre, or its subtree)."
    )
    from_: datetime = strawberry.field(name="from")
    to: datetime
    previous_from: datetime = strawberry.field(
        description="Start of the previous period (same length, ending at from)."
    )
    total: int
    previous_total: int
    cells: list[HotspotCell] = strawberry.field(
        description="category × division × month, the largest first."
    )
    categories: list[CategoryTrend] = strawberry.field(description="By count, largest first.")
    rising: list[CategoryTrend] = strawberry.field(
        description="The categories that rose most against the previous period."
    )

    @classmethod
    def of(cls, h: hs.Hotspots) -> Hotspots:
        return cls(
            centre_code=h.centre_code,
            centre_codes=list(h.centres),
            from_=h.start,
            to=h.end,
            previous_from=h.previous_start,
            total=h.total,
            previous_total=h.previous_total,
            cells=[HotspotCell.of(c) for c in h.cells],
            categories=[CategoryTrend.of(c) for c in h.categories],
            rising=[CategoryTrend.of(c) for c in h.rising],
        )


@strawberry.type(description="Tickets received in one category.")
class CategoryCount:
    category_code: str
    count: int

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.category_code)


@strawberry.type(
    description="A member unit's figures over the period, with its rank from the bottom."
)
class UnitFigures:
    unit_pk: strawberry.Private[int]
    unit_id: strawberry.ID
    unit_name: str
    assigned: int
    completed: int
    on_time: int
    overdue_now: int
    on_time_rate: float | None
    rank: int = strawberry.field(description="1 = the lowest on-time completion rate.")

    @classmethod
    def of(cls, u: ck.UnitFigures) -> UnitFigures:
        return cls(
            unit_pk=u.unit_id,
            unit_id=to_global_id("Unit", u.unit_id),
            unit_name=u.unit_name,
            assigned=u.assigned,
            completed=u.completed,
            on_time=u.on_time,
            overdue_now=u.overdue_now,
            on_time_rate=u.on_time_rate,
            rank=u.rank,
        )

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        row = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(row) if row else None


@strawberry.type(
    description="领导驾驶舱 (§7(1)): a centre's figures over [from, to); 'now' figures at the time "
    "of the query."
)
class Cockpit:
    centre_code: str
    from_: datetime = strawberry.field(name="from")
    to: datetime
    now: datetime
    received: int = strawberry.field(description="Tickets of the centre received in the period.")
    dispatched: int = strawberry.field(description="Of those, no longer waiting for dispatch.")
    completed: int = strawberry.field(description="Of those, replied, closed or archived.")
    callbacks: int = strawberry.field(description="Reachable callbacks on those tickets.")
    satisfied: int
    resolved: int
    unreachable: int
    satisfaction_rate: float | None = strawberry.field(description="satisfied / callbacks.")
    resolution_rate: float | None = strawberry.field(description="resolved / callbacks.")
    assignments: int = strawberry.field(
        description="Assignments the centre dispatched to its members in the period (not "
        "returned ones)."
    )
    assignments_completed: int
    on_time: int = strawberry.field(description="Completed with the reply in by the due time.")
    overdue_now: int = strawberry.field(description="Still with the unit and past due now.")
    on_time_rate: float | None = strawberry.field(
        description="按时办结率: onTime / (assignmentsCompleted + overdueNow)."
    )
    open_supervision_cases: int = strawberry.field(
        description="Supervision cases opened in the period and not closed."
    )
    overdue_supervision_cases: int = strawberry.field(
        description="Of those, open past their deadline now."
    )
    top_categories: list[CategoryCount]
    bottom_units: list[UnitFigures] = strawberry.field(
        description="The lowest on-time completion rates (ties included)."
    )

    @classmethod
    def of(cls, c: ck.Cockpit) -> Cockpit:
        return cls(
            centre_code=c.centre_code,
            from_=c.start,
            to=c.end,
            now=c.now,
            received=c.received,
            dispatched=c.dispatched,
            completed=c.completed,
            callbacks=c.callbacks,
            satisfied=c.satisfied,
            resolved=c.resolved,
            unreachable=c.unreachable,
            satisfaction_rate=c.satisfaction_rate,
            resolution_rate=c.resolution_rate,
            assignments=c.assignments,
            assignments_completed=c.assignments_completed,
            on_time=c.on_time,
            overdue_now=c.overdue_now,
            on_time_rate=c.on_time_rate,
            open_supervision_cases=c.open_supervision_cases,
            overdue_supervision_cases=c.overdue_supervision_cases,
            top_categories=[
                CategoryCount(category_code=x.category_code, count=x.count)
                for x in c.top_categories
            ],
            bottom_units=[UnitFigures.of(u) for u in c.bottom_units],
        )
