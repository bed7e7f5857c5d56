"""Recurring problems (归档分析, regulation §3(10)): counts by category × division × month, with
the trend against the previous period, and the categories rising fastest.

"各地、各部门要根据企业群众的诉求办件，定期梳理涉及本地区、本行业的共性问题": each centre analyses
its own tickets. The tickets of a centre are those it owns (its intake) and those referred to it
(an assignment to the unit that stands for it, 转办/下派) — the same notion of "its tickets" the
ticket list uses. Who may ask (``analysis_scope``):

* staff holding ``("analysis", "read")`` in the centre's own domain;
* staff holding it in a centre above that was granted read-down (``tree read``): the city sees
  down the chain when policy grants it, and ``include_below`` then folds the whole subtree in.

A centre the caller may not analyse is answered exactly as one that does not exist.

Everything is one SQL aggregation in PostgreSQL (GROUP BY with FILTER, a window ``lag`` for the
month-on-month trend); Python only shapes the few hundred result rows. Months are calendar months
in Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope
from domain.calendar import TZ
from domain.errors import InvalidInput, NotFound
from domain.registry.models import Unit
from domain.registry.visibility import CentreTree

__all__ = [
    "MAX_CELLS",
    "AnalysisScope",
    "CategoryTrend",
    "HotspotCell",
    "Hotspots",
    "analysis_scope",
    "check_period",
    "hotspots",
    "readable_centres",
    "scoped_tickets",
    "tune_session",
]

MAX_CELLS = 1000
MAX_PERIOD_DAYS = 400


# ---- who may analyse what ----------------------------------------------------------------------
def readable_centres(tree: CentreTree, scope: Scope, kind: str, action: str) -> set[str]:
    """Centres where the subject holds (kind, action), plus the subtrees of those of them that
    were granted read-down."""
    own = scope.centres_for(kind, action)
    return set(own) | tree.descendants(own & scope.read_down_from)


@dataclass(frozen=True)
class AnalysisScope:
    centre_code: str
    centres: tuple[str, ...]  # the centres whose tickets count (the centre, or its subtree)
    faces: tuple[int, ...]  # units standing for those centres: tickets referred to them count


async def analysis_scope(
    session: AsyncSession,
    scope: Scope,
    centre_code: str,
    *,
    kind: str = "analysis",
    action: str = "read",
    include_below: bool = False,
) -> AnalysisScope:
    """The centres (and the units that stand for them) whose tickets an analysis of
    ``centre_code`` counts; NotFound when the caller may not analyse that centre."""
    tree = await CentreTree.load(session)
    readable = readable_centres(tree, scope, kind, action)
    if centre_code not in readable or centre_code not in tree.parents:
        raise NotFound("centre not found", field="centreCode")
    centres = {centre_code}
    if include_below:
        centres |= tree.descendants({centre_code}) & readable
    # Referrals into the set from outside it: the units standing for its top centre (those
    # standing for a centre below it are members of a centre in the set, whose tickets count
    # already).
    rows = await session.execute(
        select(Unit.id, Unit.represents).where(Unit.represents.in_(centres)).order_by(Unit.id)
    )
    faces = [uid for uid, rep in rows if tree.parents.get(str(rep)) not in centres]
    return AnalysisScope(centre_code, tuple(sorted(centres)), tuple(faces))


def scoped_tickets(
    a: AnalysisScope, columns: Sequence[str], start: datetime, end: datetime
) -> tuple[str, dict[str, Any]]:
    """A derived table (SQL text and parameters) of the given ticket columns for "the tickets of
    these centres" received in [start, end): those they own, and (disjointly, so none counts
    twice) those referred to them — driven from the assignments to the units that stand for
    them, so each part uses its own index."""
    cols = ", ".join(f"t.{c}" for c in columns)
    rng = "t.received_at >= :from_ AND t.received_at < :to_"
    sql = f"SELECT {cols} FROM ticket t WHERE t.centre_code = ANY(:centres) AND {rng}"
    params: dict[str, Any] = {"centres": list(a.centres), "from_": start, "to_": end}
    if a.faces:
        sql += (
            f" UNION ALL SELECT {cols} FROM ticket t WHERE t.id IN "
            "(SELECT ra.ticket_id FROM assignment ra"
            " WHERE ra.unit_id = ANY(:faces) AND ra.dispatched_at >= :from_) "
            f"AND NOT (t.centre_code = ANY(:centres)) AND {rng}"
        )
        params["faces"] = list(a.faces)
    return f"({sql})", params


async def tune_session(session: AsyncSession) -> None:
    """For the rest of this read transaction: plan each aggregation for its own parameters (a
    generic plan of a prepared statement does not know how narrow the period or the centre is)
    and give the hash aggregation room in memory."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    await session.execute(text("SET LOCAL work_mem = '32MB'"))


