"""Alembic environment (async). The URL: config option ``sqlalchemy.url`` if a caller set it,
else YIWANG_DATABASE_URL, else the embedded PostgreSQL in YIWANG_DATA_DIR."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import domain.models  # noqa: F401  (registers every table on the metadata)
from authz.store import metadata as authz_metadata
from domain.base import Base
from domain.db import database_url
from domain.settings import get_settings

config = context.config
target_metadata = [Base.metadata, authz_metadata]


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    s = get_settings()
    return database_url(s.database_url, s.data_dir)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_configure)
    await engine.dispose()


def run_migrations_online() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        _configure(conn)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
