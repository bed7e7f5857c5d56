"""Scaling figures for docs/SCALING.md: instances, the event stream and the policy watcher.

    .venv/bin/python bench/scaling.py [--transitions 600] [--clients 8] [--keep]

Makes a fresh database (on ``YIWANG_DATABASE_URL``'s server, or the embedded pgserver when it
is unset), migrates and seeds it, starts server instances as separate processes, and prints:

1. the cost of ordering event commits (the advisory lock in ``domain.events``): small
   transactions per second with an event vs. the same transactions without one, same run;
2. createTicket throughput through one instance and through two (load split), with the
   baseline of a trivial authenticated query on the same instance;
3. fan-out latency: commit acknowledged on instance A → event received by a subscriber on B;
4. resume: events per second replayed to a subscriber that comes back after N events;
5. policy propagation: revokeRole on A → refused on B.

Machines here are noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain import events  # noqa: E402
from domain.db import asyncpg_dsn, database_url, make_engine, make_sessionmaker  # noqa: E402
from domain.migrate import upgrade  # noqa: E402
from seeds import run_seed  # noqa: E402

SECRET = "bench-secret-" + "y" * 40
CREATE = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id } errors { code message } } }"""
SUB = """subscription($after: ID) { ticketEvents(filter: {types: ["ticket.created"]}, after: $after)
  { id ticketId } }"""


def ticket_input(i: int) -> dict[str, Any]:
    return {
        "input": {
            "channel": "HOTLINE_12345",
            "originLevel": "CITY",
            "categoryCode": "CM",
            "title": f"基准测试第{i}件",
            "content": f"基准测试第{i}件，请处理。",
            "complainant": {"name": "测试", "phone": f"139{i:08d}"},
        }
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Instance:
    def __init__(self, db_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "YIWANG_DATABASE_URL": db_url,
            "YIWANG_JWT_SECRET": SECRET,
            "YIWANG_DATA_DIR": str(data_dir),
            "YIWANG_SWEEPER_ENABLED": "false",
        }
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"),
                *("--port", str(self.port), "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
        )

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.get(f"{self.url}/healthz")
                    if r.status_code == 200 and r.json()["events"]["listening"]:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError("instance did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def login(url: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.post(
            "/graphql",
            json={
                "query": "mutation($u: String!, $p: String!) { login(input: {username: $u, "
                "password: $p}) { token } }",
                "variables": {"u": username, "p": "yiwang-demo"},
            },
        )
        return str(r.json()["data"]["login"]["token"])


async def rate(urls: list[str], token: str, n: int, clients: int, body: Any) -> float:
    """Requests per second for ``n`` requests from ``clients`` concurrent clients."""
    counter = iter(range(n))
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(url: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
            for i in counter:
                r = await http.post("/graphql", json=body(i))
                data = r.json()
                assert not data.get("errors"), data

    start = time.perf_counter()
    await asyncio.gather(*(worker(urls[k % len(urls)]) for k in range(clients)))
    return n / (time.perf_counter() - start)


async def commit_cost(url: str, n: int, clients: int) -> tuple[float, float]:
    """Transactions/s: one small insert + an event, vs. the same insert alone (both write, so
    both wait for their commit's WAL flush: the difference is the ordering lock and the event)."""
    engine = make_engine(url, pool_size=clients, max_overflow=0)
    sessions = make_sessionmaker(engine)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_write (i integer NOT NULL)"))

    async def run(with_event: bool) -> float:
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                async with sessions() as s, s.begin():
                    await s.execute(text("INSERT INTO bench_write (i) VALUES (:i)"), {"i": i})
                    if with_event:
                        await events.record(
                            s,
                            type="bench.tick",
                            actor="bench",
                            entity_type="bench",
                            entity_id=i,
                            before=None,
                            after={"i": i},
                            domains=["centre:3213/"],
                        )

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return n / (time.perf_counter() - start)

    try:
        plain = await run(False)
        with_event = await run(True)
    finally:
        await engine.dispose()
    return plain, with_event


async def fanout_latency(a: Instance, b: Instance, token: str, n: int) -> list[float]:
    lat: list[float] = []
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(timeout=30) as ws_http,
        aconnect_ws(f"{b.url}/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws,
        httpx.AsyncClient(base_url=a.url, timeout=30) as http,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUB}})
        await asyncio.sleep(0.3)
        for i in range(n):
            r = await http.post(
                "/graphql",
                json={"query": CREATE, "variables": ticket_input(10_000 + i)},
                headers={"Authorization": f"Bearer {token}"},
            )
            t_ack = time.perf_counter()
            tid = r.json()["data"]["createTicket"]["ticket"]["id"]
            while True:
                msg = await ws.receive_json(timeout=10)
                if (
                    msg["type"] == "next"
                    and msg["payload"]["data"]["ticketEvents"]["ticketId"] == tid
                ):
                    break
            lat.append((time.perf_counter() - t_ack) * 1000)
    return lat


