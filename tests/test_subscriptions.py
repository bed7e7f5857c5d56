"""Subscriptions end to end over a real websocket: authentication, visibility, resume with no
gap and no duplicate, deadline alerts, and the limits (subscriptions per connection,
connections per principal, slow consumers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import GraphQLClient, LiveServer, make_settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_partners import make_client
from test_partners import ticket_input as partner_ticket_input
from wsclient import TICKET_EVENTS, Closed, connect

from api.relay import int_key
from domain.events import Event
from domain.tickets.models import Assignment, Ticket
from domain.tickets.sweeper import sweep

CREATE = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id number } errors { __typename code message field } } }"""
DISPATCH = """mutation($input: DispatchTicketInput!) { dispatchTicket(input: $input) {
  ticket { id assignments { id role } } errors { __typename code message field } } }"""
UNITS = """query($s: String!, $c: String!) { units(filter: {search: $s, memberOf: $c}) {
  nodes { id name } } }"""
ALERTS = """subscription($c: String!) { deadlineAlerts(centreCode: $c) {
  id kind ticketId assignmentId unitId dueAt assignment { id status } } }"""


def ticket_input(title: str, channel: str = "HOTLINE_12345", **extra: Any) -> dict[str, Any]:
    body = partner_ticket_input(channel, title)
    body["input"].update(extra)
    return body


async def create(client: GraphQLClient, title: str, **extra: Any) -> dict[str, Any]:
    body = await client.execute(CREATE, ticket_input(title, **extra))
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"]["createTicket"]
    assert payload["errors"] == [], payload
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


async def unit(client: GraphQLClient, name: str, centre: str = "3213") -> str:
    data = await client.data(UNITS, {"s": name, "c": centre})
    ids = [u["id"] for u in data["units"]["nodes"] if u["name"] == name]
    assert len(ids) == 1, data
    return str(ids[0])


