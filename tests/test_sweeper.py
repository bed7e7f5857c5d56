"""The deadline sweeper (§3(4) deemed acceptance, §4(1) overdue, 催办) against a real PostgreSQL.

Times are in 2026 (the holiday data ends there). Monday 2026-06-01 10:00 is the usual dispatch:
12345/NORMAL gives sign-for and return window 1 working day (Tue 10:00) and handling 5 working
days (Mon 06-08 10:00); 12345/URGENT gives sign-for 2 hours and handling 1 working day.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from domain.calendar import TZ
from domain.db import make_engine, make_sessionmaker
from domain.events import Event
from domain.registry.models import Unit
from domain.tickets import service as svc
from domain.tickets.models import Assignment, AssignmentStatus, Channel, OriginLevel, Urgency
from domain.tickets.sweeper import ACTOR, SweepResult, run_forever, sweep
from domain.tickets.workflow import DeadlinePassed
from domain.uow import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
S = AssignmentStatus
MON = datetime(2026, 6, 1, 10, 0, tzinfo=TZ)  # a plain working Monday
TUE = MON + timedelta(days=1)  # sign_by and return_by for 12345/NORMAL
DUE = datetime(2026, 6, 8, 10, 0, tzinfo=TZ)  # 5 working days later
# Less than a quarter of the 168 hours left: 42 hours before the due time.
REMIND_POINT = DUE - timedelta(hours=42)

GOOD_REPLY = svc.ReplyInput(
    handler_name="王城管",
    handler_phone="13900001111",
    contacted_at=MON + timedelta(hours=2),
    communication="电话联系市民，约定现场查看路灯故障情况。",
    citizen_satisfied=True,
    handling="6月1日现场更换损坏灯具，路灯恢复照明。",
    text="经现场核实，幸福路路灯损坏，已于6月1日更换灯具并恢复照明，市民表示满意。",
)


# ---- helpers ---------------------------------------------------------------------------------
async def unit_id(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as s:
        return int((await s.execute(select(Unit.id).where(Unit.name == name))).scalar_one())


async def dispatched(
    uow: UnitOfWork,
    principal: Any,
    sessions: async_sessionmaker[AsyncSession],
    *,
    units: tuple[str, ...] = ("市城管局",),
    at: datetime = MON,
    urgency: Urgency = Urgency.NORMAL,
) -> list[int]:
    """A new 12345 ticket dispatched at ``at`` to ``units`` (lead first); its assignment ids."""
    dispatcher = await principal("city.dispatcher")
    ticket = await svc.create_ticket(
        uow=uow,
        actor=dispatcher,
        data=svc.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code="CM",
            title="幸福路路灯不亮",
            content="幸福路与洪泽湖路交叉口路灯连续三晚不亮。",
            urgency=urgency,
            complainant_phone="13812341234",
            received_at=at - timedelta(minutes=5),
        ),
        now=at,
    )
    ids = [await unit_id(sessions, name) for name in units]
    await svc.dispatch_ticket(
        uow=uow,
        actor=dispatcher,
        ticket_id=ticket.id,
        lead_unit_id=ids[0],
        co_unit_ids=ids[1:],
        now=at,
    )
    async with sessions() as s:
        rows = await s.execute(
            select(Assignment.id).where(Assignment.ticket_id == ticket.id).order_by(Assignment.id)
        )
        return [int(i) for i in rows.scalars()]


async def load(sessions: async_sessionmaker[AsyncSession], assignment_id: int) -> Assignment:
    async with sessions() as s:
        a = await s.get(Assignment, assignment_id)
        assert a is not None
        return a


async def sweeper_events(
    sessions: async_sessionmaker[AsyncSession], type_: str | None = None
) -> list[Event]:
    async with sessions() as s:
        q = select(Event).where(Event.actor == ACTOR).order_by(Event.id)
        if type_ is not None:
            q = q.where(Event.type == type_)
        return list((await s.execute(q)).scalars())


# ---- deemed acceptance (§3(4)) ---------------------------------------------------------------
async def test_deemed_accepted_after_the_return_window_and_not_before(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    lead, co = await dispatched(uow, principal, sessions, units=("市城管局", "市住房城乡建设局"))
    a = await load(sessions, lead)
    assert a.return_by == TUE and a.sign_by == TUE

    # Less than a quarter of the sign-for window left (past Tue 04:00): an early warning, once.
    assert await sweep(sessions, now=TUE - timedelta(hours=6)) == SweepResult()  # exactly 1/4
    warned = TUE - timedelta(minutes=1)
    assert await sweep(sessions, now=warned) == SweepResult(sign_due_soon=2)
    assert (await load(sessions, lead)).status == S.DISPATCHED
    assert (await load(sessions, lead)).reminded_at == warned
    (soon, _) = await sweeper_events(sessions, "assignment.sign_due_soon")
    assert soon.after is not None and soon.after["remainingSeconds"] == 60
    assert datetime.fromisoformat(soon.after["signBy"]) == TUE
    assert await sweep(sessions, now=TUE) == SweepResult()  # the window includes its end

    result = await sweep(sessions, now=TUE + timedelta(minutes=1))
    # Deemed acceptance takes the place of the sign-for reminder (sign_by == return_by here).
    assert result == SweepResult(deemed_accepted=2)
    for aid in (lead, co):
        a = await load(sessions, aid)
        assert a.status == S.HANDLING
        assert a.deemed_accepted is True
        assert a.signed_at is None and a.signed_by is None  # never signed
        assert a.overdue is False

    evs = await sweeper_events(sessions, "assignment.deemed_accepted")
    assert len(evs) == 2
    assert sorted(int(e.entity_id) for e in evs) == [lead, co]
    cgj = await unit_id(sessions, "市城管局")
    lead_ev = next(e for e in evs if int(e.entity_id) == lead)
    assert lead_ev.entity_type == "assignment"
    assert lead_ev.ticket_id == a.ticket_id
    assert lead_ev.domains == sorted(["centre:3213/", f"unit:{cgj}/"])
    assert lead_ev.before is not None and lead_ev.before["status"] == "DISPATCHED"
    assert lead_ev.after is not None and lead_ev.after["status"] == "HANDLING"
    assert lead_ev.after["deemedAccepted"] is True

    # Acted on once: a later sweep has nothing more to deem.
    assert await sweep(sessions, now=TUE + timedelta(hours=2)) == SweepResult()
    assert len(await sweeper_events(sessions)) == 4  # two early warnings, two deemed

    # A deemed-accepted assignment may no longer be returned.
    handler = await principal("cgj.handler")
    with pytest.raises(DeadlinePassed):
        await svc.request_return(
            uow=uow,
            actor=handler,
            assignment_id=lead,
            data=svc.ReturnInput("不属于本单位职责", "三定方案", "市住建局", "张三", "13900000000"),
            now=TUE + timedelta(hours=3),
        )


async def test_signed_assignment_is_not_deemed(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (aid,) = await dispatched(uow, principal, sessions)
    await svc.sign_for(
        uow=uow,
        actor=await principal("cgj.handler"),
        assignment_id=aid,
        now=MON + timedelta(hours=1),
    )
    assert await sweep(sessions, now=TUE + timedelta(hours=1)) == SweepResult()
    a = await load(sessions, aid)
    assert a.status == S.HANDLING and a.deemed_accepted is False and a.signed_at is not None


async def test_return_locked_assignment_is_not_deemed_but_reminded_to_sign_once(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A second dispatch after a rejected return must still be signed for (§3(4))."""
    (aid,) = await dispatched(uow, principal, sessions)
    await svc.request_return(
        uow=uow,
        actor=await principal("cgj.handler"),
        assignment_id=aid,
        data=svc.ReturnInput("不属于本单位职责", "三定方案", "市住建局", "张三", "13900000000"),
        now=MON + timedelta(hours=1),
    )
    decided = MON + timedelta(hours=2)
    await svc.decide_return(
        uow=uow,
        actor=await principal("city.dispatcher"),
        assignment_id=aid,
        approve=False,
        note="经核实属于城管职责",
        now=decided,
    )
    a = await load(sessions, aid)
    assert a.status == S.DISPATCHED and a.return_locked and a.return_by == decided
    assert a.sign_by == TUE + timedelta(hours=2)

    # Return window long gone, but not deemed; sign_by an hour away (less than a quarter of the
    # new window left): only the early warning.
    assert await sweep(sessions, now=TUE + timedelta(hours=1)) == SweepResult(sign_due_soon=1)

    late = TUE + timedelta(hours=3)
    assert await sweep(sessions, now=late) == SweepResult(sign_reminded=1)
    a = await load(sessions, aid)
    assert a.status == S.DISPATCHED and a.deemed_accepted is False
    assert a.reminded_at == late
    soon, ev = await sweeper_events(sessions)
    assert soon.type == "assignment.sign_due_soon"
    assert ev.type == "assignment.sign_overdue_reminded"
    assert ev.after is not None and datetime.fromisoformat(ev.after["signBy"]) == a.sign_by

    # Once only.
    assert await sweep(sessions, now=late + timedelta(hours=1)) == SweepResult()
    assert len(await sweeper_events(sessions)) == 2