async def resume_rate(b: Instance, token: str, after: str, expect: int) -> float:
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(timeout=30) as ws_http,
        aconnect_ws(
            f"{b.url}/graphql", ws_http, subprotocols=["graphql-transport-ws"], queue_size=4096
        ) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert (await ws.receive_json())["type"] == "connection_ack"
        start = time.perf_counter()
        await ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUB, "variables": {"after": after}},
            }
        )
        got = 0
        while got < expect:
            msg = await ws.receive_json(timeout=30)
            if msg["type"] == "next":
                got += 1
        return expect / (time.perf_counter() - start)


async def policy_propagation(a: Instance, b: Instance, rounds: int) -> list[float]:
    """revokeRole/grantRole through A, then poll B until the member's roles show the change."""
    admin = await login(a.url, "shuyang.admin")
    member = await login(b.url, "shuyang.supervisor")
    role = {"username": "shuyang.supervisor", "role": "supervisor", "domain": "centre:321322/"}
    out: list[float] = []
    async with (
        httpx.AsyncClient(base_url=a.url, headers={"Authorization": f"Bearer {admin}"}) as ha,
        httpx.AsyncClient(base_url=b.url, headers={"Authorization": f"Bearer {member}"}) as hb,
    ):
        for k in range(rounds):
            change = "grantRole" if k % 2 else "revokeRole"
            r = await ha.post(
                "/graphql",
                json={
                    "query": f"mutation($i: RoleInput!) {{ {change}(input: $i) "
                    "{ errors { code } } }",
                    "variables": {"i": role},
                },
            )
            assert r.json()["data"][change]["errors"] == [], r.text
            t0 = time.perf_counter()
            while True:
                me = await hb.post("/graphql", json={"query": "{ me { roles { role } } }"})
                has = any(x["role"] == "supervisor" for x in me.json()["data"]["me"]["roles"])
                if has == (change == "grantRole"):
                    break
                await asyncio.sleep(0.005)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transitions", type=int, default=600)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    server = database_url(os.environ.get("YIWANG_DATABASE_URL"), ROOT / ".yiwang" / "bench")
    name = f"yiwang_bench_{uuid.uuid4().hex[:8]}"
    dsn, kw = asyncpg_dsn(server)
    conn = await asyncpg.connect(dsn, **kw)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    tmp = ROOT / ".yiwang" / "bench" / name
    instances: list[Instance] = []
    try:
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        await run_seed(engine, demo=True)
        await engine.dispose()
        print(f"database {name} migrated and seeded")

        plain, with_event = await commit_cost(url, 2000, args.clients)
        print(
            f"1. commit ordering: {plain:,.0f} tx/s without an event, {with_event:,.0f} tx/s "
            f"with one (ratio {with_event / plain:.2f}; {args.clients} concurrent writers)"
        )

        a, b = Instance(url, tmp / "a"), Instance(url, tmp / "b")
        instances += [a, b]
        await asyncio.gather(a.ready(), b.ready())
        token = await login(a.url, "shuyang.dispatcher")
        me = lambda i: {"query": "{ me { username } }"}  # noqa: E731
        base = await rate([a.url], token, args.transitions, args.clients, me)
        one = await rate(
            [a.url],
            token,
            args.transitions,
            args.clients,
            lambda i: {"query": CREATE, "variables": ticket_input(i)},
        )
        two = await rate(
            [a.url, b.url],
            token,
            args.transitions,
            args.clients,
            lambda i: {"query": CREATE, "variables": ticket_input(100_000 + i)},
        )
        print(
            f"2. baseline query {base:,.0f}/s; createTicket {one:,.0f}/s on one instance "
            f"(ratio {one / base:.2f}), {two:,.0f}/s over two (x{two / one:.2f})"
        )

        lat = await fanout_latency(a, b, token, 50)
        print(
            f"3. fan-out A→B: commit acknowledged → event on B's subscriber: "
            f"p50 {statistics.median(lat):.1f} ms, p95 {pct(lat, 0.95):.1f} ms (n={len(lat)})"
        )

        conn = await asyncpg.connect(*asyncpg_dsn(url)[:1], **asyncpg_dsn(url)[1])
        start_id = await conn.fetchval("SELECT max(id) FROM event")
        await conn.close()
        n_missed = 1000
        await rate(
            [a.url],
            token,
            n_missed,
            args.clients,
            lambda i: {"query": CREATE, "variables": ticket_input(200_000 + i)},
        )
        rr = await resume_rate(b, token, str(start_id), n_missed)
        print(f"4. resume: {n_missed} missed events replayed at {rr:,.0f} events/s")

        prop = await policy_propagation(a, b, 6)
        print(
            f"5. policy change on A enforced on B after: median {statistics.median(prop):.0f} ms, "
            f"max {max(prop):.0f} ms (n={len(prop)})"
        )
    finally:
        for inst in instances:
            inst.stop()
        if not args.keep:
            conn = await asyncpg.connect(dsn, **kw)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