@pytest.fixture
def server_factory(db_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[LiveServer] = []

    def make(**overrides: Any) -> LiveServer:
        srv = LiveServer(make_settings(db_url, tmp_path, jwt_secret="t" * 48, **overrides))
        srv.start()
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


async def test_connection_init_needs_a_valid_token(live_server: LiveServer) -> None:
    for payload in ({}, {"Authorization": "Bearer not-a-token"}, {"token": "yw_forged"}):
        async with connect(live_server.url, init=False) as ws:
            await ws.ws.send_json({"type": "connection_init", "payload": payload})
            with pytest.raises(Closed) as closed:
                await ws.receive()
            assert closed.value.code == 4403
    # Subscribing before connection_init is refused as the protocol says (4401).
    async with connect(live_server.url, init=False) as ws:
        await ws.subscribe(TICKET_EVENTS)
        with pytest.raises(Closed) as closed:
            await ws.receive()
        assert closed.value.code == 4401


async def test_events_arrive_as_they_commit_and_only_where_visible(
    new_client: Any, live_server: LiveServer
) -> None:
    shuyang, shucheng = new_client(), new_client()
    t_shuyang = await shuyang.login("shuyang.dispatcher")
    t_shucheng = await shucheng.login("shucheng.dispatcher")
    async with (
        connect(live_server.url, t_shuyang) as ws_a,
        connect(live_server.url, t_shucheng) as ws_b,
    ):
        op_a = await ws_a.subscribe(TICKET_EVENTS)
        op_b = await ws_b.subscribe(TICKET_EVENTS)
        await asyncio.sleep(0.3)  # both subscriptions registered
        mine = await create(shuyang, "沭阳：路灯不亮")
        theirs = await create(shucheng, "沭城街道：井盖缺失")
        got_a = (await ws_a.next_data(op_a))["ticketEvents"]
        got_b = (await ws_b.next_data(op_b))["ticketEvents"]
        assert (got_a["type"], got_a["ticketId"]) == ("ticket.created", mine["id"])
        assert (got_b["type"], got_b["ticketId"]) == ("ticket.created", theirs["id"])
        assert got_a["actor"] == "user:shuyang.dispatcher"
        # Neither the county nor its township hears the other's ticket (no read-down granted).
        assert await ws_a.quiet(0.7) == []
        assert await ws_b.quiet(0.1) == []


async def test_resume_replays_exactly_the_missed_events_then_goes_live(
    new_client: Any, live_server: LiveServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shuyang, shucheng = new_client(), new_client()
    token = await shuyang.login("shuyang.dispatcher")
    await shucheng.login("shucheng.dispatcher")
    async with connect(live_server.url, token) as ws:
        op = await ws.subscribe(TICKET_EVENTS, {"filter": {"types": ["ticket.created"]}})
        await asyncio.sleep(0.3)
        await create(shuyang, "断线前最后一件")
        last_seen = (await ws.next_data(op))["ticketEvents"]["id"]

    # Offline: 100 events commit that this dispatcher may see, and others it may not.
    for i in range(100):
        await create(shuyang, f"离线期间第{i + 1}件")
        if i % 10 == 0:
            await create(shucheng, f"沭城街道第{i + 1}件")

    async with sessions() as s:
        expected = (
            (
                await s.execute(
                    select(Event.id)
                    .join(Ticket, Ticket.id == Event.ticket_id)
                    .where(
                        Event.id > int(last_seen),
                        Event.type == "ticket.created",
                        Ticket.centre_code == "321322",
                    )
                    .order_by(Event.id)
                )
            )
            .scalars()
            .all()
        )
    assert len(expected) == 100

    async with connect(live_server.url, token) as ws:
        op = await ws.subscribe(
            TICKET_EVENTS, {"filter": {"types": ["ticket.created"]}, "after": last_seen}
        )
        replayed = await ws.collect("ticketEvents", 100, op)
        assert [int(e["id"]) for e in replayed] == list(expected)
        # ... and then live, with no duplicate at the seam.
        live = await create(shuyang, "重连后的新工单")
        nxt = (await ws.next_data(op))["ticketEvents"]
        assert nxt["ticketId"] == live["id"] and int(nxt["id"]) > expected[-1]
        assert await ws.quiet(0.5) == []


async def test_a_partner_hears_only_what_it_may_read(
    new_client: Any, live_server: LiveServer
) -> None:
    admin, staff, partner = new_client(), new_client(), new_client()
    await admin.login("shuyang.admin")
    await staff.login("shuyang.dispatcher")
    made = await make_client(admin)
    partner.token = made["token"]
    async with connect(live_server.url, made["token"]) as ws:
        assert ws.ack and ws.ack["payload"]["subject"].startswith("client:")
        op = await ws.subscribe(TICKET_EVENTS, {"filter": {"types": ["ticket.created"]}})
        await asyncio.sleep(0.3)
        await create(staff, "员工录入，伙伴不可见")
        own = await create(partner, "网格上报：占道经营", channel="GRID")
        got = (await ws.next_data(op))["ticketEvents"]
        assert (got["ticketId"], got["actor"]) == (own["id"], ws.ack["payload"]["subject"])
        assert await ws.quiet(0.7) == []

        # Revoking the client ends its live connection at the next event it would get.
        revoked = await admin.execute(
            "mutation($id: ID!) { revokeApiClient(input: {clientId: $id}) { errors { code } } }",
            {"id": made["client"]["id"]},
        )
        assert revoked["data"]["revokeApiClient"]["errors"] == []
        await create(staff, "吊销之后")
        with pytest.raises(Closed) as closed:
            await ws.quiet(5)
            await ws.receive(wait=5)
        assert closed.value.code == 4403


async def test_limits_per_connection_and_per_principal(
    new_client: Any, server_factory: Any
) -> None:
    srv = server_factory(max_subscriptions_per_connection=2, max_connections_per_principal=2)
    c = GraphQLClient(srv.url)
    token = await c.login("shuyang.dispatcher")
    try:
        async with connect(srv.url, token) as ws1, connect(srv.url, token) as ws2:
            await ws1.subscribe(TICKET_EVENTS)
            await ws1.subscribe(TICKET_EVENTS)
            third = await ws1.subscribe(TICKET_EVENTS)
            msg = await ws1.receive()
            assert msg["type"] == "error" and msg["id"] == third
            assert "limit" in msg["payload"][0]["message"].lower()
            # A third connection of the same principal is refused with our own close code.
            async with connect(srv.url, init=False) as ws3:
                await ws3.ws.send_json(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
                with pytest.raises(Closed) as closed:
                    await ws3.receive()
                assert closed.value.code == 4430 and "per principal" in closed.value.reason
            assert ws2.ack is not None
        # Closing them gives the slots back.
        async with connect(srv.url, token) as again:
            assert again.ack is not None
    finally:
        await c.aclose()


async def test_a_slow_consumer_is_cut_off_with_a_reason(server_factory: Any) -> None:
    srv = server_factory(subscription_max_pending=3)
    city = GraphQLClient(srv.url)
    token = await city.login("city.dispatcher")
    try:
        lead = await unit(city, "市城管局")
        co = [await unit(city, n) for n in ("市住房城乡建设局", "市交通运输局", "市生态环境局")]
        ticket = await create(city, "一次提交多条事件")
        async with connect(srv.url, token) as ws:
            op = await ws.subscribe(TICKET_EVENTS)
            await asyncio.sleep(0.3)
            body = await city.execute(
                DISPATCH, {"input": {"ticketId": ticket["id"], "leadUnitId": lead, "coUnitIds": co}}
            )
            assert body["data"]["dispatchTicket"]["errors"] == [], body
            with pytest.raises(Closed) as closed:
                while True:
                    await ws.next_data(op, wait=5)
            assert closed.value.code == 4431
            assert "slow consumer" in closed.value.reason and "after=" in closed.value.reason
    finally:
        await city.aclose()


async def test_deadline_alerts_reach_the_dispatching_centre(
    new_client: Any, live_server: LiveServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    city, shuyang = new_client(), new_client()
    token = await city.login("city.dispatcher")
    other = await shuyang.login("shuyang.dispatcher")
    lead = await unit(city, "市城管局")
    ticket = await create(city, "临期预警")
    body = await city.execute(DISPATCH, {"input": {"ticketId": ticket["id"], "leadUnitId": lead}})
    payload = body["data"]["dispatchTicket"]
    assert payload["errors"] == [], body
    assignment_id = payload["ticket"]["assignments"][0]["id"]

    # Another county cannot watch the city's screen: as if the centre were not there.
    async with connect(live_server.url, other) as ws:
        op = await ws.subscribe(ALERTS, {"c": "3213"})
        msg = await ws.receive()
        assert msg["id"] == op and msg["type"] == "next", msg
        assert msg["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    async with connect(live_server.url, token) as ws:
        op = await ws.subscribe(ALERTS, {"c": "3213"})
        await asyncio.sleep(0.3)
        async with sessions() as s:
            sign_by = (
                await s.execute(
                    select(Assignment.sign_by).where(
                        Assignment.id == int_key(assignment_id, "Assignment")
                    )
                )
            ).scalar_one()
            due = (
                await s.execute(select(Ticket.due_at).where(Ticket.number.is_not(None)))
            ).scalars()
            latest = max(d for d in due if d is not None)
        # A second before sign_by: the early warning; a day after every due time: overdue.
        assert (await sweep(sessions, now=sign_by - timedelta(seconds=1))).sign_due_soon >= 1
        result = await sweep(sessions, now=latest + timedelta(days=1))
        assert result.overdue_marked >= 1
        alerts = [(await ws.next_data(op))["deadlineAlerts"]]
        alerts += [m["payload"]["data"]["deadlineAlerts"] for m in await ws.quiet(1.0)]
        mine = [a for a in alerts if a["assignmentId"] == assignment_id]
        assert [a["kind"] for a in mine] == ["SIGN_FOR_DUE_SOON", "HANDLING_OVERDUE"]
        assert mine[0]["ticketId"] == ticket["id"] and mine[0]["unitId"] == lead
        assert mine[0]["assignment"]["id"] == assignment_id


async def test_a_subscription_over_plain_http_is_a_clear_400(client: GraphQLClient) -> None:
    await client.login("city.dispatcher")
    resp = await client.http.post(
        "/graphql",
        json={"query": "subscription { ticketEvents { id } }"},
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert resp.status_code == 400
    assert "websocket" in resp.text and "graphql-transport-ws" in resp.text
    # A query that merely mentions the word is not affected.
    body = await client.execute("query subscriptionCheck { me { username } }")
    assert body["data"]["me"]["username"] == "city.dispatcher"
