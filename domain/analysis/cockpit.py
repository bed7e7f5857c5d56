"""The leader cockpit (领导驾驶舱, regulation §7(1)): one centre's figures over a period.

"通过领导驾驶舱APP直接报送市委市政府相关领导": the leaders of a centre see how its own members
handle its tickets. Every figure is over the period [from, to):

* **tickets** (the centre's own: owned by it or referred to it, as in ``hotspots``) received in
  the period: ``received``; ``dispatched`` (no longer waiting for dispatch: status other than
  NEW); ``completed`` (replied, closed or archived);
* **callbacks** on those tickets (§3(8)): ``satisfied`` (SATISFIED or BASICALLY_SATISFIED) and
  ``resolved`` (actually resolved, §4(3)) over the reachable callbacks; ``unreachable`` callbacks
  are excluded from both rates and counted apart;
* **assignments** the centre dispatched to its members in the period (returned ones excluded:
  they were not the unit's): ``completed`` (reply accepted, or closed), ``onTime`` (completed
  with the last reply submitted by the due time, 按时办结), ``overdueNow`` (still with the unit —
  dispatched, return requested, handling, drafted or approved — and past the due time at
  ``now``);
  The on-time completion rate (按时办结率) is ``onTime / (completed + overdueNow)``: completed on
  time over the assignments that should be done by now;
* **top categories** by tickets received, and the **bottom units** by on-time completion rate
  (then more overdue, then more assignments; units with nothing completed or overdue are not
  ranked), ties sharing a rank and all named;
* **supervision cases** of the centre opened in the period: still open, and open past their
  deadline at ``now``.

Who may read: ``("cockpit", "read")`` in the centre's domain, or in a centre above it that was
granted read-down. Another centre's cockpit is answered exactly as a centre that does not exist.
Each figure is one SQL aggregation (FILTER, GROUPING SETS / ROLLUP, a window ``rank``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope
from domain.analysis.hotspots import analysis_scope, check_period, scoped_tickets, tune_session
from domain.errors import InvalidInput

__all__ = ["CategoryCount", "Cockpit", "UnitFigures", "cockpit"]

OPEN_WITH_UNIT = ("DISPATCHED", "RETURN_REQUESTED", "HANDLING", "REPLY_DRAFTED", "REPLY_APPROVED")
COMPLETED = ("ACCEPTED", "CLOSED")


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@dataclass(frozen=True)
class CategoryCount:
    category_code: str
    count: int


@dataclass(frozen=True)
class UnitFigures:
    unit_id: int
    unit_name: str
    assigned: int
    completed: int
    on_time: int
    overdue_now: int
    rank: int  # 1 = the worst on-time completion rate

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率: completed on time over those that should be done (completed or overdue)."""
        return _rate(self.on_time, self.completed + self.overdue_now)


@dataclass(frozen=True)
class Cockpit:
    centre_code: str
    start: datetime
    end: datetime
    now: datetime
    received: int
    dispatched: int
    completed: int
    callbacks: int  # reachable callbacks
    satisfied: int
    resolved: int
    unreachable: int
    assignments: int
    assignments_completed: int
    on_time: int
    overdue_now: int
    open_supervision_cases: int
    overdue_supervision_cases: int
    top_categories: list[CategoryCount]
    bottom_units: list[UnitFigures]

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.callbacks)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.callbacks)

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率: completed on time over those that should be done (completed or overdue)."""
        return _rate(self.on_time, self.assignments_completed + self.overdue_now)


# Plain GROUP BYs (PostgreSQL may run them in parallel), then the totals as sums over the few
# hundred groups and the ranking by a window function.
_TICKETS_SQL = """
WITH per_category AS (
    SELECT t.category_code,
           count(*) AS received,
           count(*) FILTER (WHERE t.status <> 'NEW') AS dispatched,
           count(*) FILTER (WHERE t.status IN ('REPLIED', 'CLOSED', 'ARCHIVED')) AS completed,
           count(*) FILTER (WHERE t.satisfaction IS NOT NULL
                              AND t.satisfaction <> 'UNREACHABLE') AS callbacks,
           count(*) FILTER (WHERE t.satisfaction IN ('SATISFIED', 'BASICALLY_SATISFIED'))
               AS satisfied,
           count(*) FILTER (WHERE t.actually_resolved
                              AND t.satisfaction <> 'UNREACHABLE') AS resolved,
           count(*) FILTER (WHERE t.satisfaction = 'UNREACHABLE') AS unreachable
    FROM {tickets} AS t
    GROUP BY t.category_code
)
SELECT 1 AS total_row, NULL AS category_code,
       coalesce(sum(received), 0) AS received, coalesce(sum(dispatched), 0) AS dispatched,
       coalesce(sum(completed), 0) AS completed, coalesce(sum(callbacks), 0) AS callbacks,
       coalesce(sum(satisfied), 0) AS satisfied, coalesce(sum(resolved), 0) AS resolved,
       coalesce(sum(unreachable), 0) AS unreachable
FROM per_category
UNION ALL
(SELECT 0, category_code, received, dispatched, completed, callbacks, satisfied, resolved,
        unreachable
 FROM per_category ORDER BY received DESC, category_code LIMIT :top)
