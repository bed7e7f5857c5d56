"""The `yiwang` command line, run as a real process against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

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


def test_migrate_seed_token_on_a_fresh_database(empty_db_url: str, tmp_path: Path):
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
