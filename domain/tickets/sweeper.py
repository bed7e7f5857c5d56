"""The deadline sweeper (§3(4), §4(1)): deemed acceptance, overdue marking and reminders (催办).

One sweep walks the assignments that have something due, in batches. Each batch is one
transaction: its rows are locked with ``SELECT … FOR UPDATE OF assignment SKIP LOCKED``, changed,
and each change appends its event before the commit. Several instances (server workers, a
``yiwang worker``) may sweep at the same time: a row locked by one is skipped by the others, and
once committed it no longer matches, so every deadline is acted on exactly once.

The rules, for an assignment at time ``now``:

* **deemed acceptance** (§3(4) "超过退回时限的，视作接收"): DISPATCHED, not yet deemed, not
  return-locked, ``return_by < now`` → HANDLING, ``deemed_accepted``; ``signed_at`` stays empty
  (it was never signed). A return-locked assignment (dispatched again after a rejected return)
  is not deemed accepted: it must still be signed for.
* **overdue** (§4(1)): open (DISPATCHED, RETURN_REQUESTED, HANDLING, REPLY_DRAFTED,
  REPLY_APPROVED), not yet marked, ``due_at < now`` → ``overdue``.
* **reminder** (催办): open, not overdue, ``now <= due_at``, and less than ``remind_share`` of the
  allowed time (``due_at - dispatched_at``) is left, i.e. ``now`` is past the *reminder point*
  ``due_at - remind_share × (due_at - dispatched_at)``.
* **sign-for reminder**: still DISPATCHED (not signed) after ``sign_by``.
* **sign-for due soon** (a dispatcher's early warning): still DISPATCHED, ``sign_by`` not yet
  passed, and less than ``remind_share`` of the sign-for window (``sign_by - dispatched_at``)
  left.

The reminders share the column ``reminded_at``. A reminder is due when its trigger point
(the reminder point, or ``sign_by``) has passed and no reminder was sent since that point
(``reminded_at IS NULL OR reminded_at < trigger``). So each is sent once; a sign-for reminder
sent before the reminder point does not swallow the later due-time reminder; and when the due
time moves (an approved extension, a supplement, a redo) the reminder point moves with it and
the unit is reminded again for the new due time.

``run_forever`` also reminds overdue supervision responses (督办, §5): every OPEN case past its
deadline that some target unit has not answered gets one ``supervision.reminded`` event
(``domain.supervision.service.sweep_supervision``, same locking, ``reminded_at`` set once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Interval, and_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz import centre_domain, unit_domain
from domain import events
from domain.calendar import TZ
from domain.supervision.service import sweep_supervision
from domain.tickets.models import Assignment, Ticket
from domain.tickets.models import AssignmentStatus as S
from domain.tickets.service import assignment_snapshot

__all__ = [
    "ACTOR",
    "OPEN",
    "SweepResult",
    "due_actions",
    "run_forever",
    "sweep",
    "sweep_supervision",
]

log = logging.getLogger(__name__)

ACTOR = "system:sweeper"

# States in which the unit still owes work before the due time.
OPEN = frozenset({S.DISPATCHED, S.RETURN_REQUESTED, S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED})


@dataclass(frozen=True)
class SweepResult:
    """How many assignments each rule acted on."""

    deemed_accepted: int = 0
    overdue_marked: int = 0
    reminded: int = 0  # 催办 before the due time
    sign_reminded: int = 0  # not signed for after sign_by
    sign_due_soon: int = 0  # not yet signed for, sign_by close

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def changed(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __str__(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


# ---- the rules, in SQL (to find rows) and in Python (to act on a locked row) ----------------
def _point_sql(limit: Any, share: float) -> ColumnElement[datetime]:
    total = limit - Assignment.dispatched_at
    # interval * float8 (PostgreSQL rounds to microseconds, as timedelta * float does).
    part = total.self_group().op("*", return_type=Interval())(literal(share, Float))
    result: ColumnElement[datetime] = limit - part
    return result


def _due_filter(now: datetime, share: float) -> ColumnElement[bool]:
    point = _point_sql(Assignment.due_at, share)
    sign_point = _point_sql(Assignment.sign_by, share)
    deem = and_(
        Assignment.status == S.DISPATCHED,
        Assignment.deemed_accepted.is_(False),
        Assignment.return_locked.is_(False),
        Assignment.return_by < now,
    )
    overdue = and_(
        Assignment.status.in_(sorted(OPEN)),
        Assignment.overdue.is_(False),
        Assignment.due_at < now,
    )
    remind = and_(
        Assignment.status.in_(sorted(OPEN)),
        Assignment.overdue.is_(False),
        Assignment.due_at >= now,
        point < now,
        or_(Assignment.reminded_at.is_(None), Assignment.reminded_at < point),
    )
    sign = and_(
        Assignment.status == S.DISPATCHED,
        Assignment.sign_by < now,
        or_(Assignment.reminded_at.is_(None), Assignment.reminded_at < Assignment.sign_by),
    )
    sign_soon = and_(
        Assignment.status == S.DISPATCHED,
        Assignment.sign_by >= now,
        sign_point < now,
        or_(Assignment.reminded_at.is_(None), Assignment.reminded_at < sign_point),
    )
    return or_(deem, overdue, remind, sign, sign_soon)


def reminder_point(a: Assignment, share: float) -> datetime:
    return a.due_at - (a.due_at - a.dispatched_at) * share


def sign_warning_point(a: Assignment, share: float) -> datetime:
    return a.sign_by - (a.sign_by - a.dispatched_at) * share


def _not_reminded_since(a: Assignment, point: datetime) -> bool:
    return a.reminded_at is None or a.reminded_at < point


@dataclass(frozen=True)
class DueActions:
    deem: bool
    overdue: bool
    remind: bool
    sign_remind: bool
    sign_soon: bool = False


def due_actions(a: Assignment, now: datetime, share: float) -> DueActions:
    """What the sweeper does to this assignment now (a pure function of its fields).

    Evaluated in order: a deemed acceptance leaves DISPATCHED, so it takes the place of a
    sign-for reminder; an assignment found overdue is not reminded.
    """
    deem = (
        a.status == S.DISPATCHED
        and not a.deemed_accepted
        and not a.return_locked
        and a.return_by < now
    )
    status = S.HANDLING if deem else a.status
    open_ = status in OPEN
    overdue = open_ and not a.overdue and a.due_at < now
    point = reminder_point(a, share)
    remind = (
        open_
        and not a.overdue
        and not overdue
        and now <= a.due_at
        and point < now
        and _not_reminded_since(a, point)
    )
    sign_remind = status == S.DISPATCHED and a.sign_by < now and _not_reminded_since(a, a.sign_by)
    sign_point = sign_warning_point(a, share)
    sign_soon = (
        status == S.DISPATCHED
        and sign_point < now <= a.sign_by
        and _not_reminded_since(a, sign_point)
    )
    return DueActions(
        deem=deem, overdue=overdue, remind=remind, sign_remind=sign_remind, sign_soon=sign_soon
    )


# ---- one sweep -------------------------------------------------------------------------------
def _local(t: datetime) -> str:
    return t.astimezone(TZ).isoformat()


async def _event(
    s: AsyncSession,
    type_: str,
    a: Assignment,
    centre_code: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    await events.record(
        s,
        type=type_,
        actor=ACTOR,
        entity_type="assignment",
        entity_id=a.id,
        before=before,
        after=after,
        domains=[centre_domain(centre_code), unit_domain(a.unit_id)],
        ticket_id=a.ticket_id,
    )


async def _act(
    s: AsyncSession, a: Assignment, centre_code: str, now: datetime, share: float
) -> SweepResult:
    todo = due_actions(a, now, share)
    at = _local(now)
    deemed = overdue = reminded = sign_reminded = sign_soon = 0
    if todo.deem:
        before = assignment_snapshot(a)
        a.status = S.HANDLING
        a.deemed_accepted = True  # signed_at stays NULL: it was never signed
        await s.flush()
        after = {**assignment_snapshot(a), "at": at, "clause": "§3(4)"}
        await _event(s, "assignment.deemed_accepted", a, centre_code, before, after)
        deemed = 1
    if todo.overdue:
        before = assignment_snapshot(a)
        a.overdue = True
        await s.flush()
        after = {**assignment_snapshot(a), "at": at, "clause": "§4(1)"}
        await _event(s, "assignment.overdue", a, centre_code, before, after)
        overdue = 1
    if todo.sign_remind:
        snap = assignment_snapshot(a)
        late = int((now - a.sign_by).total_seconds())
        after = {**snap, "at": at, "signBy": _local(a.sign_by), "lateSeconds": late}
        await _event(s, "assignment.sign_overdue_reminded", a, centre_code, snap, after)
        sign_reminded = 1
    if todo.remind:
        snap = assignment_snapshot(a)
        left = int((a.due_at - now).total_seconds())
        after = {**snap, "at": at, "dueAt": _local(a.due_at), "remainingSeconds": left}
        await _event(s, "assignment.reminded", a, centre_code, snap, after)
        reminded = 1
    if todo.sign_soon:
        snap = assignment_snapshot(a)
        left = int((a.sign_by - now).total_seconds())
        after = {**snap, "at": at, "signBy": _local(a.sign_by), "remainingSeconds": left}
        await _event(s, "assignment.sign_due_soon", a, centre_code, snap, after)
        sign_soon = 1
    if todo.remind or todo.sign_remind or todo.sign_soon:
        a.reminded_at = now
        await s.flush()
    return SweepResult(deemed, overdue, reminded, sign_reminded, sign_soon)


async def _batch(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    after_id: int,
    batch: int,
    share: float,
) -> tuple[SweepResult, int | None]:
    """One transaction over up to ``batch`` due rows with id > ``after_id``; (counts, last id)."""
    total = SweepResult()
    last: int | None = None
    async with sessions() as s, s.begin():
        rows = (
            await s.execute(
                select(Assignment, Ticket.centre_code)
                .join(Ticket, Ticket.id == Assignment.ticket_id)
                .where(Assignment.id > after_id, _due_filter(now, share))
                .order_by(Assignment.id)
                .limit(batch)
                .with_for_update(of=Assignment, skip_locked=True)
            )
        ).all()
        for a, centre_code in rows:
            total = total + await _act(s, a, centre_code, now, share)
            last = a.id
    return total, last


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    batch: int = 200,
    remind_share: float = 0.25,
) -> SweepResult:
    """Act on every assignment with something due at ``now``; one transaction per batch."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if not 0.0 < remind_share < 1.0:
        raise ValueError("remind_share must be between 0 and 1")
    total = SweepResult()
    after_id = 0
    while True:
        # Keyset over ids: every row is visited at most once per sweep, so a row the rules and
        # the filter disagreed on can never loop; rows another instance holds are its to do.
        counts, last = await _batch(
            sessions, now=now, after_id=after_id, batch=batch, share=remind_share
        )
        total = total + counts
        if last is None:
            return total
        after_id = last


