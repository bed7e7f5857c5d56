"""The ``yiwang`` command line: serve, worker, migrate, seed, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from domain.settings import get_settings


def _say(msg: str) -> None:
    print(f"[yiwang] {msg}", file=sys.stderr, flush=True)


def _url() -> str:
    from domain.db import database_url

    s = get_settings()
    if not s.database_url:
        _say(f"starting embedded PostgreSQL in {s.data_dir / 'pg'} (YIWANG_DATABASE_URL unset)")
    return database_url(s.database_url, s.data_dir)


def cmd_migrate(_args: argparse.Namespace) -> int:
    from domain.migrate import upgrade

    url = _url()
    _say("migrating the schema to head")
    t = time.monotonic()
    upgrade(url)
    _say(f"schema at head ({time.monotonic() - t:.1f}s)")
    return 0


async def _seed(url: str, demo: bool) -> dict[str, int]:
    from domain.db import make_engine
    from seeds import run_seed

    engine = make_engine(url)
    try:
        added = await run_seed(engine, demo=demo, progress=lambda m: _say(f"seeding {m}"))
        if demo:
            # Notices, a referral and the month's draft scores: for the demo server's screens
            # (the tests' template leaves them out, so those tables start empty there).
            from seeds.demo_notices import seed_demo_notices

            added["demo_notices"] = await seed_demo_notices(
                engine, progress=lambda m: _say(f"seeding {m}")
            )
        return added
    finally:
        await engine.dispose()


def cmd_seed(args: argparse.Namespace) -> int:
    url = _url()
    added = asyncio.run(_seed(url, args.demo))
    _say("seeded: " + ", ".join(f"{k} +{v}" for k, v in added.items()))
    return 0


async def _token(url: str, username: str) -> str | None:
    from sqlalchemy import select

    from api.auth import issue_token
    from domain.db import make_engine, make_sessionmaker
    from domain.registry.models import Staff

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            found = (
                await s.execute(select(Staff.id).where(Staff.username == username, Staff.active))
            ).first()
    finally:
        await engine.dispose()
    return issue_token(get_settings(), username) if found else None


def cmd_token(args: argparse.Namespace) -> int:
    token = asyncio.run(_token(_url(), args.username))
    if token is None:
        _say(f"no active account named {args.username!r}")
        return 1
    print(token)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from api.schema import build_schema

    sdl = build_schema(get_settings()).as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
        _say(f"schema written to {args.output}")
    return 0


async def _schema_revisions(url: str) -> tuple[set[str], set[str]]:
    """(the database's alembic revisions, the code's heads)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from domain.db import make_engine
    from domain.migrate import alembic_config

    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda c: set(MigrationContext.configure(c).get_current_heads())
            )
    finally:
        await engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    return current, heads


async def _worker(url: str, interval: float, once: bool) -> int:
    import signal
    from datetime import datetime

    from domain.calendar import TZ
    from domain.db import make_engine, make_sessionmaker
    from domain.supervision.service import sweep_supervision
    from domain.tickets.sweeper import SweepResult, run_forever, sweep

    current, heads = await _schema_revisions(url)
    if current != heads:
        _say(
            f"the schema is at {sorted(current) or 'nothing'}, not at head {sorted(heads)}: "
            "run `yiwang migrate` first"
        )
        return 1
    engine = make_engine(url, pool_size=2, max_overflow=2)
    sessions = make_sessionmaker(engine)
    try:
        if once:
            t = time.monotonic()
            now = datetime.now(TZ)
            result = await sweep(sessions, now=now)
            print(result, flush=True)
            reminded = await sweep_supervision(sessions, now=now)
            _say(
                f"one sweep done ({time.monotonic() - t:.1f}s); "
                f"supervision cases reminded: {reminded}"
            )
            return 0

        def report(result: SweepResult) -> None:
            if result.changed:
                _say(f"{datetime.now(TZ):%Y-%m-%d %H:%M:%S} swept: {result}")

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _say(f"deadline sweeper running every {interval:g}s (Ctrl-C or SIGTERM stops it)")
        await run_forever(sessions, interval, stop, on_sweep=report)
        _say("deadline sweeper stopped")
        return 0
    finally:
        await engine.dispose()


async def _index_tickets(url: str, batch: int) -> int:
    from domain.analysis.linking import backfill_match_keys
    from domain.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        done = await backfill_match_keys(make_sessionmaker(engine), batch=batch)
    finally:
        await engine.dispose()
    _say(f"match keys stored for {done} ticket(s); new tickets will be linked to them")
    return 0


def cmd_index_tickets(args: argparse.Namespace) -> int:
    if args.batch < 1:
        _say("--batch must be positive")
        return 2
    return asyncio.run(_index_tickets(_url(), args.batch))


def cmd_worker(args: argparse.Namespace) -> int:
    interval = args.interval if args.interval is not None else get_settings().sweep_interval_seconds
    if interval <= 0:
        _say("--interval must be positive")
        return 2
    return asyncio.run(_worker(_url(), interval, args.once))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.demo:
        os.environ["YIWANG_DEMO"] = "true"
        get_settings.cache_clear()
    url = _url()
    if not get_settings().database_url:
        # Workers find the same embedded server through the data folder.
        os.environ["YIWANG_DATABASE_URL"] = url
        get_settings.cache_clear()
    cmd_migrate(args)
    added = asyncio.run(_seed(url, args.demo))
    _say("seeded: " + ", ".join(f"{k} +{v}" for k, v in added.items()))
    _say(f"serving http://{args.host}:{args.port}/graphql with {args.workers} worker(s)")
    if args.demo:
        _say("GraphiQL is on; demo accounts use the password 'yiwang-demo' (see README)")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yiwang", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate, seed idempotently and serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--demo", action="store_true", help="demo accounts and data, GraphiQL on")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "index-tickets",
        help="store the repeat-complaint match keys of tickets that have none "
        "(taken in before linking existed, or bulk-loaded); re-runnable",
    )
    p.add_argument("--batch", type=int, default=1000)
    p.set_defaults(func=cmd_index_tickets)

    p = sub.add_parser(
        "worker", help="run the deadline sweeper without the HTTP server (schema must be at head)"
    )
    p.add_argument(
        "--interval", type=float, default=None, help="seconds between sweeps (default: settings)"
    )
    p.add_argument("--once", action="store_true", help="sweep once, print the counts and exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="upgrade the database schema to head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load the registry (and --demo data) idempotently")
    p.add_argument("--demo", action="store_true")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("token", help="print a bearer token for an existing account")
    p.add_argument("username")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    p.add_argument("--output", "-o", default="schema.graphql", help="file, or - for stdout")
    p.set_defaults(func=cmd_export_schema)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
