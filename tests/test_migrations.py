"""Migrations are the only way the schema changes: reversible, and in step with the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import domain.models  # noqa: F401
from authz.store import metadata as authz_metadata
from domain.base import Base
from domain.db import make_engine
from domain.migrate import downgrade, upgrade


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


async def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def compare(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "compare_server_default": True}
                )
                return compare_metadata(ctx, [Base.metadata, authz_metadata])  # type: ignore[arg-type]

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_db_url)
    assert {"centre", "unit", "staff", "event", "casbin_rule", "alembic_version"} <= await _tables(
        empty_db_url
    )
    await asyncio.to_thread(downgrade, empty_db_url, "base")
    assert await _tables(empty_db_url) == {"alembic_version"}
    await asyncio.to_thread(upgrade, empty_db_url)
    assert "unit" in await _tables(empty_db_url)


async def test_models_and_migrations_do_not_differ(empty_db_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_db_url)
    assert await _diff(empty_db_url) == []


async def test_event_log_is_append_only(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        for sql in ("UPDATE event SET actor = 'x'", "DELETE FROM event", "TRUNCATE event"):
            async with engine.connect() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    await conn.execute(text(sql))
        async with engine.connect() as conn:
            n = (await conn.execute(text("SELECT count(*) FROM event"))).scalar_one()
        assert n >= 1
    finally:
        await engine.dispose()
