"""The live event stream of one server instance: LISTEN once, tail the event table, fan out.

Each instance keeps **one** asyncpg connection that LISTENs on ``yiwang_event``. A notification
(sent by the committing transaction, delivered only after its commit: see ``domain.events``)
wakes the hub, which reads the event table *after its position* in id order and hands each new
event to every local subscriber. Event ids are in commit order, so "after my position" misses
nothing and repeats nothing; a notification only says "there is more", and a lost one costs at
most ``poll_seconds`` (the hub also polls). After a lost connection the hub reconnects and
catches up from the table, so a subscriber sees every event exactly once.

Subscribers get batches on a bounded queue. One that falls more than ``max_pending`` events
behind is marked *overflowed* and gets no more: its connection is cut off with a clear reason
(it may resume later from its last event id) rather than growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from domain.events import CHANNEL

log = logging.getLogger(__name__)

APP_NAME = "yiwang-event-hub"  # how the hub's connection shows in pg_stat_activity
_COLUMNS = "id, at, type, actor, entity_type, entity_id, before, after, domains, ticket_id"


@dataclass(frozen=True)
class StreamEvent:
    """An event as the stream carries it (a plain value: no session attached)."""

    id: int
    at: datetime
    type: str
    actor: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    domains: tuple[str, ...]
    ticket_id: int | None

    @classmethod
    def of_record(cls, r: asyncpg.Record | Any) -> StreamEvent:
        def js(v: Any) -> Any:
            return json.loads(v) if isinstance(v, str) else v

        return cls(
            id=int(r["id"]),
            at=r["at"],
            type=r["type"],
            actor=r["actor"],
            entity_type=r["entity_type"],
            entity_id=r["entity_id"],
            before=js(r["before"]),
            after=js(r["after"]),
            domains=tuple(r["domains"] or ()),
            ticket_id=r["ticket_id"],
        )


@dataclass(frozen=True)
class StreamFilter:
    """What a subscriber asked for. Every field narrows; empty fields match everything."""

    ticket_id: int | None = None
    centre_code: str | None = None
    unit_id: int | None = None
    types: frozenset[str] = frozenset()
    ticket_events_only: bool = True

    def matches(self, ev: StreamEvent) -> bool:
        if self.ticket_events_only and ev.ticket_id is None:
            return False
        if self.ticket_id is not None and ev.ticket_id != self.ticket_id:
            return False
        if self.types and ev.type not in self.types:
            return False
        if self.centre_code is not None and f"centre:{self.centre_code}/" not in ev.domains:
            return False
        return self.unit_id is None or f"unit:{self.unit_id}/" in ev.domains


@dataclass(eq=False)
class Subscriber:
    """One subscription's inbox at the hub."""

    filter: StreamFilter
    max_pending: int
    position: int  # the hub's position when this subscriber joined: live events come after it
    queue: asyncio.Queue[list[StreamEvent]] = field(default_factory=asyncio.Queue)
    pending: int = 0
    overflowed: bool = False
    closed: bool = False

    def offer(self, batch: Sequence[StreamEvent]) -> None:
        if self.overflowed or self.closed:
            return
        mine = [ev for ev in batch if ev.id > self.position and self.filter.matches(ev)]
        if not mine:
            return
        if self.pending + len(mine) > self.max_pending:
            self.overflowed = True
            self.queue.put_nowait([])  # wake the consumer so it sees the flag
            return
        self.pending += len(mine)
        self.queue.put_nowait(mine)

    async def next_batch(self) -> list[StreamEvent]:
        batch = await self.queue.get()
        self.pending -= len(batch)
        return batch


class EventHub:
    """Tails the event table for this instance and fans new events out to its subscribers."""

    def __init__(
        self,
        dsn: str,
        connect_kwargs: dict[str, Any],
        *,
        poll_seconds: float = 5.0,
        batch_size: int = 500,
    ) -> None:
        self._dsn = dsn
        self._kwargs = connect_kwargs
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.position = 0
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.delivered = 0
        self._on_batch: list[Callable[[Sequence[StreamEvent]], None]] = []

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        conn = await asyncpg.connect(self._dsn, **self._kwargs)
        try:
            self.position = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM event"))
        finally:
            await conn.close()
        self._task = asyncio.create_task(self._run(), name="yiwang-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for sub in list(self._subscribers):
            sub.closed = True
            sub.queue.put_nowait([])
        self._subscribers.clear()

    # ---- subscribers --------------------------------------------------------------------------
    def subscribe(self, flt: StreamFilter, max_pending: int) -> Subscriber:
        """Join the stream now: every event after ``position`` will be offered, in order."""
        sub = Subscriber(filter=flt, max_pending=max_pending, position=self.position)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def on_batch(self, fn: Callable[[Sequence[StreamEvent]], None]) -> None:
        """Also call ``fn`` with each batch (in-process observers, e.g. metrics)."""
        self._on_batch.append(fn)

    def _dispatch(self, batch: Iterable[StreamEvent]) -> None:
        events = list(batch)
        if not events:
            return
        # Synchronous from here to the position update: a subscriber joining meanwhile cannot
        # fall between "offered" and "after my position".
        for sub in list(self._subscribers):
            sub.offer(events)
        for fn in self._on_batch:
            fn(events)
        self.position = events[-1].id
        self.delivered += len(events)

    # ---- the tail loop ------------------------------------------------------------------------
    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        while True:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM event WHERE id > $1 ORDER BY id LIMIT $2",
                self.position,
                self.batch_size,
            )
            self._dispatch(StreamEvent.of_record(r) for r in rows)
            if len(rows) < self.batch_size:
                return

    async def _run(self) -> None:
        def wake(*_args: object) -> None:
            self._wake.set()

        backoff = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, **self._kwargs, server_settings={"application_name": APP_NAME}
                )
                await conn.add_listener(CHANNEL, wake)
                conn.add_termination_listener(wake)
                self.connected.set()
                # Whatever committed while we were not listening is in the table.
                await self._catch_up(conn)
                backoff = 0.2
                while not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                    self._wake.clear()
                    await self._catch_up(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event hub lost its connection; reconnecting", exc_info=True)
            finally:
                self.connected.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
