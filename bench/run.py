"""Issue-6 benchmark: monthly scoring, the cockpit and the hotspots over realistic data.

Not a timed test: a script that prints figures (see bench/README.md)::

    python bench/run.py                      # a month (~41.7k tickets) and a year of 500k
    python bench/run.py --tickets 50000      # a quick run: a year of 50k, its month ~4.2k
    python bench/run.py --keep               # keep the databases (their names are printed)

For each data set — "a realistic month" (one month's share of the year's tickets, received in
the measured month) and "a year" (``--tickets`` received over ``--year``) — it creates a fresh
database on ``YIWANG_DATABASE_URL``'s server (or the embedded pgserver when unset), migrates,
seeds (with the demo accounts: the measured calls act as ``city.supervisor``), generates with
the project's generator (``seeds.generator``), ANALYZEs, and then times, calling the domain
entry points directly:

* monthly scoring of all the city centre's member units (``compute_assessment``, the whole use
  case with its writes and commit; and ``indicators.collect``, the SQL part alone);
* the cockpit (``domain.analysis.cockpit.cockpit``) and the hotspots
  (``domain.analysis.hotspots.hotspots``) of the city centre for the month;
* baselines in the same run, so the figures can be read against the machine's speed at that
  moment: ``SELECT count(*) FROM generate_series(1, 1000000)`` (the ratios are to this one:
  it does not grow with the data), and ``count(*)`` over the month's events and tickets.

Each figure is the median of several runs (min and max shown). The targets of issue 6: a
month's scoring under 10 s on 2 cores, cockpit and hotspots under 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from domain.calendar import TZ  # noqa: E402
from domain.db import asyncpg_dsn, database_url, make_engine, make_sessionmaker  # noqa: E402
from domain.settings import get_settings  # noqa: E402

CENTRE = "3213"
ACTOR = "city.supervisor"  # a demo account with assessment:compute and cockpit/analysis:read
TARGET_SCORING_S = 10.0
TARGET_QUERY_MS = 500.0


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- databases ----------------------------------------------------------------------------------
def server_url() -> str:
    s = get_settings()
    if not s.database_url:
        say(f"YIWANG_DATABASE_URL unset: embedded PostgreSQL in {s.data_dir / 'pg'}")
    return database_url(s.database_url, Path(s.data_dir))


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def admin(url: str, sql: str) -> None:
    dsn, kwargs = asyncpg_dsn(url)
    conn = await asyncpg.connect(dsn, **kwargs)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def prepare(url: str) -> None:
    from domain.migrate import upgrade
    from seeds import run_seed

    t = time.monotonic()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=2, max_overflow=0)
    try:
        await run_seed(engine, demo=True)
    finally:
        await engine.dispose()
    say(f"migrated and seeded in {time.monotonic() - t:.1f}s")


# ---- timing -------------------------------------------------------------------------------------
@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def line(self, unit: str = "ms", baseline: Timing | None = None) -> str:
        k = 1000.0 if unit == "ms" else 1.0
        parts = [
            f"{self.name:<50} median {self.median * k:9.1f} {unit}",
            f"(min {min(self.seconds) * k:.1f}, max {max(self.seconds) * k:.1f}, "
            f"n={len(self.seconds)})",
        ]
        if baseline is not None and baseline.median > 0:
            parts.append(f"= {self.median / baseline.median:6.1f}× baseline")
        if self.note:
            parts.append(self.note)
        return " ".join(parts)


async def timed(name: str, runs: int, fn: Callable[[], Awaitable[Any]], warmup: int = 1) -> Timing:
    for _ in range(warmup):
        await fn()
    t = Timing(name)
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        t.seconds.append(time.perf_counter() - start)
    return t


# ---- one data set -------------------------------------------------------------------------------
def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=TZ)
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return start, datetime(nxt.year, nxt.month, 1, tzinfo=TZ)


async def measure(url: str, month: date, runs: int, scoring_runs: int) -> dict[str, Timing]:
    from authz.enforcer import PolicyEnforcer
    from domain.accounts import load_principal
    from domain.uow import UnitOfWork

    m0, m1 = month_bounds(month)
    engine = make_engine(url, pool_size=4, max_overflow=0)
    out: dict[str, Timing] = {}
    try:
        sessions = make_sessionmaker(engine)
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        uow = UnitOfWork(sessions, enforcer)
        async with sessions() as s:
            actor = await load_principal(s, enforcer, ACTOR)
        assert actor is not None, f"the seed has no {ACTOR} account"

        async def scalar(sql: str) -> Any:
            async with sessions() as s:
                return (await s.execute(text(sql), {"m0": m0, "m1": m1})).scalar_one()

        events = await scalar("SELECT count(*) FROM event WHERE at >= :m0 AND at < :m1")
        tickets = await scalar(
            "SELECT count(*) FROM ticket WHERE received_at >= :m0 AND received_at < :m1"
        )
        say(f"the month {month:%Y-%m}: {tickets} tickets received, {events} events")
        out["baseline_events"] = await timed(
            "baseline: count(*) of the month's events",
            runs,
            lambda: scalar("SELECT count(*) FROM event WHERE at >= :m0 AND at < :m1"),
        )
        out["baseline_tickets"] = await timed(
            "baseline: count(*) of the month's tickets",
            runs,
            lambda: scalar(
                "SELECT count(*) FROM ticket WHERE received_at >= :m0 AND received_at < :m1"
            ),
        )
        out["baseline_cpu"] = await timed(
            "baseline: count(*) of generate_series(1, 1e6)",
            runs,
            lambda: scalar("SELECT count(*) FROM generate_series(1, 1000000)"),
        )
        out["baseline_events"].note = f"({events} rows)"
        out["baseline_tickets"].note = f"({tickets} rows)"

        # ---- scoring (§6) ---------------------------------------------------------------------
        try:
            from domain.assessment import indicators
            from domain.assessment.service import compute_assessment
        except ImportError as e:  # pragma: no cover - reported, not hidden
            say(f"scoring not measured: {e}")
        else:

            async def collect() -> Any:
                async with sessions() as s:
                    return await indicators.collect(s, centre_code=CENTRE, month=month)

            units = len(await collect())
            out["collect"] = await timed(
                f"scoring SQL (indicators.collect, {units} units)", scoring_runs, collect
            )

            async def compute() -> Any:
                return await compute_assessment(
                    uow=uow, actor=actor, centre_code=CENTRE, month=month
                )

            out["scoring"] = await timed(
                f"monthly scoring (compute_assessment, {units} units)", scoring_runs, compute
            )
            ok = out["scoring"].median < TARGET_SCORING_S
            out["scoring"].note = f"target < {TARGET_SCORING_S:.0f} s: {'OK' if ok else 'SLOW'}"

        # ---- cockpit and hotspots (§7(1), §3(10)) -----------------------------------------------
        now = m1
        try:
            from domain.analysis.cockpit import cockpit
        except ImportError as e:  # pragma: no cover
            say(f"cockpit not measured: {e}")
        else:

            async def run_cockpit() -> Any:
                async with sessions() as s:
                    return await cockpit(
                        s, actor.scope, centre_code=CENTRE, start=m0, end=m1, now=now
                    )

            out["cockpit"] = await timed("cockpit (month)", runs, run_cockpit)
        try:
            from domain.analysis.hotspots import hotspots
        except ImportError as e:  # pragma: no cover
            say(f"hotspots not measured: {e}")
        else:

            async def run_hotspots() -> Any:
                async with sessions() as s:
                    return await hotspots(s, actor.scope, centre_code=CENTRE, start=m0, end=m1)

            out["hotspots"] = await timed("hotspots (month)", runs, run_hotspots)
        for key in ("cockpit", "hotspots"):
            if key in out:
                ok = out[key].median * 1000 < TARGET_QUERY_MS
                out[key].note = f"target < {TARGET_QUERY_MS:.0f} ms: {'OK' if ok else 'SLOW'}"
    finally:
        await engine.dispose()
    return out


async def data_set(
    server: str,
    *,
    label: str,
    tickets: int,
    start: date,
    end: date,
    month: date,
    args: argparse.Namespace,
) -> dict[str, Any]:
    from seeds.generator import generate

    name = f"yiwang_bench_{label}_{os.getpid()}"
    url = with_database(server, name)
    say(f"{label}: creating database {name}")
    await admin(server, f'CREATE DATABASE "{name}"')
    try:
        await prepare(url)
        say(f"{label}: generating {tickets} tickets {start} .. {end} (seed {args.seed})")
        result = await generate(
            url,
            tickets=tickets,
            start=start,
            end=end,
            seed=args.seed,
            progress=lambda m: say(f"{label}: {m}"),
        )
        t = time.monotonic()
        await admin(url, "ANALYZE")
        say(f"{label}: ANALYZE {time.monotonic() - t:.1f}s")
        figures = await measure(url, month, args.runs, args.scoring_runs)
        return {"label": label, "generated": result, "figures": figures, "database": name}
    finally:
        if args.keep:
            say(f"{label}: kept database {name}")
        else:
            await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report_set(ds: dict[str, Any]) -> None:
    """One data set's figures (printed as soon as they are measured)."""
    g = ds["generated"]
    f: dict[str, Timing] = ds["figures"]
    print()
    print(
        f"== {ds['label']}: {g.tickets} tickets, {g.events} events, {g.assignments} assignments =="
    )
    print(
        f"generation: {g.seconds:.1f} s, {g.tickets / g.seconds:.0f} tickets/s, "
        f"{g.events / g.seconds:.0f} events/s"
    )
    base = f.get("baseline_cpu")
    for key in ("baseline_cpu", "baseline_events", "baseline_tickets"):
        if key in f:
            print("  " + f[key].line("ms"))
    for key in ("collect", "scoring"):
        if key in f:
            print("  " + f[key].line("s", base))
    for key in ("cockpit", "hotspots"):
        if key in f:
            print("  " + f[key].line("ms", base))
    missing = [k for k in ("scoring", "cockpit", "hotspots") if k not in f]
    if missing:
        print(f"  not measured (entry point missing): {', '.join(missing)}")
    sys.stdout.flush()