# ---- reminders (催办) ------------------------------------------------------------------------
async def test_reminder_once_before_the_due_time_and_again_after_an_extension(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (aid,) = await dispatched(uow, principal, sessions)
    handler = await principal("cgj.handler")
    await svc.sign_for(uow=uow, actor=handler, assignment_id=aid, now=MON + timedelta(hours=1))

    assert await sweep(sessions, now=REMIND_POINT - timedelta(minutes=1)) == SweepResult()
    assert await sweep(sessions, now=REMIND_POINT) == SweepResult()  # exactly a quarter left

    first = REMIND_POINT + timedelta(minutes=1)
    assert await sweep(sessions, now=first) == SweepResult(reminded=1)
    a = await load(sessions, aid)
    assert a.reminded_at == first and a.overdue is False
    (ev,) = await sweeper_events(sessions)
    assert ev.type == "assignment.reminded"
    assert ev.after is not None
    assert ev.after["dueAt"] == "2026-06-08T10:00:00+08:00"  # China time
    assert ev.after["remainingSeconds"] == int((DUE - first).total_seconds())

    # A second sweep does not remind again.
    assert await sweep(sessions, now=first + timedelta(hours=10)) == SweepResult()
    assert len(await sweeper_events(sessions, "assignment.reminded")) == 1

    # An approved extension moves the due time, and with it the reminder point.
    new_due = datetime(2026, 6, 12, 10, 0, tzinfo=TZ)
    await svc.request_extension(
        uow=uow,
        actor=handler,
        assignment_id=aid,
        reason="需协调多个部门",
        proposed_due=new_due,
        now=first + timedelta(hours=11),
    )
    await svc.decide_extension(
        uow=uow,
        actor=await principal("city.dispatcher"),
        assignment_id=aid,
        approve=True,
        now=first + timedelta(hours=12),
    )
    # The old due time passes without an overdue mark.
    assert await sweep(sessions, now=DUE + timedelta(hours=1)) == SweepResult()
    point = new_due - (new_due - MON) * 0.25
    assert await sweep(sessions, now=point + timedelta(minutes=1)) == SweepResult(reminded=1)
    assert await sweep(sessions, now=point + timedelta(minutes=2)) == SweepResult()
    evs = await sweeper_events(sessions, "assignment.reminded")
    assert len(evs) == 2 and evs[1].after is not None
    assert datetime.fromisoformat(evs[1].after["dueAt"]) == new_due


async def test_sign_reminder_does_not_swallow_the_due_reminder(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """12345/URGENT: sign-for 2 hours, handling and return window 1 working day."""
    (aid,) = await dispatched(uow, principal, sessions, urgency=Urgency.URGENT)
    a = await load(sessions, aid)
    assert a.sign_by == MON + timedelta(hours=2)
    assert a.return_by == TUE and a.due_at == TUE

    assert await sweep(sessions, now=MON + timedelta(hours=3)) == SweepResult(sign_reminded=1)
    assert await sweep(sessions, now=MON + timedelta(hours=4)) == SweepResult()
    # Reminder point: 6 of the 24 hours left (Tue 04:00).
    assert await sweep(sessions, now=TUE - timedelta(hours=5)) == SweepResult(reminded=1)
    assert await sweep(sessions, now=TUE - timedelta(hours=4)) == SweepResult()
    # Past the window and the due time in one go: deemed accepted and overdue.
    result = await sweep(sessions, now=TUE + timedelta(minutes=1))
    assert result == SweepResult(deemed_accepted=1, overdue_marked=1)
    a = await load(sessions, aid)
    assert a.status == S.HANDLING and a.deemed_accepted and a.overdue
    types = [e.type for e in await sweeper_events(sessions)]
    assert types == [
        "assignment.sign_overdue_reminded",
        "assignment.reminded",
        "assignment.deemed_accepted",
        "assignment.overdue",
    ]


# ---- overdue (§4(1)) -------------------------------------------------------------------------
async def test_overdue_marked_once_for_open_assignments_only(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    handler, leader = await principal("cgj.handler"), await principal("cgj.leader")
    (open_,) = await dispatched(uow, principal, sessions)
    (submitted,) = await dispatched(uow, principal, sessions)
    for aid in (open_, submitted):
        await svc.sign_for(uow=uow, actor=handler, assignment_id=aid, now=MON + timedelta(hours=1))
    # The second one's reply is at the centre before the due time: nothing is owed by the unit.
    at = MON + timedelta(hours=3)
    await svc.draft_reply(uow=uow, actor=handler, assignment_id=submitted, data=GOOD_REPLY, now=at)
    await svc.approve_reply(uow=uow, actor=leader, assignment_id=submitted, now=at)
    await svc.submit_reply(uow=uow, actor=handler, assignment_id=submitted, now=at)

    assert await sweep(sessions, now=DUE) == SweepResult(reminded=1)  # not yet past due
    result = await sweep(sessions, now=DUE + timedelta(minutes=1))
    assert result == SweepResult(overdue_marked=1)
    a = await load(sessions, open_)
    assert a.overdue is True and a.status == S.HANDLING
    assert (await load(sessions, submitted)).overdue is False

    evs = await sweeper_events(sessions, "assignment.overdue")
    assert [int(e.entity_id) for e in evs] == [open_]
    assert evs[0].before is not None and evs[0].before["overdue"] is False
    assert evs[0].after is not None and evs[0].after["overdue"] is True

    assert await sweep(sessions, now=DUE + timedelta(days=3)) == SweepResult()
    assert len(await sweeper_events(sessions, "assignment.overdue")) == 1


# ---- locks and concurrency -------------------------------------------------------------------
async def test_a_row_locked_by_a_user_transaction_is_skipped_not_waited_for(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, second = (
        (await dispatched(uow, principal, sessions))[0],
        (await dispatched(uow, principal, sessions))[0],
    )
    now = TUE + timedelta(minutes=1)
    async with sessions() as s, s.begin():
        # Someone is signing the first one right now.
        await s.execute(select(Assignment).where(Assignment.id == first).with_for_update())
        result = await asyncio.wait_for(sweep(sessions, now=now), timeout=10)
        assert result == SweepResult(deemed_accepted=1)
    assert (await load(sessions, second)).deemed_accepted is True
    assert (await load(sessions, first)).deemed_accepted is False
    # Released: the next sweep takes it.
    assert await sweep(sessions, now=now) == SweepResult(deemed_accepted=1)
    assert (await load(sessions, first)).deemed_accepted is True


async def test_concurrent_sweepers_act_on_each_deadline_exactly_once(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    """Three instances, each with its own engine, over 60 due assignments."""
    ids: list[int] = []
    for _ in range(30):
        ids += await dispatched(uow, principal, sessions, units=("市城管局", "市住房城乡建设局"))
    assert len(ids) == 60

    engines = [make_engine(db_url, pool_size=2, max_overflow=0) for _ in range(3)]
    factories = [make_sessionmaker(e) for e in engines]
    try:

        async def all_sweep(now: datetime) -> list[SweepResult]:
            return list(await asyncio.gather(*(sweep(f, now=now, batch=4) for f in factories)))

        def events_per_assignment(evs: list[Event]) -> Counter[int]:
            return Counter(int(e.entity_id) for e in evs)

        # Past the return window: each one deemed accepted exactly once.
        results = await all_sweep(TUE + timedelta(minutes=1))
        assert sum(r.deemed_accepted for r in results) == 60
        assert sum(r.changed for r in results) == 60
        deemed = await sweeper_events(sessions, "assignment.deemed_accepted")
        assert events_per_assignment(deemed) == Counter({i: 1 for i in ids})

        # Reminded exactly once.
        results = await all_sweep(REMIND_POINT + timedelta(minutes=1))
        assert sum(r.reminded for r in results) == 60
        assert sum(r.changed for r in results) == 60
        reminded = await sweeper_events(sessions, "assignment.reminded")
        assert events_per_assignment(reminded) == Counter({i: 1 for i in ids})

        # Past due: each one marked overdue exactly once.
        results = await all_sweep(DUE + timedelta(minutes=1))
        assert sum(r.overdue_marked for r in results) == 60
        assert sum(r.changed for r in results) == 60
        overdue = await sweeper_events(sessions, "assignment.overdue")
        assert events_per_assignment(overdue) == Counter({i: 1 for i in ids})

        # Nothing left for anyone.
        assert sum((await all_sweep(DUE + timedelta(days=1))), SweepResult()) == SweepResult()
        async with sessions() as s:
            n = (
                await s.execute(
                    text("SELECT count(*) FROM assignment WHERE overdue AND deemed_accepted")
                )
            ).scalar_one()
        assert n == 60
    finally:
        for e in engines:
            await e.dispose()


# ---- the loop --------------------------------------------------------------------------------
async def test_run_forever_survives_a_failing_sweep_and_stops_on_the_event(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (aid,) = await dispatched(uow, principal, sessions)
    calls = 0
    seen: list[SweepResult] = []
    stop = asyncio.Event()

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")  # the first sweep fails; the loop goes on
        return TUE + timedelta(minutes=1)

    def on_sweep(r: SweepResult) -> None:
        seen.append(r)
        if len(seen) == 2:
            stop.set()

    await asyncio.wait_for(
        run_forever(sessions, 0.01, stop, clock=clock, on_sweep=on_sweep), timeout=20
    )
    assert calls == 3
    assert seen == [SweepResult(deemed_accepted=1), SweepResult()]
    assert (await load(sessions, aid)).deemed_accepted is True


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        asyncio.run(sweep(None, now=datetime(2026, 6, 1)))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        asyncio.run(sweep(None, now=MON, remind_share=1.5))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        asyncio.run(sweep(None, now=MON, batch=0))  # type: ignore[arg-type]


async def test_server_lifespan_runs_the_sweeper_and_stops_it(
    uow: UnitOfWork,
    principal: Any,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    tmp_path: Path,
) -> None:
    from conftest import LiveServer, make_settings

    # Dispatched weeks ago (on the real clock): due for everything.
    past = datetime.now(TZ) - timedelta(days=21)
    (aid,) = await dispatched(uow, principal, sessions, at=past)
    srv = LiveServer(
        make_settings(db_url, tmp_path, sweep_interval_seconds=0.2, sweeper_enabled=True)
    )
    await asyncio.to_thread(srv.start)
    try:
        for _ in range(200):
            a = await load(sessions, aid)
            if a.deemed_accepted and a.overdue:
                break
            await asyncio.sleep(0.05)
        assert a.deemed_accepted and a.overdue
        app = srv.server.config.app
        assert isinstance(app, Starlette)
        task = app.state.yiwang["sweeper"]
        assert task is not None and not task.done()
    finally:
        await asyncio.to_thread(srv.stop)
    assert task.done()
    # Only this assignment's events: the demo tickets have deadlines of their own.
    types = Counter(e.type for e in await sweeper_events(sessions) if e.entity_id == str(aid))
    assert types == Counter({"assignment.deemed_accepted": 1, "assignment.overdue": 1})


# ---- the command line ------------------------------------------------------------------------
def _cli(args: list[str], db_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YIWANG_DATABASE_URL": db_url, "YIWANG_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cli_worker_once_sweeps_and_prints_the_counts(
    uow: UnitOfWork,
    principal: Any,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    tmp_path: Path,
) -> None:
    # A first sweep acts on the demo tickets' own deadlines (one is overdue).
    r = await asyncio.to_thread(_cli, ["worker", "--once"], db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    demo_events = len(await sweeper_events(sessions))

    past = datetime.now(TZ) - timedelta(days=21)
    await dispatched(uow, principal, sessions, at=past, units=("市城管局", "市住房城乡建设局"))

    r = await asyncio.to_thread(_cli, ["worker", "--once"], db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout.strip()
        == "deemed_accepted=2 overdue_marked=2 reminded=0 sign_reminded=0 sign_due_soon=0"
    )

    r = await asyncio.to_thread(_cli, ["worker", "--once"], db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout.strip()
        == "deemed_accepted=0 overdue_marked=0 reminded=0 sign_reminded=0 sign_due_soon=0"
    )
    assert len(await sweeper_events(sessions)) == demo_events + 4


async def test_cli_worker_refuses_a_database_not_at_head(empty_db_url: str, tmp_path: Path) -> None:
    r = await asyncio.to_thread(_cli, ["worker", "--once"], empty_db_url, tmp_path)
    assert r.returncode == 1
    assert "yiwang migrate" in r.stderr
    assert r.stdout == ""
