"""Database access: the URL (given or embedded PostgreSQL), engines and sessions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

_embedded: dict[Path, Any] = {}


def embedded_server(data_dir: Path) -> Any:
    """Start (or reuse) an embedded PostgreSQL from the ``pgserver`` package in ``data_dir/pg``."""
    path = (data_dir / "pg").resolve()
    if path not in _embedded:
        import pgserver  # imported lazily: only needed without YIWANG_DATABASE_URL

        path.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", path)
        # cleanup_mode=None: the server outlives this process and is reused by the next one.
        _embedded[path] = pgserver.get_server(path, cleanup_mode=None)  # type: ignore[attr-defined]
    return _embedded[path]


def embedded_url(data_dir: Path, database: str = "postgres") -> str:
    embedded_server(data_dir)
    sock = (data_dir / "pg").resolve()
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(sock))}"


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg dialect."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def database_url(database_url: str | None, data_dir: Path) -> str:
    """The asyncpg URL to use: the configured one, or the embedded server's."""
    if database_url:
        return async_url(database_url)
    return embedded_url(data_dir)


def asyncpg_dsn(url: str) -> tuple[str, dict[str, Any]]:
    """Turn an SQLAlchemy URL into (dsn, kwargs) for plain asyncpg connections (LISTEN/NOTIFY)."""
    u = make_url(url)
    kwargs: dict[str, Any] = {}
    host = u.query.get("host")
    if host:
        kwargs["host"] = host if isinstance(host, str) else host[0]
    plain = u.set(drivername="postgresql", query={})
    return plain.render_as_string(hide_password=False), kwargs


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