def report_ratios(sets: list[dict[str, Any]]) -> None:
    if len(sets) == 2:
        a, b = (ds["figures"] for ds in sets)
        print()
        print(f"== {sets[1]['label']} / {sets[0]['label']} (same query, same month) ==")
        for key in ("baseline_cpu", "baseline_events", "collect", "scoring", "cockpit", "hotspots"):
            if key in a and key in b:
                print(f"  {a[key].name:<50} {b[key].median / a[key].median:6.2f}×")


async def main_async(args: argparse.Namespace) -> int:
    server = server_url()
    month = date(args.year, args.month, 1)
    m_end = date(args.year + (args.month == 12), args.month % 12 + 1, 1)
    month_tickets = args.month_tickets or round(args.tickets / 12)
    plan = []
    if not args.skip_month:
        plan.append(("month", month_tickets, month, date.fromordinal(m_end.toordinal() - 1)))
    if not args.skip_year:
        plan.append(("year", args.tickets, date(args.year, 1, 1), date(args.year, 12, 31)))
    print(
        f"Yiwang issue-6 benchmark — {datetime.now(TZ):%Y-%m-%d %H:%M %Z}, "
        f"{os.cpu_count()} CPUs (shared machine: figures are indicative)"
    )
    sets = []
    for label, n, start, end in plan:
        ds = await data_set(
            server, label=label, tickets=n, start=start, end=end, month=month, args=args
        )
        report_set(ds)
        sets.append(ds)
    report_ratios(sets)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tickets", type=int, default=500_000, help="tickets in the year (500000)")
    p.add_argument(
        "--month-tickets", type=int, default=None, help="tickets in the month data set (1/12)"
    )
    p.add_argument("--year", type=int, default=2025, help="the year generated (2025)")
    p.add_argument("--month", type=int, default=6, help="the month measured (6)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=7, help="runs of each query (median)")
    p.add_argument("--scoring-runs", type=int, default=3, help="runs of the scoring (median)")
    p.add_argument("--skip-month", action="store_true", help="only the year data set")
    p.add_argument("--skip-year", action="store_true", help="only the month data set")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    args = p.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
