"""Demo seeds run once: a session advisory lock makes concurrent seeds of one kind wait for
each other, and a query for the seed's own rows says whether it already ran."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine


@contextlib.asynccontextmanager
async def seed_once(engine: AsyncEngine, key: int, done: Select[Any]) -> AsyncIterator[bool]:
    """Hold the lock ``key`` for the whole block (across the seed's own transactions) and yield
    whether to seed: False when ``done`` finds a row."""
    async with engine.connect() as lock:
        await lock.execute(select(func.pg_advisory_lock(key)))
        try:
            found = (await lock.execute(done.limit(1))).first()
            await lock.commit()  # the session lock outlives the transaction
            yield found is None
        finally:
            await lock.execute(select(func.pg_advisory_unlock(key)))
            await lock.commit()