# ---- the loop (server lifespan and `yiwang worker`) ------------------------------------------
async def run_forever(
    sessions: async_sessionmaker[AsyncSession],
    interval: float,
    stop_event: asyncio.Event | None = None,
    *,
    batch: int = 200,
    remind_share: float = 0.25,
    on_sweep: Callable[[SweepResult], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Sweep now and then every ``interval`` seconds until ``stop_event`` is set (or cancelled).

    A failing sweep is logged and retried at the next tick; the loop itself never dies of it.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    now_fn = clock or (lambda: datetime.now(TZ))
    while stop_event is None or not stop_event.is_set():
        started = asyncio.get_running_loop().time()
        now: datetime | None = None
        try:
            now = now_fn()
            result = await sweep(sessions, now=now, batch=batch, remind_share=remind_share)
            if result.changed:
                log.info(
                    "deadline sweep: %s (%.2fs)",
                    result,
                    asyncio.get_running_loop().time() - started,
                )
            if on_sweep is not None:
                on_sweep(result)
        except Exception:
            log.exception("deadline sweep failed; retrying in %.0fs", interval)
        if now is not None:
            # Overdue supervision responses (§5): each case reminded once, on its own footing.
            try:
                n = await sweep_supervision(sessions, now=now, batch=batch)
                if n:
                    log.info("supervision sweep: reminded=%d", n)
            except Exception:
                log.exception("supervision reminder sweep failed; retrying in %.0fs", interval)
        if stop_event is None:
            await asyncio.sleep(interval)
        else:
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
            except TimeoutError:
                pass