"""

_UNITS_SQL = """
WITH per_unit AS (
    SELECT a.unit_id,
           count(*) AS assigned,
           count(*) FILTER (WHERE a.status IN ('ACCEPTED', 'CLOSED')) AS completed,
           count(*) FILTER (WHERE a.status IN ('ACCEPTED', 'CLOSED')
                              AND a.replied_at <= a.due_at) AS on_time,
           count(*) FILTER (WHERE a.status = ANY(:open) AND a.due_at < :now) AS overdue_now
    FROM assignment a
    WHERE a.centre_code = :centre AND a.dispatched_at >= :start AND a.dispatched_at < :end
      AND a.status <> 'RETURNED'
    GROUP BY a.unit_id
), ranked AS (
    SELECT p.*,
           CASE WHEN p.completed + p.overdue_now > 0 THEN
               rank() OVER (
                   PARTITION BY p.completed + p.overdue_now > 0
                   ORDER BY p.on_time::float8 / nullif(p.completed + p.overdue_now, 0),
                            p.overdue_now DESC, p.assigned DESC
               )
           END AS rank
    FROM per_unit p
)
SELECT NULL AS unit_id, NULL AS name, coalesce(sum(assigned), 0) AS assigned,
       coalesce(sum(completed), 0) AS completed, coalesce(sum(on_time), 0) AS on_time,
       coalesce(sum(overdue_now), 0) AS overdue_now, NULL AS rank
FROM per_unit
UNION ALL
(SELECT r.unit_id, u.name, r.assigned, r.completed, r.on_time, r.overdue_now, r.rank
 FROM ranked r JOIN unit u ON u.id = r.unit_id
 WHERE r.rank <= :bottom
 ORDER BY r.rank, r.unit_id)
"""

_SUPERVISION_SQL = """
SELECT count(*) FILTER (WHERE status <> 'CLOSED') AS open,
       count(*) FILTER (WHERE status = 'OPEN' AND deadline < :now) AS overdue
FROM supervision_case
WHERE centre_code = :centre AND opened_at >= :start AND opened_at < :end
"""


async def cockpit(
    session: AsyncSession,
    scope: Scope,
    *,
    centre_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    top: int = 5,
    bottom: int = 3,
) -> Cockpit:
    """The cockpit of ``centre_code`` over [start, end), "now" figures at ``now``."""
    check_period(start, end)
    if now.tzinfo is None:
        raise InvalidInput("now must carry a time zone", field="now")
    if not 0 <= top <= 50 or not 0 <= bottom <= 50:
        raise InvalidInput("top and bottom must be between 0 and 50", field="bottom")
    a = await analysis_scope(session, scope, centre_code, kind="cockpit")
    await tune_session(session)
    tickets, params = scoped_tickets(
        a,
        ("category_code", "status", "satisfaction", "actually_resolved"),
        start,
        end,
    )
    period = {"start": start, "end": end}
    sql = text(_TICKETS_SQL.format(tickets=tickets))
    rows = (await session.execute(sql, {**params, "top": top})).all()
    total = next((r for r in rows if r.total_row == 1), None)
    categories = sorted(
        (CategoryCount(r.category_code, int(r.received)) for r in rows if r.total_row == 0),
        key=lambda c: (-c.count, c.category_code),
    )
    units = (
        await session.execute(
            text(_UNITS_SQL),
            {
                **period,
                "centre": centre_code,
                "now": now,
                "open": list(OPEN_WITH_UNIT),
                "bottom": bottom,
            },
        )
    ).all()
    unit_total = next((u for u in units if u.unit_id is None), None)
    # The bottom ``bottom`` ranks, ties included (two units sharing third place are both named).
    ranked = sorted((u for u in units if u.unit_id is not None), key=lambda u: (u.rank, u.unit_id))
    sup = (
        await session.execute(text(_SUPERVISION_SQL), {**period, "centre": centre_code, "now": now})
    ).one()

    def n(row: object, name: str) -> int:
        return int(getattr(row, name)) if row is not None else 0

    return Cockpit(
        centre_code=centre_code,
        start=start,
        end=end,
        now=now,
        received=n(total, "received"),
        dispatched=n(total, "dispatched"),
        completed=n(total, "completed"),
        callbacks=n(total, "callbacks"),
        satisfied=n(total, "satisfied"),
        resolved=n(total, "resolved"),
        unreachable=n(total, "unreachable"),
        assignments=n(unit_total, "assigned"),
        assignments_completed=n(unit_total, "completed"),
        on_time=n(unit_total, "on_time"),
        overdue_now=n(unit_total, "overdue_now"),
        open_supervision_cases=int(sup.open),
        overdue_supervision_cases=int(sup.overdue),
        top_categories=categories,
        bottom_units=[
            UnitFigures(
                unit_id=int(u.unit_id),
                unit_name=str(u.name),
                assigned=int(u.assigned),
                completed=int(u.completed),
                on_time=int(u.on_time),
                overdue_now=int(u.overdue_now),
                rank=int(u.rank),
            )
            for u in ranked
        ],
    )
