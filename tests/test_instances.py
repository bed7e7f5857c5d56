"""Several server instances on one database, as separate processes on separate ports.

- an event committed through instance B reaches a subscriber on instance A (LISTEN/NOTIFY), and
  a partner of one county never hears another county's;
- a role revoked through A is refused on B within 2 seconds;
- SIGKILL of an instance while 500 transitions are in flight: every acknowledged transition is
  in the database with its event, and a subscriber on the other instance receives every
  committed event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, GraphQLClient, _free_port
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_partners import make_client
from test_subscriptions import create, ticket_input
from wsclient import TICKET_EVENTS, connect

from domain.events import Event
from domain.tickets.models import Ticket

DOMAIN = "centre:321322/"
SECRET = "multi-instance-test-secret-" + "x" * 24


CREATE_ONE = """mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id } errors { code } } }"""


class Instance:
    """``uvicorn api.app:create_app`` in its own process."""

    def __init__(self, db_url: str, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "YIWANG_DATABASE_URL": db_url,
            "YIWANG_JWT_SECRET": SECRET,
            "YIWANG_DATA_DIR": str(data_dir),
            "YIWANG_SWEEPER_ENABLED": "false",
            "YIWANG_POLICY_RELOAD_SECONDS": "30",
            **env,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=environ,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"instance on {self.port} exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/healthz", timeout=2)
                if r.status_code == 200 and r.json()["events"]["listening"]:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"instance on {self.port} did not start")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def instances(db_url: str, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    a = Instance(db_url, tmp_path / "a")
    b = Instance(db_url, tmp_path / "b")
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


async def test_an_event_through_b_reaches_a_subscriber_on_a(
    instances: tuple[Instance, Instance],
) -> None:
    """Partners of two counties subscribe on A; tickets are created through B: each partner
    receives its own county's event and never the other county's."""
    a, b = instances
    shuyang_admin, siyang_admin = GraphQLClient(a.url), GraphQLClient(a.url)
    shuyang_b, siyang_partner_b = GraphQLClient(b.url), GraphQLClient(b.url)
    try:
        await shuyang_admin.login("shuyang.admin")
        await siyang_admin.login("siyang.admin")
        await shuyang_b.login("shuyang.dispatcher")
        p_shuyang = await make_client(shuyang_admin, permissions=["READ_CENTRE_TICKETS"])
        p_siyang = await make_client(siyang_admin, "321323", ["READ_CENTRE_TICKETS"])
        assert p_shuyang["errors"] == [] and p_siyang["errors"] == []
        siyang_partner_b.token = p_siyang["token"]
        flt = {"filter": {"types": ["ticket.created"]}}
        async with (
            connect(a.url, p_shuyang["token"]) as ws_shuyang,
            connect(a.url, p_siyang["token"]) as ws_siyang,
        ):
            op_shuyang = await ws_shuyang.subscribe(TICKET_EVENTS, flt)
            op_siyang = await ws_siyang.subscribe(TICKET_EVENTS, flt)
            await asyncio.sleep(0.3)
            siyang_ticket = await create(siyang_partner_b, "泗阳县：网格上报", channel="GRID")
            shuyang_ticket = await create(shuyang_b, "沭阳县：经B实例录入")
            got = (await ws_shuyang.next_data(op_shuyang))["ticketEvents"]
            assert (got["ticketId"], got["actor"]) == (
                shuyang_ticket["id"],
                "user:shuyang.dispatcher",
            )
            got = (await ws_siyang.next_data(op_siyang))["ticketEvents"]
            assert got["ticketId"] == siyang_ticket["id"]
            assert await ws_shuyang.quiet(1.0) == []  # never 泗阳县's ticket
            assert await ws_siyang.quiet(0.2) == []  # never 沭阳县's ticket
    finally:
        for c in (shuyang_admin, siyang_admin, shuyang_b, siyang_partner_b):
            await c.aclose()


async def test_a_role_revoked_on_a_is_refused_on_b_within_two_seconds(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    admin_a, dispatcher_b = GraphQLClient(a.url), GraphQLClient(b.url)
    try:
        await admin_a.login("shuyang.admin")
        await dispatcher_b.login("shuyang.dispatcher")
        await create(dispatcher_b, "撤销前可以录入")
        body = await admin_a.execute(
            "mutation($i: RoleInput!) { revokeRole(input: $i) { errors { code message } } }",
            {"i": {"username": "shuyang.dispatcher", "role": "dispatcher", "domain": DOMAIN}},
        )
        assert body["data"]["revokeRole"]["errors"] == [], body
        revoked_at = time.monotonic()
        refused_after: float | None = None
        while time.monotonic() - revoked_at < 5:
            attempt = await dispatcher_b.execute(
                """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
                  ticket { id } errors { __typename code message } } }""",
                ticket_input("撤销之后", centreCode="321322"),
            )
            errors = attempt["data"]["createTicket"]["errors"]
            if errors:
                assert errors[0]["code"] in ("NOT_PERMITTED", "NOT_FOUND"), errors
                refused_after = time.monotonic() - revoked_at
                break
            await asyncio.sleep(0.05)
        assert refused_after is not None and refused_after < 2.0, refused_after
    finally:
        await admin_a.aclose()
        await dispatcher_b.aclose()


async def test_sigkill_during_500_transitions_loses_nothing_acknowledged(
    instances: tuple[Instance, Instance], sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = instances
    writer_a = GraphQLClient(a.url)
    token = await writer_a.login("shuyang.dispatcher")
    async with sessions() as s:
        before = int((await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one())

    acknowledged: list[str] = []
    received: list[int] = []
    target: list[int] = []  # set once the committed events are known
    caught_up = asyncio.Event()
    kill_after = 150

    async with connect(b.url, token) as ws:
        op = await ws.subscribe(TICKET_EVENTS, {"filter": {"centreCode": "321322"}})
        await asyncio.sleep(0.3)

        async def listen() -> None:
            while True:
                data = await ws.next_data(op, wait=60)
                received.append(int(data["ticketEvents"]["id"]))
                if target and len(received) >= target[0]:
                    caught_up.set()

        listener = asyncio.create_task(listen())
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(500):
            queue.put_nowait(i)

        async def worker() -> None:
            http = httpx.AsyncClient(base_url=a.url, timeout=10)
            try:
                while not queue.empty():
                    i = queue.get_nowait()
                    try:
                        r = await http.post(
                            "/graphql",
                            json={
                                "query": CREATE_ONE,
                                "variables": ticket_input(f"压测第{i}件"),
                            },
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        payload = r.json()["data"]["createTicket"]
                    except (httpx.HTTPError, ValueError, KeyError, TypeError):
                        return  # the instance is gone: this one was not acknowledged
                    assert payload["errors"] == [], payload
                    acknowledged.append(payload["ticket"]["id"])
                    if len(acknowledged) == kill_after:
                        a.kill()
            finally:
                await http.aclose()

        await asyncio.gather(*(worker() for _ in range(8)))
        assert a.proc.poll() is not None, "instance A should have been killed"
        assert kill_after <= len(acknowledged) < 500

        # Every acknowledged transition is in the database, with its event.
        async with sessions() as s:
            committed = (
                (
                    await s.execute(
                        select(Event.id)
                        .join(Ticket, Ticket.id == Event.ticket_id)
                        .where(Event.id > before, Ticket.centre_code == "321322")
                        .order_by(Event.id)
                    )
                )
                .scalars()
                .all()
            )
            created_numbers = (
                (
                    await s.execute(
                        select(Ticket.id).where(
                            Ticket.id.in_(
                                select(Event.ticket_id).where(
                                    Event.id > before, Event.type == "ticket.created"
                                )
                            )
                        )
                    )
                )
                .scalars()
                .all()
            )
        from api.relay import to_global_id

        assert {str(x) for x in acknowledged} <= {
            str(to_global_id("Ticket", t)) for t in created_numbers
        }

        # The subscriber on B receives every committed event exactly once, in order.
        target.append(len(committed))
        if len(received) < len(committed):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(caught_up.wait(), timeout=20)
        await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
        assert received == list(committed)
        assert len(set(received)) == len(received)
    await writer_a.aclose()
