"""Notices (通报, regulation §7(1) and §7(3)1; issue #6) through the use case and the read side.

1. Who may publish: the centre's supervisors and administrators, in their own centre only; a
   refusal is answered as a centre that does not exist and writes nothing.
2. What a notice may name: the centre's own member units and its own tickets; anything else is
   answered as missing (typed error) and nothing is written.
3. Who reads: the centre's staff, and the staff of the units a notice names — not the units it
   does not name, not other centres (read-down does not widen notices).
4. The list: filters (centre, kind, from/to, unit) and keyset paging, newest first.

The ``World`` and its helpers are shared with ``test_accountability.py`` and
``test_analysis.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz import centre_domain, unit_domain
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.assessment import notices as ns
from domain.assessment.notice_models import Notice, NoticeKind, NoticeTicket, NoticeUnit
from domain.calendar import TZ
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events import Event
from domain.referral import service as referral
from domain.registry.models import Unit
from domain.tickets import service as ts
from domain.tickets.models import Channel, OriginLevel
from domain.uow import UnitOfWork

CITY, SHUYANG, SIYANG = "3213", "321322", "321323"
CGJ = "市城管局"  # city member: cgj.handler, cgj.leader
ZJJ = "市住房城乡建设局"  # city member
SHUYANG_UNIT = "沭阳县"  # the county's face among the city's members
SHUYANG_CGJ = "沭阳县城管局"  # member of the county centre 321322: shuyang.cgj.handler
SHUYANG_ZJJ = "沭阳县住房城乡建设局"  # its peer in 321322: shuyang.zjj.handler
SIYANG_CGJ = "泗阳县城管局"  # member of 321323: siyang.cgj.handler
UNIT_NAMES = (CGJ, ZJJ, SHUYANG_UNIT, SHUYANG_CGJ, SHUYANG_ZJJ, SIYANG_CGJ)

USERS = (
    "admin",
    "city.supervisor",
    "city.dispatcher",
    "city.leader",
    "city.reviewer",
    "shuyang.admin",
    "shuyang.supervisor",
    "shuyang.dispatcher",
    "siyang.supervisor",
    "cgj.handler",
    "cgj.leader",
    "shuyang.cgj.handler",
    "shuyang.zjj.handler",
    "siyang.cgj.handler",
)

NO_SUCH_ID = 2_000_000_000


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A time in 2026, Asia/Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


NOW = at(11, 20, 10)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    people: dict[str, Principal]
    units: dict[str, int]

    def p(self, username: str) -> Principal:
        return self.people[username]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer)


async def load_units(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        rows = (await s.execute(select(Unit.name, Unit.id).where(Unit.name.in_(UNIT_NAMES)))).all()
    units = {name: uid for name, uid in rows}
    assert len(rows) == len(units) and set(units) == set(UNIT_NAMES), rows
    return units


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer, principal: Any
) -> World:
    people = {u: await principal(u) for u in USERS}
    return World(sessions, enforcer, people, await load_units(sessions))


async def new_ticket(
    w: World,
    by: str = "city.dispatcher",
    *,
    now: datetime = NOW - timedelta(days=3),
    category: str = "CM.STREET_LIGHTS",
    division: str | None = None,
    title: str = "幸福路路灯不亮",
) -> int:
    t = await ts.create_ticket(
        uow=w.uow(),
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code=category,
            title=title,
            content="幸福路与洪泽湖路交叉口路灯连续三晚不亮。",
            division_code=division,
            complainant_name="李四",
            complainant_phone="13812341234",
        ),
        now=now,
    )
    return t.id


async def dispatch(
    w: World, ticket_id: int, unit: str, *, by: str = "city.dispatcher", now: datetime
) -> None:
    await ts.dispatch_ticket(
        uow=w.uow(), actor=w.p(by), ticket_id=ticket_id, lead_unit_id=w.units[unit], now=now
    )


SNAPSHOT_TABLES = (
    "notice",
    "notice_ticket",
    "notice_unit",
    "accountability_referral",
    "accountability_ticket",
    "event",
    "idempotency_key",
)


async def snapshot(w: World) -> dict[str, Any]:
    """Every notice and referral row and every event: a refusal leaves all of it as it was."""
    out: dict[str, Any] = {}
    async with w.sessions() as s:
        for table in SNAPSHOT_TABLES:
            out[table] = (
                await s.execute(
                    text(f"SELECT coalesce(json_agg(t ORDER BY t::text), '[]') FROM {table} t")
                )
            ).scalar_one()
    return out


async def refused(call: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        await call
    return info.value


def shape(exc: DomainError) -> tuple[type[DomainError], str | None]:
    return type(exc), exc.field


# ---- helpers of this file ------------------------------------------------------------------------
async def publish(
    w: World,
    by: str = "city.supervisor",
    *,
    centre: str = CITY,
    kind: NoticeKind = NoticeKind.WEEKLY,
    title: str = "第47周一网事件办理情况周报",
    body: str = "本周典型案例：幸福路路灯连续三晚不亮，市城管局当日修复。",
    units: Sequence[int] = (),
    tickets: Sequence[int] = (),
    now: datetime = NOW,
) -> Notice:
    return await ns.publish_notice(
        uow=w.uow(),
        actor=w.p(by),
        centre_code=centre,
        kind=kind,
        title=title,
        body=body,
        unit_ids=list(units),
        ticket_ids=list(tickets),
        now=now,
    )


async def visible(w: World, username: str, **filters: Any) -> list[int]:
    async with w.sessions() as s:
        page = await ns.list_notices(s, w.p(username).scope, ns.NoticeFilter(**filters), 100, None)
    assert not page.has_next
    return [n.id for n in page.items]


# ---- 1. publishing -----------------------------------------------------------------------------
async def test_a_supervisor_publishes_a_notice_with_its_event(w: World) -> None:
    tid = await new_ticket(w)
    n = await publish(w, units=[w.units[CGJ], w.units[CGJ]], tickets=[tid])
    async with w.sessions() as s:
        row = await s.get(Notice, n.id)
        assert row is not None
        assert (row.centre_code, row.kind, row.published_by) == (
            CITY,
            NoticeKind.WEEKLY,
            "user:city.supervisor",
        )
        assert row.published_at == NOW
        units = await s.execute(select(NoticeUnit.unit_id).where(NoticeUnit.notice_id == n.id))
        assert list(units.scalars()) == [w.units[CGJ]]  # named once
        tickets = await s.execute(
            select(NoticeTicket.ticket_id).where(NoticeTicket.notice_id == n.id)
        )
        assert list(tickets.scalars()) == [tid]
        (ev,) = (
            await s.execute(
                select(Event).where(Event.entity_type == "notice", Event.entity_id == str(n.id))
            )
        ).scalars()
    assert ev.type == "notice.published"
    assert ev.actor == "user:city.supervisor"
    assert ev.domains == sorted([centre_domain(CITY), unit_domain(w.units[CGJ])])
    assert ev.after is not None and ev.after["unitIds"] == [w.units[CGJ]]
    assert ev.after["ticketIds"] == [tid]


@pytest.mark.parametrize("kind", list(NoticeKind))
async def test_every_kind_is_accepted(w: World, kind: NoticeKind) -> None:
    n = await publish(w, kind=kind, units=[w.units[CGJ], w.units[ZJJ]])
    assert n.kind == kind


async def test_the_centre_admin_publishes_too(w: World) -> None:
    n = await publish(w, "admin", kind=NoticeKind.SPECIAL)
    assert n.centre_code == CITY
    n2 = await publish(w, "shuyang.admin", centre=SHUYANG)
    assert n2.centre_code == SHUYANG


@pytest.mark.parametrize(
    ("by", "centre"),
    [
        ("city.dispatcher", CITY),  # reads notices, does not publish
        ("city.leader", CITY),
        ("cgj.leader", CITY),  # a unit
        ("shuyang.supervisor", CITY),  # another centre
        ("city.supervisor", SHUYANG),  # supervising does not reach down
        ("city.supervisor", "999999"),  # no such centre
    ],
)
async def test_who_may_not_publish_gets_not_found_and_nothing_changes(
    w: World, by: str, centre: str
) -> None:
    before = await snapshot(w)
    exc = await refused(publish(w, by, centre=centre))
    assert shape(exc) == (NotFound, "centreCode")
    assert await snapshot(w) == before


# ---- 2. what a notice may name -----------------------------------------------------------------
async def test_units_and_tickets_must_be_the_centres_own(w: World) -> None:
    county_ticket = await new_ticket(w, "shuyang.dispatcher", division="321322001")
    city_ticket = await new_ticket(w)
    before = await snapshot(w)
    cases: list[tuple[dict[str, Any], tuple[type[DomainError], str | None]]] = [
        ({"units": [NO_SUCH_ID]}, (NotFound, "unitIds")),
        ({"units": [w.units[CGJ], w.units[SHUYANG_CGJ]]}, (NotFound, "unitIds")),  # a county unit
        ({"units": [w.units[SIYANG_CGJ]]}, (NotFound, "unitIds")),
        ({"tickets": [NO_SUCH_ID]}, (NotFound, "ticketIds")),
        ({"tickets": [city_ticket, county_ticket]}, (NotFound, "ticketIds")),  # the county's
        ({"title": "  "}, (InvalidInput, "title")),
        ({"body": ""}, (InvalidInput, "body")),
        ({"kind": NoticeKind.MONTHLY_RANKING}, (InvalidInput, "unitIds")),  # ranks no unit
    ]
    for kwargs, expected in cases:
        exc = await refused(publish(w, **kwargs))
        assert shape(exc) == expected, kwargs
    assert await snapshot(w) == before
    # The county publishes its own ticket and member.
    n = await publish(
        w,
        "shuyang.supervisor",
        centre=SHUYANG,
        units=[w.units[SHUYANG_CGJ]],
        tickets=[county_ticket],
    )
    assert n.centre_code == SHUYANG


async def test_a_city_ticket_referred_to_the_county_is_the_countys_to_name(w: World) -> None:
    """A referral the county received and dispatched to its own member is its own case."""
    tid = await new_ticket(w, division="321322001")
    await dispatch(w, tid, SHUYANG_UNIT, now=NOW - timedelta(days=3))
    # Not yet dispatched on by the county: not its own.
    exc = await refused(publish(w, "shuyang.supervisor", centre=SHUYANG, tickets=[tid]))
    assert shape(exc) == (NotFound, "ticketIds")
    async with w.sessions() as s:
        (aid,) = (
            await s.execute(text("SELECT id FROM assignment WHERE ticket_id = :t"), {"t": tid})
        ).scalars()
    await ts.sign_for(
        uow=w.uow(), actor=w.p("shuyang.dispatcher"), assignment_id=aid, now=NOW - timedelta(days=3)
    )
    await referral.dispatch_referral(
        uow=w.uow(),
        actor=w.p("shuyang.dispatcher"),
        assignment_id=aid,
        lead_unit_id=w.units[SHUYANG_CGJ],
        now=NOW - timedelta(days=3),
    )
    n = await publish(w, "shuyang.supervisor", centre=SHUYANG, tickets=[tid])
    assert n.centre_code == SHUYANG


# ---- 3. who reads ------------------------------------------------------------------------------
async def test_the_centres_staff_and_the_named_units_read_a_notice(w: World) -> None:
    cgj_named = await publish(w, units=[w.units[CGJ]], now=NOW)
    zjj_named = await publish(w, units=[w.units[ZJJ]], now=NOW + timedelta(minutes=1))
    plain = await publish(w, now=NOW + timedelta(minutes=2))
    county = await publish(
        w,
        "shuyang.supervisor",
        centre=SHUYANG,
        units=[w.units[SHUYANG_CGJ]],
        now=NOW + timedelta(minutes=3),
    )
    city_all = [plain.id, zjj_named.id, cgj_named.id]  # newest first
    for staff in ("city.supervisor", "city.dispatcher", "city.leader", "city.reviewer", "admin"):
        assert await visible(w, staff) == city_all, staff
    assert await visible(w, "cgj.handler") == [cgj_named.id]
    assert await visible(w, "cgj.leader") == [cgj_named.id]
    # The county's own notice: its staff and the named member; not its peer, not the city (read
    # down does not widen notices), not another county.
    assert await visible(w, "shuyang.supervisor") == [county.id]
    assert await visible(w, "shuyang.dispatcher") == [county.id]
    assert await visible(w, "shuyang.cgj.handler") == [county.id]
    assert await visible(w, "shuyang.zjj.handler") == []
    assert await visible(w, "siyang.supervisor") == []
    assert await visible(w, "siyang.cgj.handler") == []
    async with w.sessions() as s:
        got = await ns.notices_by_id(
            s, w.p("cgj.handler").scope, [zjj_named.id, cgj_named.id, county.id]
        )
    assert [n.id if n else None for n in got] == [None, cgj_named.id, None]


# ---- 4. the list ---------------------------------------------------------------------------------
async def test_filters_and_paging(w: World) -> None:
    ids = []
    for i in range(5):
        kind = NoticeKind.SPECIAL if i % 2 else NoticeKind.WEEKLY
        n = await publish(
            w, kind=kind, units=[w.units[CGJ]] if i < 2 else [], now=NOW + timedelta(days=i)
        )
        ids.append(n.id)
    newest_first = ids[::-1]
    assert await visible(w, "city.supervisor") == newest_first
    assert await visible(w, "city.supervisor", kind=NoticeKind.SPECIAL) == [ids[3], ids[1]]
    assert await visible(
        w,
        "city.supervisor",
        published_from=NOW + timedelta(days=1),
        published_to=NOW + timedelta(days=3),
    ) == [ids[2], ids[1]]
    assert await visible(w, "city.supervisor", unit_id=w.units[CGJ]) == [ids[1], ids[0]]
    assert await visible(w, "city.supervisor", centre_code=SHUYANG) == []
    scope = w.p("city.supervisor").scope
    seen: list[int] = []
    after = None
    async with w.sessions() as s:
        while True:
            page = await ns.list_notices(s, scope, ns.NoticeFilter(), 2, after)
            assert page.total == 5
            seen += [n.id for n in page.items]
            if not page.has_next:
                break
            after = page.cursors[-1]
    assert seen == newest_first


# ---- 5. over HTTP --------------------------------------------------------------------------------
PUBLISH = """
mutation($input: PublishNoticeInput!) {
  publishNotice(input: $input) {
    notice { id centreCode kind title units { name } tickets { id } }
    errors { __typename code field }
  }
}"""

NOTICES = """
query($filter: NoticeFilter) {
  notices(filter: $filter, first: 10) {
    totalCount
    nodes { id kind title units { name } tickets { id } }
  }
}"""


async def test_publish_and_read_over_http(w: World, new_client: Any) -> None:
    from api.relay import to_global_id

    tid = await new_ticket(w)
    sup, unit, county = new_client(), new_client(), new_client()
    await sup.login("city.supervisor")
    variables = {
        "input": {
            "centreCode": CITY,
            "kind": "SPECIAL",
            "title": "关于幸福路路灯问题的专报",
            "body": "市城管局当日修复，群众满意。",
            "unitIds": [to_global_id("Unit", w.units[CGJ])],
            "ticketIds": [to_global_id("Ticket", tid)],
            "idempotencyKey": "notice-e2e-1",
        }
    }
    first = (await sup.data(PUBLISH, variables))["publishNotice"]
    assert first["errors"] == []
    notice = first["notice"]
    assert (notice["centreCode"], notice["kind"]) == (CITY, "SPECIAL")
    assert notice["units"] == [{"name": CGJ}]
    assert notice["tickets"] == [{"id": to_global_id("Ticket", tid)}]
    # The same key replays the first result; nothing new is published.
    again = (await sup.data(PUBLISH, variables))["publishNotice"]
    assert again["notice"]["id"] == notice["id"]
    # A county unit: a typed error, nothing published.
    bad = {
        "input": {
            **variables["input"],
            "unitIds": [to_global_id("Unit", w.units[SHUYANG_CGJ])],
            "idempotencyKey": None,
        }
    }
    payload = (await sup.data(PUBLISH, bad))["publishNotice"]
    assert payload == {
        "notice": None,
        "errors": [{"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "unitIds"}],
    }
    listed = (await sup.data(NOTICES, {"filter": {"kind": "SPECIAL"}}))["notices"]
    assert listed["totalCount"] == 1 and listed["nodes"][0]["id"] == notice["id"]
    await unit.login("cgj.handler")
    seen = (await unit.data(NOTICES, {"filter": None}))["notices"]
    assert [n["id"] for n in seen["nodes"]] == [notice["id"]]
    await county.login("shuyang.supervisor")
    assert (await county.data(NOTICES, {"filter": None}))["notices"]["totalCount"] == 0
    got = await county.data("query($id: ID!) { notice(id: $id) { id } }", {"id": notice["id"]})
    assert got == {"notice": None}
    node = "query($id: ID!) { node(id: $id) { id ... on Notice { title } } }"
    assert await county.data(node, {"id": notice["id"]}) == {"node": None}
    assert (await unit.data(node, {"id": notice["id"]}))["node"]["id"] == notice["id"]
