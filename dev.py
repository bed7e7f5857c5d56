#!/usr/bin/env python3
"""Bootstrap for newcomers and CI: needs only Python 3.11+ and git.

    python3 dev.py serve     # demo server: http://127.0.0.1:8000/graphql (GraphiQL)
    python3 dev.py test      # the whole test suite (real PostgreSQL; embedded when unset)
    python3 dev.py check     # ruff (lint + format) and mypy

Each command first makes ./.venv and installs the project with its pinned dependencies
(again only when pyproject.toml changed). Extra arguments go to the underlying command.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".yiwang-installed"


def say(msg: str) -> None:
    print(f"[dev] {msg}", file=sys.stderr, flush=True)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before any check
        sys.exit(f"Python 3.11+ is required (this is {sys.version.split()[0]})")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not (BIN / "python").exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    say("installing yiwang and its pinned dependencies (first run takes a minute)")
    py = str(BIN / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=ROOT, check=True)
    STAMP.write_text(want)


def run(args: list[str]) -> int:
    return subprocess.run(args, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    ensure_env()
    py = str(BIN / "python")
    if cmd == "serve":
        return run([py, "-m", "api.cli", "serve", "--demo", *rest])
    if cmd == "test":
        return run([py, "-m", "pytest", *rest])
    if cmd == "check":
        codes = [
            run([py, "-m", "ruff", "check", "."]),
            run([py, "-m", "ruff", "format", "--check", "."]),
            run([py, "-m", "mypy", "."]),
        ]
        return max(codes)
    if cmd == "yiwang":
        return run([py, "-m", "api.cli", *rest])
    if cmd == "setup":
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
