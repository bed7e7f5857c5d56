"""The demo tickets (``--demo``): every state a screen shows, each with its history, made once.

The template database is seeded with ``demo=True`` (conftest), so every test starts from it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.calendar import TZ
from domain.events import Event
from domain.registry.models import Unit
from domain.supervision.models import MeetingDecision
from domain.tickets.models import (
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Channel,
    ExtensionRequest,
    OriginLevel,
    Reply,
    ReplyStatus,
    ReturnRequest,
    Ticket,
    TicketStatus,
)
from domain.tickets.reply_rules import lint_reply
from seeds import run_seed
from seeds.demo import SHUYANG
from seeds.demo_tickets import SCENARIOS, seed_demo_tickets
from seeds.registry import CITY_CODE

S = AssignmentStatus


# The demo meeting's disputed ticket (seeds.demo_meetings) is tested in test_meetings.py, the
# demo referrals (seeds.demo_referrals: tickets referred to a unit that stands for a lower
# centre) in test_demo_referrals.py.
_REFERRED = select(Assignment.ticket_id).join(Unit, Unit.id == Assignment.unit_id)
_SCENARIO_TICKET = (
    Ticket.demo.is_(True)
    & Ticket.id.not_in(select(MeetingDecision.ticket_id))
    & Ticket.id.not_in(_REFERRED.where(Unit.represents.is_not(None)))
)


async def _tickets(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(Ticket).where(_SCENARIO_TICKET))).all())


async def _assignments(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(Assignment)
                    .join(Ticket, Ticket.id == Assignment.ticket_id)
                    .where(_SCENARIO_TICKET)
                )
            ).all()
        )


async def test_one_ticket_per_scenario_in_every_ticket_and_assignment_state(
    engine: AsyncEngine,
) -> None:
    tickets = await _tickets(engine)
    assert len(tickets) == len(SCENARIOS)
    assert {t.status for t in tickets} == set(TicketStatus)
    assert {a.status for a in await _assignments(engine)} == set(AssignmentStatus)


async def test_ticket_numbers_follow_the_time_of_receipt(engine: AsyncEngine) -> None:
    tickets = sorted(await _tickets(engine), key=lambda t: t.id)
    received = [t.received_at for t in tickets]
    assert received == sorted(received)
    assert [t.number for t in tickets] == sorted(t.number for t in tickets)


async def test_the_demo_covers_each_screen(engine: AsyncEngine) -> None:
    tickets = await _tickets(engine)
    assignments = await _assignments(engine)
    now = datetime.now(TZ)
    by_status = Counter(a.status for a in assignments)

    # Both centres, both origins, several channels, some anonymous, every urgency.
    assert {t.centre_code for t in tickets} == {CITY_CODE, SHUYANG}
    assert {t.origin_level for t in tickets} == set(OriginLevel)
    assert {
        Channel.HOTLINE_12345,
        Channel.DIGITAL_CITY_MANAGEMENT,
        Channel.GRID,
        Channel.PROVINCE_ORDER,
    } <= {t.channel for t in tickets}
    assert {t.anonymous for t in tickets} == {True, False}
    assert len({t.urgency for t in tickets}) == 3
    # To sign: plain dispatches, and a rejected return dispatched again (return-locked).
    assert by_status[S.DISPATCHED] >= 3
    assert any(a.status == S.DISPATCHED and a.return_locked for a in assignments)
    # A redo, a supplement and a co-unit.
    assert any(a.status == S.HANDLING and a.redo_count == 1 for a in assignments)
    assert any(a.status == S.HANDLING and a.sent_back_count == 1 for a in assignments)
    assert any(a.role == AssignmentRole.CO and a.status == S.ACCEPTED for a in assignments)
    assert any(a.role == AssignmentRole.CO and a.status == S.DISPATCHED for a in assignments)
    # Exactly one assignment is open past its due time.
    open_ = {S.DISPATCHED, S.RETURN_REQUESTED, S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED}
    assert len([a for a in assignments if a.status in open_ and a.due_at < now]) == 1
    # Nothing is simulated in the future, and no deadline leaves the covered calendar.
    assert all(t.received_at <= now for t in tickets)
    for a in assignments:
        assert a.dispatched_at <= now
        assert max(a.sign_by, a.return_by, a.due_at).year <= 2026

    ids = [a.id for a in assignments]
    async with engine.connect() as conn:
        returns = (
            await conn.execute(
                select(ReturnRequest.decision).where(ReturnRequest.assignment_id.in_(ids))
            )
        ).scalars()
        extensions = (
            await conn.execute(
                select(ExtensionRequest.decision).where(ExtensionRequest.assignment_id.in_(ids))
            )
        ).scalars()
    assert Counter(d and d.value for d in returns) == {None: 1, "APPROVED": 1, "REJECTED": 1}
    assert list(extensions) == [None]  # pending


async def test_only_the_drafted_reply_is_hollow(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        replies = (
            await conn.execute(
                select(Reply, Assignment.status.label("assignment_status"))
                .join(Assignment, Assignment.id == Reply.assignment_id)
                .join(Ticket, Ticket.id == Assignment.ticket_id)
                .where(_SCENARIO_TICKET)
            )
        ).all()
    hollow = [r for r in replies if r.lint]
    assert len(hollow) == 1
    assert hollow[0].status == ReplyStatus.DRAFT
    assert hollow[0].assignment_status == S.REPLY_DRAFTED
    assert {f["rule"] for f in hollow[0].lint} >= {"CONTACTED_AND_EXPLAINED"}
    for r in replies:
        if r is not hollow[0]:
            assert not any(lint_reply(x) for x in (r.text, r.communication, r.handling))
    assert {r.status for r in replies} == set(ReplyStatus)


async def test_every_demo_ticket_has_its_history_from_creation(engine: AsyncEngine) -> None:
    tickets = {t.id: t for t in await _tickets(engine)}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Event.ticket_id, Event.type, Event.actor)
                .where(Event.ticket_id.in_(tickets))
                .order_by(Event.id)
            )
        ).all()
    history: dict[int | None, list[str]] = {}
    for ticket_id, type_, actor in rows:
        history.setdefault(ticket_id, []).append(type_)
        assert actor.startswith("user:"), actor  # demo accounts, through the use cases
    assert set(history) == set(tickets)
    for tid, types in history.items():
        assert types[0] == "ticket.created", (tickets[tid].title, types)
        status = tickets[tid].status
        if status != TicketStatus.NEW:
            assert "ticket.dispatched" in types
        if status == TicketStatus.ARCHIVED:
            assert types[-1] == "ticket.archived"
    flattened = [t for types in history.values() for t in types]
    for expected in (
        "assignment.return_requested",
        "assignment.return_rejected",
        "assignment.return_approved",
        "assignment.extension_requested",
        "reply.sent_back",
        "ticket.replied",
        "ticket.callback_recorded",
        "ticket.redo",
        "ticket.closed",
    ):
        assert expected in flattened


async def test_reseeding_creates_no_demo_tickets(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(Ticket))).scalar_one()
    assert (await run_seed(engine, demo=True))["demo_tickets"] == 0
    assert await seed_demo_tickets(engine) == 0
    async with engine.connect() as conn:
        after = (await conn.execute(select(func.count()).select_from(Ticket))).scalar_one()
    assert after == before


async def _forget_demo_tickets(engine: AsyncEngine) -> None:
    """The seed then finds no demo ticket (events cannot be deleted, so none are)."""
    async with engine.begin() as conn:
        await conn.execute(update(Ticket).values(demo=False))


async def test_concurrent_seeds_create_the_demo_tickets_once(engine: AsyncEngine) -> None:
    await _forget_demo_tickets(engine)
    results = await asyncio.gather(seed_demo_tickets(engine), seed_demo_tickets(engine))
    assert sorted(results) == [0, len(SCENARIOS)]
    assert len(await _tickets(engine)) == len(SCENARIOS)


async def test_seeding_after_2026_keeps_deadlines_in_the_covered_calendar(
    engine: AsyncEngine,
) -> None:
    await _forget_demo_tickets(engine)
    assert await seed_demo_tickets(engine, now=datetime(2027, 3, 1, 9, 0, tzinfo=TZ)) == len(
        SCENARIOS
    )
    assignments = await _assignments(engine)
    assert {a.status for a in assignments} == set(AssignmentStatus)
    for a in assignments:
        assert max(a.sign_by, a.return_by, a.due_at) < datetime(2027, 1, 1, tzinfo=TZ)
