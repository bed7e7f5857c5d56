"""The demo referrals and supervision cases (``--demo``, seeds.demo_referrals), made once.

The template database is seeded with ``demo=True`` (conftest), so every test starts from it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.calendar import TZ
from domain.events import Event
from domain.registry.models import Unit
from domain.supervision import queries as sq
from domain.supervision.models import (
    CaseUnitRole,
    Grounds,
    SupervisionCase,
    SupervisionForm,
    SupervisionOutcome,
    SupervisionResponse,
    SupervisionStatus,
    SupervisionTicket,
    SupervisionUnit,
)
from domain.tickets import queries as tq
from domain.tickets.models import Assignment, AssignmentStatus, Ticket, TicketStatus
from seeds import run_seed
from seeds.demo_referrals import seed_demo_referrals
from seeds.demo_tickets import seed_demo_tickets

S = AssignmentStatus
St = SupervisionStatus
CITY, SHUYANG, SHUCHENG = "3213", "321322", "321322001"
CHAIN = ("沭阳县", "沭城街道", "沭城街道社区服务办")
NEW_TICKETS, NEW_CASES = 4, 5

# A demo ticket referred down: one of its assignments goes to a unit that stands for a centre.
_REFERRED = Ticket.demo.is_(True) & Ticket.id.in_(
    select(Assignment.ticket_id)
    .join(Unit, Unit.id == Assignment.unit_id)
    .where(Unit.represents.is_not(None))
)


async def _chains(engine: AsyncEngine) -> dict[int, tuple[Any, list[Any]]]:
    """Referred demo tickets: ticket id -> (ticket, its assignments top down, with unit names)."""
    async with engine.connect() as conn:
        tickets = {t.id: t for t in (await conn.execute(select(Ticket).where(_REFERRED))).all()}
        rows = (
            await conn.execute(
                select(Assignment, Unit.name.label("unit_name"))
                .join(Unit, Unit.id == Assignment.unit_id)
                .where(Assignment.ticket_id.in_(tickets))
                .order_by(Assignment.id)
            )
        ).all()
    hops: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        hops[r.ticket_id].append(r)
    return {tid: (t, hops[tid]) for tid, t in tickets.items()}


def _shape(assignments: list[Any]) -> list[tuple[str, str, S]]:
    return [(a.unit_name, a.centre_code, a.status) for a in assignments]


async def test_each_referral_situation_is_seeded(engine: AsyncEngine) -> None:
    chains = await _chains(engine)
    shapes = {tid: _shape(hops) for tid, (_t, hops) in chains.items()}
    to_sign = [t for t, sh in shapes.items() if sh == [("沭阳县", CITY, S.DISPATCHED)]]
    to_dispatch = [t for t, sh in shapes.items() if sh == [("沭阳县", CITY, S.HANDLING)]]
    three = [(CHAIN[0], CITY), (CHAIN[1], SHUYANG), (CHAIN[2], SHUCHENG)]
    waiting = (S.HANDLING, S.HANDLING, S.REPLY_SUBMITTED)
    at_township = [
        t
        for t, sh in shapes.items()
        if sh == [(*h, st) for h, st in zip(three, waiting, strict=True)]
    ]
    climbed = [t for t, sh in shapes.items() if sh == [(*h, S.ACCEPTED) for h in three]]
    assert [len(x) for x in (to_sign, to_dispatch, at_township, climbed)] == [1, 1, 1, 1], shapes
    assert len(chains) == NEW_TICKETS

    for tid, (t, hops) in chains.items():
        assert t.centre_code == CITY
        # Each hop serves the one above; a lower hop never gets more time than the one above.
        for upper, lower in pairwise(hops):
            assert lower.parent_id == upper.id
            assert lower.due_at <= upper.due_at
            assert max(lower.sign_by, lower.return_by) <= upper.due_at
        assert hops[0].parent_id is None
        for a in hops:
            assert max(a.sign_by, a.return_by, a.due_at).year <= 2026
        expected = TicketStatus.REPLIED if tid in climbed else TicketStatus.IN_PROGRESS
        assert t.status == expected
    [replied] = climbed
    assert chains[replied][0].satisfaction is None  # the callback is due

    # The queues the front end shows: each centre sees its own part.
    async with AsyncSession(engine) as s:

        async def queue(centre: str, kind: tq.QueueKind) -> set[tuple[int, int | None]]:
            page = await tq.centre_queue(s, frozenset({centre}), kind, 100, None)
            return {(t.id, a.id if a else None) for t, a in page.items}

        hop = {tid: hops for tid, (_t, hops) in chains.items()}
        assert (to_sign[0], hop[to_sign[0]][0].id) in await queue(
            SHUYANG, tq.QueueKind.REFERRALS_TO_SIGN
        )
        assert (to_dispatch[0], hop[to_dispatch[0]][0].id) in await queue(
            SHUYANG, tq.QueueKind.REFERRALS_TO_DISPATCH
        )
        leaf = hop[at_township[0]][2].id
        assert (at_township[0], leaf) in await queue(SHUCHENG, tq.QueueKind.REPLIES_TO_REVIEW)
        assert (at_township[0], leaf) not in await queue(SHUYANG, tq.QueueKind.REPLIES_TO_REVIEW)
        assert (replied, None) in await queue(CITY, tq.QueueKind.CALLBACKS_DUE)


async def test_the_referrals_have_their_history_from_the_use_cases(engine: AsyncEngine) -> None:
    chains = await _chains(engine)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Event.ticket_id, Event.type, Event.actor)
                .where(Event.ticket_id.in_(chains))
                .order_by(Event.id)
            )
        ).all()
    history: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for tid, type_, actor in rows:
        assert tid is not None
        history[tid].append((type_, actor))
    assert set(history) == set(chains)
    for types in history.values():
        assert types[0] == ("ticket.created", "user:city.dispatcher")
        assert all(actor.startswith("user:") for _t, actor in types)
    flattened = {e for types in history.values() for e in types}
    for expected in (
        ("assignment.signed", "user:shuyang.dispatcher"),
        ("referral.dispatched", "user:shuyang.dispatcher"),
        ("assignment.signed", "user:shucheng.dispatcher"),
        ("referral.dispatched", "user:shucheng.dispatcher"),
        ("reply.submitted", "user:shucheng.sqb.leader"),
        ("reply.forwarded", "user:shucheng.dispatcher"),
        ("reply.forwarded", "user:shuyang.dispatcher"),
        ("ticket.replied", "user:city.dispatcher"),
    ):
        assert expected in flattened


async def _cases(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        cases = (await conn.execute(select(SupervisionCase).order_by(SupervisionCase.id))).all()
        units: dict[int, dict[str, CaseUnitRole]] = defaultdict(dict)
        for case_id, name, role in await conn.execute(
            select(SupervisionUnit.case_id, Unit.name, SupervisionUnit.role).join(
                Unit, Unit.id == SupervisionUnit.unit_id
            )
        ):
            units[case_id][name] = role
        tickets: dict[int, list[Any]] = defaultdict(list)
        for t in await conn.execute(
            select(SupervisionTicket.case_id, Ticket.id, Ticket.demo, Ticket.centre_code).join(
                Ticket, Ticket.id == SupervisionTicket.ticket_id
            )
        ):
            tickets[t.case_id].append(t)
        responded: dict[int, set[str]] = defaultdict(set)
        for case_id, name in await conn.execute(
            select(SupervisionResponse.case_id, Unit.name).join(
                Unit, Unit.id == SupervisionResponse.unit_id
            )
        ):
            responded[case_id].add(name)
    return [
        {
            "case": c,
            "units": units[c.id],
            "tickets": tickets[c.id],
            "responded": responded[c.id],
        }
        for c in cases
    ]


def _one(cases: list[dict[str, Any]], **want: Any) -> dict[str, Any]:
    found = [x for x in cases if all(getattr(x["case"], k) == v for k, v in want.items())]
    assert len(found) == 1, (want, [x["case"] for x in cases])
    return found[0]


async def test_each_supervision_situation_is_seeded(engine: AsyncEngine) -> None:
    cases = await _cases(engine)
    assert len(cases) == NEW_CASES

    # The city over 市城管局: open, daily, unexplained delay, about one of the city's tickets.
    c = _one(cases, centre_code=CITY, status=St.OPEN, form=SupervisionForm.DAILY_ONLINE)
    assert c["units"] == {"市城管局": CaseUnitRole.TARGET}
    assert c["case"].grounds == [Grounds.LATE_WITHOUT_REASON.value]
    [t] = c["tickets"]
    assert t.demo and t.centre_code == CITY
    assert not c["responded"]

    # Several units: one lead, the others co-units.
    c = _one(cases, centre_code=CITY, form=SupervisionForm.ONSITE_COORDINATION)
    assert c["units"] == {"市水务集团": CaseUnitRole.LEAD, "市住房城乡建设局": CaseUnitRole.CO}
    assert c["case"].status == St.OPEN
    assert [t.centre_code for t in c["tickets"]] == [CITY]

    # 沭阳县 over its own department: responded.
    c = _one(cases, centre_code=SHUYANG, status=St.RESPONDED)
    assert c["units"] == {"沭阳县城管局": CaseUnitRole.TARGET}
    assert c["responded"] == {"沭阳县城管局"}
    assert [t.centre_code for t in c["tickets"]] == [SHUYANG]

    # Closed as resolved, after the unit's response.
    c = _one(cases, status=St.CLOSED)
    assert (c["case"].centre_code, c["case"].outcome) == (SHUYANG, SupervisionOutcome.RESOLVED)
    assert c["responded"] == set(c["units"]) == {"沭阳县住房城乡建设局"}

    # A township's case, reported to 沭阳县 (专报).
    c = _one(cases, centre_code=SHUCHENG)
    assert (c["case"].form, c["case"].escalated_to) == (SupervisionForm.SPECIAL_REPORT, SHUYANG)
    assert c["case"].status == St.OPEN
    assert c["units"] == {"沭城街道社区服务办": CaseUnitRole.TARGET}

    for x in cases:
        assert x["case"].deadline < datetime(2027, 1, 1, tzinfo=TZ)
        assert x["case"].opened_at < x["case"].deadline


async def test_each_level_sees_its_own_demo_cases(
    sessions: async_sessionmaker[AsyncSession], principal: Any
) -> None:
    seen: dict[str, set[tuple[str, str | None]]] = {}
    for who in ("city.supervisor", "shuyang.supervisor", "shucheng.dispatcher", "cgj.handler"):
        p = await principal(who)
        async with sessions() as s:
            page = await sq.list_cases(s, p.scope, sq.SupervisionFilter(), 100, None)
        seen[who] = {(c.centre_code, c.escalated_to) for c in page.items}
    assert seen["city.supervisor"] == {(CITY, None)}
    assert seen["shuyang.supervisor"] == {(SHUYANG, None), (SHUCHENG, SHUYANG)}
    assert seen["shucheng.dispatcher"] == {(SHUCHENG, SHUYANG)}
    assert seen["cgj.handler"] == {(CITY, None)}


async def _counts(engine: AsyncEngine) -> tuple[int, ...]:
    async with engine.connect() as conn:
        return tuple(
            [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (Ticket, Assignment, SupervisionCase, SupervisionResponse, Event)
            ]
        )


async def test_reseeding_adds_nothing(engine: AsyncEngine) -> None:
    before = await _counts(engine)
    assert await seed_demo_referrals(engine) == 0
    assert (await run_seed(engine, demo=True))["demo_referrals"] == 0
    assert await _counts(engine) == before


async def _forget_referrals(engine: AsyncEngine) -> None:
    """The seed then finds no demo referral (events cannot be deleted, so nothing is)."""
    async with engine.begin() as conn:
        await conn.execute(update(Ticket).where(_REFERRED).values(demo=False))


async def test_concurrent_seeds_create_the_referrals_once(engine: AsyncEngine) -> None:
    await _forget_referrals(engine)
    cases = len(await _cases(engine))
    results = await asyncio.gather(seed_demo_referrals(engine), seed_demo_referrals(engine))
    assert sorted(results) == [0, NEW_TICKETS + NEW_CASES]
    assert len(await _chains(engine)) == NEW_TICKETS
    assert len(await _cases(engine)) == cases + NEW_CASES


async def test_seeding_after_2026_keeps_deadlines_in_the_covered_calendar(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(Ticket).values(demo=False))
        known = (await conn.execute(select(func.max(SupervisionCase.id)))).scalar_one()
    later = datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
    assert await seed_demo_tickets(engine, now=later) > 0
    assert await seed_demo_referrals(engine, now=later) == NEW_TICKETS + NEW_CASES
    chains = await _chains(engine)
    assert len(chains) == NEW_TICKETS
    for _t, hops in chains.values():
        for a in hops:
            assert max(a.sign_by, a.return_by, a.due_at) < datetime(2027, 1, 1, tzinfo=TZ)
    new = [x for x in await _cases(engine) if x["case"].id > known]
    assert len(new) == NEW_CASES
    for x in new:
        assert x["case"].deadline < datetime(2027, 1, 1, tzinfo=TZ)
    # The cases link the freshly seeded demo tickets.
    assert all(t.demo for x in new for t in x["tickets"])
