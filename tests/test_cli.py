"""The `yiwang` command line, run as a real process against a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import jwt
from sqlalchemy import text

from domain.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], db_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YIWANG_DATABASE_URL": db_url, "YIWANG_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrate_seed_token_on_a_fresh_database(empty_db_url: str, tmp_path: Path) -> None:
    r = _run(["migrate"], empty_db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "schema at head" in r.stderr

    r = _run(["seed", "--demo"], empty_db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "seeding centres" in r.stderr  # progress is shown
    assert "units +155" in r.stderr

    r = _run(["seed", "--demo"], empty_db_url, tmp_path)  # idempotent
    assert "units +0" in r.stderr and "demo_staff +0" in r.stderr

    r = _run(["token", "shuyang.supervisor"], empty_db_url, tmp_path)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    secret = (tmp_path / "jwt-secret").read_text().strip()  # generated once into the data dir
    claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="yiwang")
    assert claims["sub"] == "shuyang.supervisor"

    r = _run(["token", "nobody"], empty_db_url, tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "no active account" in r.stderr


def test_serve_migrates_seeds_and_serves_with_two_workers(
    empty_db_url: str, tmp_path: Path
) -> None:
    """`yiwang serve` on an empty database: migrate, seed, then answer on every worker."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "YIWANG_DATABASE_URL": empty_db_url, "YIWANG_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        login = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": 'mutation { login(input: {username: "admin", password: "yiwang-demo"})'
                " { token errors { code } } }"
            },
            timeout=10,
        ).json()["data"]["login"]
        assert login["errors"] == [] and login["token"]
        # Several requests: both workers answer with the same data (stateless instances).
        for _ in range(6):
            body = httpx.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": '{ units(filter: {memberOf: "3213"}) { totalCount } }'},
                headers={"Authorization": f"Bearer {login['token']}"},
                timeout=10,
            ).json()
            assert body["data"]["units"]["totalCount"] == 155
        # GraphiQL is on in --demo.
        page = httpx.get(
            f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}, timeout=10
        )
        assert "graphiql" in page.text.lower()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_index_tickets_backfills_the_match_keys(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            had = (
                await conn.execute(text("SELECT count(DISTINCT ticket_id) FROM ticket_match_key"))
            ).scalar_one()
            await conn.execute(text("DELETE FROM ticket_match_key"))
        assert had > 0  # the demo tickets were keyed at intake
        r = await asyncio.to_thread(_run, ["index-tickets", "--batch", "5"], db_url, tmp_path)
        assert r.returncode == 0, r.stderr
        assert f"match keys stored for {had} ticket(s)" in r.stderr
        async with engine.connect() as conn:
            again = (
                await conn.execute(text("SELECT count(DISTINCT ticket_id) FROM ticket_match_key"))
            ).scalar_one()
        assert again == had
        r = await asyncio.to_thread(_run, ["index-tickets"], db_url, tmp_path)
        assert "match keys stored for 0 ticket(s)" in r.stderr  # re-runnable
        r = await asyncio.to_thread(_run, ["index-tickets", "--batch", "0"], db_url, tmp_path)
        assert r.returncode == 2 and "--batch must be positive" in r.stderr
    finally:
        await engine.dispose()
