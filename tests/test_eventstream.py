"""The event stream underneath subscriptions: ids in commit order, the hub's fan-out, its
reconnect-and-catch-up, the subscriber's filter and its bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import events
from domain.db import asyncpg_dsn
from domain.events import Event
from domain.eventstream import EventHub, StreamEvent, StreamFilter, Subscriber


def ev(
    i: int, type_: str = "assignment.signed", *domains: str, ticket: int | None = 1
) -> StreamEvent:
    return StreamEvent(
        id=i,
        at=datetime(2026, 11, 29, tzinfo=UTC),
        type=type_,
        actor="user:x",
        entity_type="assignment",
        entity_id=str(i),
        before=None,
        after=None,
        domains=tuple(domains),
        ticket_id=ticket,
    )


def test_filter_narrows_by_every_field_given() -> None:
    e = ev(5, "reply.accepted", "centre:3213/", "unit:7/", ticket=42)
    assert StreamFilter().matches(e)
    assert StreamFilter(ticket_id=42, centre_code="3213", unit_id=7).matches(e)
    assert StreamFilter(types=frozenset({"reply.accepted", "x"})).matches(e)
    assert not StreamFilter(ticket_id=41).matches(e)
    assert not StreamFilter(centre_code="321322").matches(e)
    assert not StreamFilter(unit_id=8).matches(e)
    assert not StreamFilter(types=frozenset({"reply.sent_back"})).matches(e)
    # Not a ticket's event (e.g. a registry change): never on the ticket stream.
    assert not StreamFilter().matches(ev(6, "unit.created", "centre:3213/", ticket=None))
    assert StreamFilter(ticket_events_only=False).matches(ev(6, ticket=None))


def test_a_subscriber_takes_only_events_after_its_position_and_is_bounded() -> None:
    sub = Subscriber(filter=StreamFilter(), max_pending=3, position=10)
    sub.offer([ev(9), ev(10), ev(11)])
    assert sub.pending == 1 and not sub.overflowed
    sub.offer([ev(12), ev(13)])
    assert sub.pending == 3 and not sub.overflowed
    sub.offer([ev(14)])  # a fourth pending event: cut off, and nothing more is queued
    assert sub.overflowed
    sub.offer([ev(15)])
    batches = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert [[e.id for e in b] for b in batches] == [[11], [12, 13], []]


async def _queue(s: AsyncSession, type_: str, n: int) -> None:
    await events.record(
        s,
        type=type_,
        actor="test",
        entity_type="test",
        entity_id=n,
        before=None,
        after={"n": n},
        domains=["centre:3213/"],
    )


async def _record_one(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    async with sessions() as s, s.begin():
        await _queue(s, "test.tick", n)


async def test_event_ids_follow_commit_order(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The transaction that records first but commits last still gets the higher id."""
    first_recorded = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> None:
        async with sessions() as s, s.begin():
            await _queue(s, "test.slow", 1)
            first_recorded.set()
            await release.wait()

    task = asyncio.create_task(slow())
    await first_recorded.wait()
    await _record_one(sessions, 2)  # records later, commits first
    release.set()
    await task
    async with sessions() as s:
        rows = (
            await s.execute(
                select(Event.type)
                .where(Event.type.in_(["test.slow", "test.tick"]))
                .order_by(Event.id)
            )
        ).scalars()
        assert list(rows) == ["test.tick", "test.slow"]


async def test_a_rolled_back_transaction_leaves_no_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s:
        await s.begin()
        await _queue(s, "test.gone", 1)
        await s.rollback()
        await s.commit()  # nothing pending any more: an empty commit
    async with sessions() as s:
        assert (await s.execute(select(Event).where(Event.type == "test.gone"))).first() is None


async def test_the_hub_fans_out_and_catches_up_after_losing_its_connection(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    dsn, kwargs = asyncpg_dsn(db_url)
    hub = EventHub(dsn, kwargs, poll_seconds=30)
    await hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), 10)
        sub = hub.subscribe(StreamFilter(ticket_events_only=False), max_pending=1000)
        await _record_one(sessions, 1)
        first = await asyncio.wait_for(sub.next_batch(), 5)  # woken by NOTIFY, not the poll
        assert [e.after for e in first] == [{"n": 1}]

        # Cut the hub's connection from the server side; commit while it is away.
        admin = await asyncpg.connect(dsn, **kwargs)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'yiwang-event-hub'"
            )
        finally:
            await admin.close()
        for n in range(2, 12):
            await _record_one(sessions, n)
        got: list[int] = []
        while len(got) < 10:
            batch = await asyncio.wait_for(sub.next_batch(), 15)
            got += [e.after["n"] for e in batch if e.after]
        assert got == list(range(2, 12))
        assert hub.reconnects >= 1
        await asyncio.sleep(0.3)
        assert sub.queue.empty()  # no duplicate after the catch-up
    finally:
        await hub.stop()


async def test_the_notification_follows_the_commit(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    dsn, kwargs = asyncpg_dsn(db_url)
    conn = await asyncpg.connect(dsn, **kwargs)
    got: list[str] = []
    await conn.add_listener(events.CHANNEL, lambda *a: got.append(a[3]))
    try:
        async with sessions() as s:
            await s.begin()
            await _queue(s, "test.x", 1)
            await s.flush()
            await asyncio.sleep(0.2)
            assert got == []  # nothing before the commit
            await s.commit()
        for _ in range(50):
            if got:
                break
            await asyncio.sleep(0.05)
        async with sessions() as s:
            top = (await s.execute(text("SELECT max(id) FROM event"))).scalar_one()
        assert got == [str(top)]
    finally:
        await conn.close()
