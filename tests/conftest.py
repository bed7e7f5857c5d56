"""Test fixtures: a real PostgreSQL for every test.

- ``YIWANG_DATABASE_URL`` set: its server is used (CI: the machine's PostgreSQL 15).
- unset: an embedded PostgreSQL 16 from ``pgserver`` in ``.yiwang/test/pg``.

The session migrates and seeds (with demo data) one template database; each test that asks for
``db_url`` gets its own fresh clone (``CREATE DATABASE … TEMPLATE``), dropped afterwards, so tests
may change anything without touching each other. Every database this run creates has a unique
name and is dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal, load_principal
from domain.db import asyncpg_dsn, database_url, make_engine, make_sessionmaker
from domain.migrate import upgrade
from domain.settings import Settings
from domain.uow import UnitOfWork
from seeds import run_seed

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> str:
    """An asyncpg URL to the server's maintenance database."""
    configured = os.environ.get("YIWANG_DATABASE_URL")
    return database_url(configured, ROOT / ".yiwang" / "test")


async def _admin_execute(server_url: str, *statements: str) -> None:
    dsn, kwargs = asyncpg_dsn(server_url)
    conn = await asyncpg.connect(dsn, **kwargs)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def _drop(server_url: str, name: str) -> None:
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> AsyncIterator[str]:
    """A migrated, seeded (with demo data) database to clone per test."""
    name = f"yiwang_tpl_{RUN_ID}"
    await _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        await run_seed(engine, demo=True)
        # chinesecalendar has no 2027 data yet; one administrator entry makes 2027 follow the
        # plain weekday rule, so tests that use the real clock near New Year do not fail.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO calendar_day (day, is_workday, note, set_by) "
                    "VALUES ('2027-01-01', false, '元旦 (test fixture)', 'tests') "
                    "ON CONFLICT DO NOTHING"
                )
            )
        await engine.dispose()
        yield url
    finally:
        await _drop(server_url, name)


_clone_counter = iter(range(1_000_000))


@pytest.fixture
async def db_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh database for this test: a clone of the seeded template."""
    name = f"yiwang_t_{RUN_ID}_{next(_clone_counter)}"
    tpl = make_url(template_url).database
    await _admin_execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    try:
        yield _with_database(server_url, name)
    finally:
        await _drop(server_url, name)


@pytest.fixture
async def empty_db_url(server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database (no schema) for migration tests."""
    name = f"yiwang_e_{RUN_ID}_{next(_clone_counter)}"
    await _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        await _drop(server_url, name)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url, pool_size=5, max_overflow=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def enforcer(engine: AsyncEngine) -> PolicyEnforcer:
    e = PolicyEnforcer(engine)
    await e.load()
    return e


@pytest.fixture
def uow(sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer) -> UnitOfWork:
    return UnitOfWork(sessions, enforcer)


@pytest.fixture
def principal(sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer) -> Any:
    """``await principal("shuyang.admin")`` -> the Principal with its current scope."""

    async def get(username: str) -> Principal:
        async with sessions() as s:
            p = await load_principal(s, enforcer, username)
        assert p is not None, f"no active account {username}"
        return p

    return get


# ---- a real HTTP server ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving the app on a real socket, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path / "data",
        "demo": True,
        "policy_reload_seconds": 30.0,
        # Tests that want the deadline sweeper turn it on; the others keep their states frozen.
        "sweeper_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(make_settings(db_url, tmp_path))
    srv.start()
    yield srv
    srv.stop()


class GraphQLClient:
    """A real HTTP client speaking GraphQL to the live server."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.token: str | None = None

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {}
        tok = token or self.token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        resp = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute and insist on no top-level errors."""
        body = await self.execute(query, variables)
        assert not body.get("errors"), body
        result: dict[str, Any] = body["data"]
        return result

    async def login(self, username: str, password: str = "yiwang-demo") -> str:
        body = await self.execute(
            "mutation($u: String!, $p: String!) {"
            " login(input: {username: $u, password: $p}) { token errors { code message } } }",
            {"u": username, "p": password},
        )
        payload = body["data"]["login"]
        assert payload["errors"] == [], payload
        self.token = payload["token"]
        return str(self.token)

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def client(live_server: LiveServer) -> AsyncIterator[GraphQLClient]:
    c = GraphQLClient(live_server.url)
    yield c
    await c.aclose()


@pytest.fixture
async def new_client(live_server: LiveServer) -> AsyncIterator[Any]:
    """Factory for more clients (several users in one test)."""
    made: list[GraphQLClient] = []

    def make() -> GraphQLClient:
        c = GraphQLClient(live_server.url)
        made.append(c)
        return c

    yield make
    for c in made:
        with contextlib.suppress(Exception):
            await c.aclose()


# ---- counting SQL statements (N+1 guards) ---------------------------------------------------
class StatementCounter:
    """Statements sent to this test's database by any engine in this process (the live
    server's too, since it runs in a thread)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.statements: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.engine.url.database == self.database:
            with self._lock:
                self.statements.append(statement)

    def take(self, *, with_transaction_control: bool = False) -> list[str]:
        """The statements since the last take (BEGIN/ROLLBACK left out unless asked for)."""
        with self._lock:
            out, self.statements = self.statements, []
        if with_transaction_control:
            return out
        return [x for x in out if not x.lstrip().upper().startswith(("BEGIN", "ROLLBACK"))]


@pytest.fixture
def statement_counter(db_url: str) -> Iterator[StatementCounter]:
    counter = StatementCounter(str(make_url(db_url).database))
    event.listen(Engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(Engine, "before_cursor_execute", counter)