def check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("from and to must carry a time zone", field="from")
    if end <= start:
        raise InvalidInput("to must be after from", field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(f"at most {MAX_PERIOD_DAYS} days", field="to")


def month_start(t: datetime) -> datetime:
    """Midnight (Asia/Shanghai) on the first day of ``t``'s month."""
    local = t.astimezone(TZ)
    return datetime(local.year, local.month, 1, tzinfo=TZ)


def month_starts(start: datetime, end: datetime) -> list[datetime]:
    """The first instants of the months that [start, end) touches, in order."""
    out = [month_start(start)]
    while True:
        local = out[-1]
        year, month = (local.year, local.month + 1) if local.month < 12 else (local.year + 1, 1)
        nxt = datetime(year, month, 1, tzinfo=TZ)
        if nxt >= end:
            return out
        out.append(nxt)


def month_before(t: datetime) -> datetime:
    """Midnight (Asia/Shanghai) on the first day of the month before ``t``'s month."""
    local = t.astimezone(TZ)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return datetime(year, month, 1, tzinfo=TZ)


def division_length(centre_code: str) -> int:
    """Group a city's tickets by county (6 digits), a county's by township (9 digits), a
    township's by its full division code."""
    n = len(centre_code)
    if n <= 4:
        return 6
    if n <= 6:
        return 9
    return 16


# ---- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HotspotCell:
    category_code: str
    division_code: str  # "" when tickets carry no division
    month: date  # first day of the month (Asia/Shanghai)
    count: int  # tickets received in the period in that month
    previous: int  # the same category and division in the month before (whole month)

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class CategoryTrend:
    category_code: str
    count: int  # in the period
    previous: int  # in the previous period of the same length

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def change_rate(self) -> float | None:
        return None if self.previous == 0 else self.change / self.previous


@dataclass(frozen=True)
class Hotspots:
    centre_code: str
    centres: tuple[str, ...]
    start: datetime
    end: datetime
    previous_start: datetime
    total: int
    previous_total: int
    cells: list[HotspotCell]
    categories: list[CategoryTrend]  # by count, descending
    rising: list[CategoryTrend]  # the categories that rose most, descending


# One pass over the centre's tickets, grouped at the grain of the answer (category × division ×
# month, with the counts of the period and of the previous period); cells (with the month-on-month
# trend by a window ``lag``) and the category trends are both read from that small aggregate.
# Months are numbered by ``width_bucket`` over the month boundaries (a binary search per row, much
# cheaper than a time-zone conversion per row); month i is ``bounds[i - 1]``.
_HOTSPOTS_SQL = """
WITH agg AS MATERIALIZED (
    SELECT st.category_code AS category,
           coalesce(left(st.division_code, :dlen), '') AS division,
           width_bucket(st.received_at, CAST(:bounds AS timestamptz[])) AS month,
           count(*) FILTER (WHERE st.received_at >= :start) AS n,
           count(*) FILTER (WHERE st.received_at >= :prev_start
                              AND st.received_at < :start) AS prev_period,
           count(*) AS whole_month
    FROM {tickets} AS st
    GROUP BY 1, 2, 3
), cells AS (
    SELECT category, division, month, n,
           CASE WHEN lag(month) OVER w = month - 1
                THEN lag(whole_month) OVER w ELSE 0 END AS prev
    FROM agg
    WINDOW w AS (PARTITION BY category, division ORDER BY month)
)
(SELECT 'cell' AS kind, category, division, month, n, prev
 FROM cells WHERE n > 0
 ORDER BY n DESC, month, category, division
 LIMIT :limit)
UNION ALL
(SELECT 'category', category, NULL, NULL, sum(n)::bigint, sum(prev_period)::bigint
 FROM agg GROUP BY category
 HAVING sum(n) > 0 OR sum(prev_period) > 0)
"""


async def hotspots(
    session: AsyncSession,
    scope: Scope,
    *,
    centre_code: str,
    start: datetime,
    end: datetime,
    include_below: bool = False,
    limit: int = 200,
    top: int = 5,
) -> Hotspots:
    """Recurring problems of ``centre_code`` among tickets received in [start, end)."""
    check_period(start, end)
    if not 0 <= limit <= MAX_CELLS:
        raise InvalidInput(f"limit must be between 0 and {MAX_CELLS}", field="limit")
    if not 0 <= top <= 50:
        raise InvalidInput("top must be between 0 and 50", field="top")
    a = await analysis_scope(session, scope, centre_code, include_below=include_below)
    await tune_session(session)
    previous_start = start - (end - start)
    # From the previous period, or the whole calendar month before the first month (for the
    # first month's trend), whichever is earlier.
    base_start = min(previous_start, month_before(start))
    bounds = month_starts(base_start, end)
    tickets, params = scoped_tickets(
        a, ("category_code", "division_code", "received_at"), base_start, end
    )
    rows = await session.execute(
        text(_HOTSPOTS_SQL.format(tickets=tickets)),
        {
            **params,
            "dlen": division_length(centre_code),
            "bounds": bounds,
            "start": start,
            "prev_start": previous_start,
            "limit": limit,
        },
    )
    cells: list[HotspotCell] = []
    categories: list[CategoryTrend] = []
    for kind, category, division, month, n, prev in rows:
        if kind == "cell":
            first_day = bounds[int(month) - 1].date()
            cells.append(HotspotCell(category, division, first_day, int(n), int(prev)))
        else:
            categories.append(CategoryTrend(category, int(n), int(prev)))
    categories.sort(key=lambda c: (-c.count, c.category_code))
    rising = sorted(
        (c for c in categories if c.change > 0), key=lambda c: (-c.change, c.category_code)
    )[:top]
    return Hotspots(
        centre_code=centre_code,
        centres=a.centres,
        start=start,
        end=end,
        previous_start=previous_start,
        total=sum(c.count for c in categories),
        previous_total=sum(c.previous for c in categories),
        cells=cells,
        categories=[c for c in categories if c.count > 0],
        rising=rising,
    )
