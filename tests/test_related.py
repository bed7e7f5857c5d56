"""Repeat complaints (§4(5)6 "避免市民重复反映"; issue #6) against the real PostgreSQL.

1. Each rule links at intake, inside create_ticket's transaction (and a non-match does not):
   same phone, same address + category within the window, near-identical text.
2. The reason is shown and the link is seen from both tickets; its event names no phone.
3. Visibility: a county never learns anything of another county's ticket (not listed, not
   counted, no event tagged for it); the city with read-down sees both sides.
4. A dispatcher links and unlinks by hand: events, typed errors, nothing changed on refusal.
5. End to end over HTTP: related, repeatCount, linkTickets/unlinkTickets; the list query does
   not go N+1.

Use-case calls pass explicit times in November 2026 (Asia/Shanghai). Every test uses its own
phones, addresses and texts, so the demo tickets of the template never match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQLClient, StatementCounter
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.analysis import linking as al
from domain.analysis.models import LinkReason, MatchKind, TicketLink, TicketMatchKey
from domain.calendar import TZ
from domain.errors import DomainError, InvalidInput, NotFound, NotPermitted
from domain.events import Event
from domain.registry import service as registry
from domain.registry.models import Unit
from domain.registry.visibility import visibility
from domain.tickets import service as ts
from domain.tickets.models import Channel, OriginLevel, Ticket
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

CITY, SHUYANG, SIYANG = "3213", "321322", "321323"
SIYANG_DISPATCHER = "test.siyang.dispatcher"
USERS = ("city.dispatcher", "city.leader", "shuyang.dispatcher", "siyang.admin", "cgj.handler")

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)

NOISE = (
    "烧烤摊夜间扰民",
    "幸福小区东门有烧烤摊每天晚上十点后仍在营业，油烟和噪音严重扰民，请相关部门尽快处理。",
)
NOISE_RETOLD = (
    "烧烤摊夜间扰民",
    "幸福小区东门有烧烤摊每天晚上十点以后还在营业，油烟和噪音严重扰民，请相关部门尽快处理！",
)
WATER = ("幸福小区停水", "从今天早上开始停水，没有任何通知，家里老人孩子用水困难，请尽快恢复。")
LIGHTS = ("路灯不亮", "运河路与人民大道交叉口往北一段路灯已经连续一周不亮，夜间行人很不安全。")
POTHOLE = ("道路坑洼", "青年路靠近第三小学门口的路面有一个大坑，下雨天积水，电动车经过容易摔倒。")
BUS = ("公交改线", "希望恢复十二路公交车原来经过洋河新区的线路，现在上班要多走两公里路。")


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    people: dict[str, Principal]

    def p(self, username: str) -> Principal:
        return self.people[username]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer)


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer, principal: Any
) -> World:
    people = {u: await principal(u) for u in USERS}
    world = World(sessions, enforcer, people)
    await registry.create_staff(
        uow=world.uow(),
        actor=world.p("siyang.admin"),
        username=SIYANG_DISPATCHER,
        display_name="泗阳县派单员（测试）",
        password="yiwang-demo",
        centre_code=SIYANG,
        roles=["dispatcher"],
    )
    world.people[SIYANG_DISPATCHER] = await principal(SIYANG_DISPATCHER)
    return world


async def new(
    w: World,
    by: str,
    text: tuple[str, str],
    *,
    phone: str | None = None,
    address: str | None = None,
    category: str = "CM.CATERING_FUMES",
    anonymous: bool = False,
    days: float = 0,
    centre: str | None = None,
) -> Ticket:
    at = T0 + timedelta(days=days)
    return await ts.create_ticket(
        uow=w.uow(),
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=OriginLevel.CITY,
            category_code=category,
            title=text[0],
            content=text[1],
            address=address,
            complainant_name=None if anonymous or phone else "王先生",
            complainant_phone=phone,
            anonymous=anonymous,
            received_at=at,
            centre_code=centre,
        ),
        now=at,
    )


async def related(w: World, username: str, ticket: Ticket) -> dict[int, list[LinkReason]]:
    """What ``username`` sees as related to the ticket: {ticket id: [reasons]}, in order."""
    async with w.sessions() as s:
        vis = await visibility(s, w.p(username).scope)
        (rels,) = await al.related_by_ticket(s, vis, [ticket.id])
    return {r.ticket.id: [link.reason for link in r.links] for r in rels}


async def links(w: World, *tickets: Ticket) -> list[TicketLink]:
    ids = [t.id for t in tickets]
    async with w.sessions() as s:
        q = select(TicketLink).where(TicketLink.ticket_id.in_(ids), TicketLink.related_id.in_(ids))
        return list((await s.execute(q.order_by(TicketLink.id))).scalars())


async def link_events(w: World, *types: str) -> list[Event]:
    async with w.sessions() as s:
        q = select(Event).where(Event.entity_type == "ticket_link")
        if types:
            q = q.where(Event.type.in_(types))
        return list((await s.execute(q.order_by(Event.id))).scalars())


async def intake_events(w: World, ticket: Ticket) -> list[Event]:
    """The ``ticket.related`` events recorded when the ticket was taken in."""
    async with w.sessions() as s:
        q = select(Event).where(Event.type == "ticket.related", Event.entity_id == str(ticket.id))
        return list((await s.execute(q.order_by(Event.id))).scalars())


async def event_count(w: World) -> int:
    async with w.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Event))).scalar_one())


# ---- 1–2. the three rules ------------------------------------------------------------------------
async def test_same_phone_links_at_intake_seen_from_both_sides(w: World) -> None:
    a = await new(w, "city.dispatcher", NOISE, phone="139-0001-0001")
    b = await new(w, "city.dispatcher", WATER, phone="+8613900010001", days=3)
    c = await new(w, "city.dispatcher", LIGHTS, phone="13900010002", days=4)

    assert await related(w, "city.dispatcher", b) == {a.id: [LinkReason.SAME_PHONE]}
    assert await related(w, "city.dispatcher", a) == {b.id: [LinkReason.SAME_PHONE]}
    assert await related(w, "city.dispatcher", c) == {}

    (link,) = await links(w, a, b, c)
    assert (link.ticket_id, link.related_id) == (b.id, a.id)  # the repeat, the earlier one
    assert link.created_by == al.SYSTEM and link.score == 1.0
    assert link.evidence == {"rule": "SAME_PHONE", "windowDays": 180}
    assert link.created_at == T0 + timedelta(days=3)

    (ev,) = await intake_events(w, b)
    assert ev.actor == "user:city.dispatcher" and ev.entity_type == "ticket"
    assert ev.ticket_id is None and ev.domains == ["centre:3213/"]
    assert ev.after == {
        "ticketId": b.id,
        "related": [{"ticketId": a.id, "reasons": [{"reason": "SAME_PHONE", "score": 1.0}]}],
        "automatic": True,
    }
    assert await intake_events(w, a) == []  # nothing to link a to when it came in
    # Personal data never reaches the events or the keys.
    async with w.sessions() as s:
        dumped = json.dumps([e.after for e in await intake_events(w, b)])
        keys = await s.execute(select(TicketMatchKey).where(TicketMatchKey.ticket_id == b.id))
        key_values = json.dumps([k.key for k in keys.scalars()])
    assert "13900010001" not in dumped and "0001" not in dumped.replace(str(a.id), "")
    assert "13900010001" not in key_values


async def test_same_address_and_category_within_the_window(w: World) -> None:
    a = await new(
        w, "city.dispatcher", NOISE, address="江苏省宿迁市宿城区幸福路88号", anonymous=True
    )
    b = await new(
        w, "city.dispatcher", LIGHTS, address="宿城区 幸福路88号 附近", anonymous=True, days=30
    )
    other_category = await new(
        w,
        "city.dispatcher",
        POTHOLE,
        address="宿城区幸福路88号",
        category="RT.ROAD_DAMAGE",
        anonymous=True,
        days=31,
    )
    # 120 days after a (outside its 90-day window), 90 after b (inside).
    d = await new(w, "city.dispatcher", BUS, address="宿城区幸福路88号", anonymous=True, days=120)

    assert await related(w, "city.dispatcher", b) == {
        d.id: [LinkReason.SAME_ADDRESS_CATEGORY],
        a.id: [LinkReason.SAME_ADDRESS_CATEGORY],
    }
    assert await related(w, "city.dispatcher", other_category) == {}
    assert await related(w, "city.dispatcher", d) == {b.id: [LinkReason.SAME_ADDRESS_CATEGORY]}
    assert await related(w, "city.dispatcher", a) == {b.id: [LinkReason.SAME_ADDRESS_CATEGORY]}


async def test_near_identical_text_links_with_its_similarity(w: World) -> None:
    a = await new(w, "city.dispatcher", NOISE, anonymous=True)
    b = await new(
        w, "city.dispatcher", NOISE_RETOLD, category="CM.CITY_APPEARANCE", anonymous=True, days=5
    )
    unrelated = await new(w, "city.dispatcher", WATER, anonymous=True, days=6)
    too_late = await new(w, "city.dispatcher", NOISE, anonymous=True, days=200)

    assert await related(w, "city.dispatcher", b) == {a.id: [LinkReason.SIMILAR_TEXT]}
    assert await related(w, "city.dispatcher", unrelated) == {}
    assert await related(w, "city.dispatcher", too_late) == {}
    (link,) = await links(w, a, b)
    assert 0.8 <= link.score < 0.9
    assert link.evidence["threshold"] == 0.8 and link.evidence["similarity"] == link.score


async def test_several_rules_one_pair_and_anonymous_never_by_phone(w: World) -> None:
    a = await new(w, "city.dispatcher", NOISE, phone="13900040004", address="宿城区幸福路40号")
    b = await new(
        w, "city.dispatcher", NOISE, phone="13900040004", address="宿城区幸福路40号", days=1
    )
    assert await related(w, "city.dispatcher", b) == {
        a.id: [LinkReason.SAME_PHONE, LinkReason.SAME_ADDRESS_CATEGORY, LinkReason.SIMILAR_TEXT]
    }
    (ev,) = await intake_events(w, b)
    assert ev.after is not None
    assert [r["reason"] for r in ev.after["related"][0]["reasons"]] == [
        "SAME_PHONE",
        "SAME_ADDRESS_CATEGORY",
        "SIMILAR_TEXT",
    ]
    # An anonymous complainant with the same phone is not linked: the link would name them.
    anon = await new(w, "city.dispatcher", BUS, phone="13900040004", anonymous=True, days=2)
    assert await related(w, "city.dispatcher", anon) == {}


# ---- 3. visibility -------------------------------------------------------------------------------
async def test_a_county_never_learns_of_another_countys_ticket(w: World) -> None:
    shuyang = await new(w, "shuyang.dispatcher", NOISE, phone="13900050005")
    siyang = await new(w, SIYANG_DISPATCHER, NOISE_RETOLD, phone="13900050005", days=1)
    # The link exists (the matter is the same) ...
    assert [lk.reason for lk in await links(w, shuyang, siyang)] == [
        LinkReason.SAME_PHONE,
        LinkReason.SIMILAR_TEXT,
    ]
    # ... but neither county sees the other's ticket, nor that it exists.
    assert await related(w, "shuyang.dispatcher", shuyang) == {}
    assert await related(w, SIYANG_DISPATCHER, siyang) == {}
    # The city reads down the chain: it sees both sides.
    assert await related(w, "city.dispatcher", siyang) == {
        shuyang.id: [LinkReason.SAME_PHONE, LinkReason.SIMILAR_TEXT]
    }
    assert set(await related(w, "city.dispatcher", shuyang)) == {siyang.id}
    # The event is audit only: tagged for no centre, in neither ticket's history.
    (ev,) = await intake_events(w, siyang)
    assert ev.domains == [] and ev.ticket_id is None
    assert ev.after is not None and ev.after["related"][0]["ticketId"] == shuyang.id
    # A third ticket, in 沭阳: its links within the county are tagged for the county, the one
    # across counties only in the untagged audit event.
    third = await new(w, "shuyang.dispatcher", BUS, phone="13900050005", days=2)
    assert await related(w, "shuyang.dispatcher", third) == {shuyang.id: [LinkReason.SAME_PHONE]}
    own, across = await intake_events(w, third)
    assert (own.domains, own.ticket_id) == (["centre:321322/"], None)
    assert [r["ticketId"] for r in (own.after or {})["related"]] == [shuyang.id]
    assert (across.domains, across.ticket_id) == ([], None)
    assert [r["ticketId"] for r in (across.after or {})["related"]] == [siyang.id]
    async with w.sessions() as s:
        history = (await s.execute(select(Event).where(Event.ticket_id == shuyang.id))).scalars()
        assert str(siyang.id) not in json.dumps([e.after for e in history])
    # Linking by hand across the boundary: the other county's ticket does not exist for you.
    with pytest.raises(NotFound) as exc:
        await al.link_tickets(
            uow=w.uow(), actor=w.p("shuyang.dispatcher"), ticket_id=shuyang.id, related_id=siyang.id
        )
    assert exc.value.field == "relatedTicketId"


async def test_a_unit_sees_only_the_related_tickets_dispatched_to_it(w: World) -> None:
    """The unit a repeat is dispatched to sees the earlier ticket only if it had it too; the
    link is in no ticket's history, so the ticket's events do not name the other one."""
    earlier = await new(w, "city.dispatcher", NOISE, phone="13900130013")
    repeat = await new(w, "city.dispatcher", NOISE_RETOLD, phone="13900130013", days=1)
    async with w.sessions() as s:
        cgj = (await s.execute(select(Unit.id).where(Unit.name == "市城管局"))).scalar_one()
    at = T0 + timedelta(days=1, hours=1)
    await ts.dispatch_ticket(
        uow=w.uow(), actor=w.p("city.dispatcher"), ticket_id=repeat.id, lead_unit_id=cgj, now=at
    )
    handler = w.p("cgj.handler")
    assert await related(w, "cgj.handler", repeat) == {}
    async with w.sessions() as s:
        history = (await s.execute(select(Event).where(Event.ticket_id == repeat.id))).scalars()
        assert str(earlier.id) not in json.dumps([e.after for e in history])
    # Once the earlier ticket is dispatched to the same unit, it sees the history.
    await ts.dispatch_ticket(
        uow=w.uow(), actor=w.p("city.dispatcher"), ticket_id=earlier.id, lead_unit_id=cgj, now=at
    )
    assert handler.subject == "user:cgj.handler"
    assert await related(w, "cgj.handler", repeat) == {
        earlier.id: [LinkReason.SAME_PHONE, LinkReason.SIMILAR_TEXT]
    }


# ---- 4. by hand ----------------------------------------------------------------------------------
async def test_a_dispatcher_links_and_unlinks_by_hand(w: World) -> None:
    p = await new(w, "city.dispatcher", LIGHTS, phone="13900060006")
    q = await new(w, "city.dispatcher", POTHOLE, phone="13900060007", days=1)
    assert await related(w, "city.dispatcher", p) == {}
    me = w.p("city.dispatcher")
    later = T0 + timedelta(days=2)

    got = await al.link_tickets(
        uow=w.uow(), actor=me, ticket_id=p.id, related_id=q.id, note="同一路段", now=later
    )
    assert got.id == p.id
    assert await related(w, "city.dispatcher", p) == {q.id: [LinkReason.MANUAL]}
    assert await related(w, "city.dispatcher", q) == {p.id: [LinkReason.MANUAL]}
    (link,) = await links(w, p, q)
    assert (link.ticket_id, link.related_id) == (q.id, p.id)
    assert (link.created_by, link.note, link.created_at) == (
        "user:city.dispatcher",
        "同一路段",
        later,
    )
    (ev,) = await link_events(w, "ticket.linked")
    assert (ev.actor, ev.entity_id, ev.ticket_id) == (
        "user:city.dispatcher",
        f"{q.id}:{p.id}",
        None,
    )
    assert ev.domains == ["centre:3213/"]

    with pytest.raises(InvalidTransition):
        await al.link_tickets(uow=w.uow(), actor=me, ticket_id=q.id, related_id=p.id)
    with pytest.raises(InvalidInput) as bad:
        await al.link_tickets(uow=w.uow(), actor=me, ticket_id=p.id, related_id=p.id)
    assert bad.value.field == "relatedTicketId"
    with pytest.raises(InvalidInput) as bad:
        await al.unlink_tickets(uow=w.uow(), actor=me, ticket_id=p.id, related_id=q.id, note=" ")
    assert bad.value.field == "note"

    await al.unlink_tickets(
        uow=w.uow(), actor=me, ticket_id=q.id, related_id=p.id, note="不是同一事项", now=later
    )
    assert await related(w, "city.dispatcher", p) == {}
    (link,) = await links(w, p, q)  # kept, marked removed
    assert (link.removed_by, link.removed_note, link.removed_at) == (
        "user:city.dispatcher",
        "不是同一事项",
        later,
    )
    (ev,) = await link_events(w, "ticket.unlinked")
    assert ev.before == {"ticketId": q.id, "relatedId": p.id, "reasons": ["MANUAL"]}
    with pytest.raises(InvalidTransition):
        await al.unlink_tickets(uow=w.uow(), actor=me, ticket_id=p.id, related_id=q.id, note="x")

    # Linked again: the same row comes back.
    await al.link_tickets(uow=w.uow(), actor=me, ticket_id=p.id, related_id=q.id)
    (link,) = await links(w, p, q)
    assert link.removed_at is None and link.note is None
    assert await related(w, "city.dispatcher", q) == {p.id: [LinkReason.MANUAL]}


async def test_an_automatic_link_is_corrected_by_unlinking(w: World) -> None:
    a = await new(w, "city.dispatcher", NOISE, phone="13900070007")
    b = await new(w, "city.dispatcher", NOISE_RETOLD, phone="13900070007", days=1)
    await al.unlink_tickets(
        uow=w.uow(), actor=w.p("city.dispatcher"), ticket_id=a.id, related_id=b.id, note="家人代报"
    )
    assert await related(w, "city.dispatcher", a) == {}
    assert all(lk.removed_at is not None for lk in await links(w, a, b))
    (ev,) = await link_events(w, "ticket.unlinked")
    assert ev.before is not None
    assert ev.before["reasons"] == ["SAME_PHONE", "SIMILAR_TEXT"]


@pytest.mark.parametrize(
    ("who", "error", "field"),
    [
        ("shuyang.dispatcher", NotFound, "ticketId"),  # a county: the city's tickets do not exist
        ("cgj.handler", NotFound, "ticketId"),  # a unit: not dispatched to it
        ("city.leader", NotPermitted, None),  # sees them, may not change links
    ],
)
async def test_who_may_not_link(
    w: World, who: str, error: type[DomainError], field: str | None
) -> None:
    a = await new(w, "city.dispatcher", NOISE, phone="13900080008")
    b = await new(w, "city.dispatcher", NOISE_RETOLD, phone="13900080008", days=1)
    c = await new(w, "city.dispatcher", BUS, phone="13900080009", days=2)
    before_events, before_links = await event_count(w), await links(w, a, b, c)
    actor = w.p(who)
    with pytest.raises(error) as exc:
        await al.link_tickets(uow=w.uow(), actor=actor, ticket_id=a.id, related_id=c.id)
    assert exc.value.field == field
    with pytest.raises(error):
        await al.unlink_tickets(uow=w.uow(), actor=actor, ticket_id=a.id, related_id=b.id, note="x")
    assert await event_count(w) == before_events
    assert [(x.id, x.removed_at) for x in await links(w, a, b, c)] == [
        (x.id, x.removed_at) for x in before_links
    ]


async def test_a_missing_ticket_is_not_found(w: World) -> None:
    a = await new(w, "city.dispatcher", NOISE, phone="13900090009")
    with pytest.raises(NotFound) as exc:
        await al.link_tickets(
            uow=w.uow(), actor=w.p("city.dispatcher"), ticket_id=a.id, related_id=10**12
        )
    assert exc.value.field == "relatedTicketId"


async def test_backfilled_tickets_are_found_by_later_ones(w: World) -> None:
    """Tickets taken in before this feature (or bulk-loaded) have no match keys: the backfill
    stores them, without links or events, and later tickets link to them."""
    old = await new(w, "city.dispatcher", POTHOLE, phone="13900120012")
    async with w.sessions() as s, s.begin():
        await s.execute(delete(TicketMatchKey).where(TicketMatchKey.ticket_id == old.id))
    missed = await new(w, "city.dispatcher", LIGHTS, phone="13900120012", days=1)
    assert await related(w, "city.dispatcher", missed) == {}

    events_before = await event_count(w)
    assert await al.backfill_match_keys(w.sessions, batch=2) >= 1
    assert await event_count(w) == events_before
    async with w.sessions() as s:
        kinds = (
            await s.execute(select(TicketMatchKey.kind).where(TicketMatchKey.ticket_id == old.id))
        ).scalars()
        assert MatchKind.PHONE in set(kinds)
    assert await al.backfill_match_keys(w.sessions) == 0  # nothing left to do
    later = await new(w, "city.dispatcher", BUS, phone="13900120012", days=2)
    assert set(await related(w, "city.dispatcher", later)) == {old.id, missed.id}


# ---- 5. over HTTP --------------------------------------------------------------------------------
CREATE = """
mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id } errors { code message } }
}
"""
RELATED = """
query($id: ID!) {
  ticket(id: $id) {
    id
    repeatCount
    related {
      earlier
      ticket { id title complainant { phone masked } }
      reasons { reason score linkedBy note }
    }
  }
}
"""
LINK = """
mutation($input: LinkTicketsInput!) {
  linkTickets(input: $input) {
    ticket { id related { ticket { id } reasons { reason } } }
    errors { __typename code field message }
  }
}
"""
UNLINK = """
mutation($input: UnlinkTicketsInput!) {
  unlinkTickets(input: $input) {
    ticket { id repeatCount related { ticket { id } } }
    errors { __typename code field message }
  }
}
"""


async def create(client: GraphQLClient, text: tuple[str, str], phone: str) -> str:
    data = await client.data(
        CREATE,
        {
            "input": {
                "channel": "HOTLINE_12345",
                "originLevel": "CITY",
                "categoryCode": "CM.CATERING_FUMES",
                "title": text[0],
                "content": text[1],
                "complainant": {"name": "李女士", "phone": phone},
            }
        },
    )
    payload = data["createTicket"]
    assert payload["errors"] == [], payload
    return str(payload["ticket"]["id"])


async def test_related_over_http(client: GraphQLClient, new_client: Any) -> None:
    await client.login("city.dispatcher")
    first = await create(client, LIGHTS, "139-0010-0010")
    second = await create(client, WATER, "13900100010")
    third = await create(client, BUS, "13900100011")

    t2 = (await client.data(RELATED, {"id": second}))["ticket"]
    assert t2["repeatCount"] == 1
    (rel,) = t2["related"]
    assert rel["earlier"] is True and rel["ticket"]["id"] == first
    assert rel["reasons"] == [
        {"reason": "SAME_PHONE", "score": 1.0, "linkedBy": "system:related", "note": None}
    ]
    t1 = (await client.data(RELATED, {"id": first}))["ticket"]
    assert t1["repeatCount"] == 0
    assert [(r["earlier"], r["ticket"]["id"]) for r in t1["related"]] == [(False, second)]

    linked = (
        await client.data(
            LINK, {"input": {"ticketId": third, "relatedTicketId": first, "note": "同一市民"}}
        )
    )["linkTickets"]
    assert linked["errors"] == []
    assert {r["ticket"]["id"]: r["reasons"] for r in linked["ticket"]["related"]} == {
        first: [{"reason": "MANUAL"}]
    }
    again = (await client.data(LINK, {"input": {"ticketId": first, "relatedTicketId": third}}))[
        "linkTickets"
    ]
    assert again["ticket"] is None
    assert again["errors"][0]["__typename"] == "InvalidTransitionError"
    bad = (await client.data(LINK, {"input": {"ticketId": first, "relatedTicketId": "nonsense"}}))[
        "linkTickets"
    ]
    assert bad["errors"][0]["__typename"] == "InvalidInputError"
    assert bad["errors"][0]["field"] == "relatedTicketId"

    unlinked = (
        await client.data(
            UNLINK, {"input": {"ticketId": second, "relatedTicketId": first, "note": "误关联"}}
        )
    )["unlinkTickets"]
    assert unlinked["errors"] == []
    assert unlinked["ticket"] == {"id": second, "repeatCount": 0, "related": []}

    # A county: the city's tickets do not exist for it, linked or not.
    county = new_client()
    await county.login("shuyang.dispatcher")
    assert (await county.data(RELATED, {"id": first}))["ticket"] is None
    refused = (await county.data(LINK, {"input": {"ticketId": first, "relatedTicketId": second}}))[
        "linkTickets"
    ]
    assert refused["ticket"] is None
    assert [(e["__typename"], e["field"]) for e in refused["errors"]] == [
        ("NotFoundError", "ticketId")
    ]
    assert "139" not in json.dumps(refused)


async def test_related_in_a_list_is_batched(
    w: World, client: GraphQLClient, statement_counter: StatementCounter
) -> None:
    """``tickets { related repeatCount }`` costs as many statements for 3 tickets as for 8:
    the links of the whole page come from one dataloader batch (one query per direction)."""
    for i in range(8):
        await new(
            w, "city.dispatcher", (f"批量{i}", f"第{i}件批量测试"), phone="13900110011", days=i
        )
    await client.login("city.dispatcher")
    query = """
    query($n: Int!) {
      tickets(first: $n, filter: {search: "批量测试"}) {
        nodes { id repeatCount related { ticket { id } reasons { reason } } }
      }
    }
    """
    await client.data(query, {"n": 2})  # warm up
    counts: dict[int, list[str]] = {}
    for n in (3, 8):
        statement_counter.take()
        nodes = (await client.data(query, {"n": n}))["tickets"]["nodes"]
        counts[n] = statement_counter.take()
        assert len(nodes) == n
        assert all(len(x["related"]) == 7 for x in nodes)
    assert sorted(x["repeatCount"] for x in nodes) == list(range(8))
    assert len(counts[3]) == len(counts[8]), {k: len(v) for k, v in counts.items()}
    own = [x for x in counts[8] if "ticket_link" in x]
    assert len(own) == 2, "\n---\n".join(own)
