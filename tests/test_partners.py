"""API clients (integration partners) over HTTP: create, authenticate, create tickets for their
channels, read what they created, rotate and revoke; the token is stored only as its hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from conftest import GraphQLClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.events import Event
from domain.partners.models import ApiClient
from domain.partners.service import create_api_client, rotate_api_client_token
from domain.tickets.models import Ticket

CLIENT_FIELDS = "id name centreCode channels tokenPrefix active createdAt rotatedAt revokedAt"
CREATE_CLIENT = f"""mutation($input: CreateApiClientInput!) {{ createApiClient(input: $input) {{
  client {{ {CLIENT_FIELDS} }} token errors {{ __typename code message field }} }} }}"""
ROTATE = f"""mutation($id: ID!) {{ rotateApiClientToken(input: {{clientId: $id}}) {{
  client {{ {CLIENT_FIELDS} }} token errors {{ __typename code message field }} }} }}"""
REVOKE = f"""mutation($id: ID!) {{ revokeApiClient(input: {{clientId: $id}}) {{
  client {{ {CLIENT_FIELDS} }} errors {{ __typename code message field }} }} }}"""
CREATE_TICKET = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id number complainant { name phone masked } }
  errors { __typename code message field } } }"""
TICKETS = "{ tickets(first: 100) { nodes { id number } } }"


def ticket_input(channel: str, title: str) -> dict[str, Any]:
    return {
        "input": {
            "channel": channel,
            "originLevel": "CITY",
            "categoryCode": "CM",
            "title": title,
            "content": title + "，请尽快处理。",
            "complainant": {"name": "张三", "phone": "13812345678"},
        }
    }


async def make_client(
    admin: GraphQLClient, centre: str = "321322", permissions: list[str] | None = None
) -> dict[str, Any]:
    body = await admin.execute(
        CREATE_CLIENT,
        {
            "input": {
                "name": "沭阳网格平台",
                "centreCode": centre,
                "channels": ["GRID"],
                "permissions": permissions or [],
            }
        },
    )
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"]["createApiClient"]
    return payload


async def test_partner_client_end_to_end(
    new_client: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin, dispatcher, partner = new_client(), new_client(), new_client()
    await admin.login("shuyang.admin")
    await dispatcher.login("shuyang.dispatcher")

    made = await make_client(admin)
    assert made["errors"] == [], made
    token = made["token"]
    assert token.startswith("yw_") and len(token) > 40
    client = made["client"]
    assert client["channels"] == ["GRID"] and client["active"] is True
    assert client["tokenPrefix"] == token[:8] and client["centreCode"] == "321322"

    # A staff ticket of the same centre, which the partner must not see.
    staff_ticket = await dispatcher.execute(
        CREATE_TICKET, ticket_input("HOTLINE_12345", "员工工单")
    )
    assert staff_ticket["data"]["createTicket"]["errors"] == [], staff_ticket
    staff_id = staff_ticket["data"]["createTicket"]["ticket"]["id"]

    partner.token = token
    me = await partner.data("{ me { username displayName roles { role domain } } }")
    assert me["me"]["displayName"] == "沭阳网格平台"
    assert me["me"]["username"].startswith("client:")
    assert {"role": "partner", "domain": "centre:321322/"} in me["me"]["roles"]
    subject = me["me"]["username"]

    created = await partner.execute(CREATE_TICKET, ticket_input("GRID", "网格员上报路面塌陷"))
    payload = created["data"]["createTicket"]
    assert payload["errors"] == [], created
    ticket = payload["ticket"]
    assert ticket["complainant"]["masked"] is True
    assert ticket["complainant"]["phone"] != "13812345678"

    refused = await partner.execute(CREATE_TICKET, ticket_input("HOTLINE_12345", "越权渠道"))
    errors = refused["data"]["createTicket"]["errors"]
    assert [(e["__typename"], e["field"]) for e in errors] == [("InvalidInputError", "channel")]

    async with sessions() as s:
        row = (
            await s.execute(select(Ticket).where(Ticket.number == ticket["number"]))
        ).scalar_one()
        assert row.created_by == subject
        actors = (
            (
                await s.execute(
                    select(Event.actor).where(
                        Event.type == "ticket.created", Event.ticket_id == row.id
                    )
                )
            )
            .scalars()
            .all()
        )
        assert actors == [subject]

    seen = {t["id"] for t in (await partner.data(TICKETS))["tickets"]["nodes"]}
    assert seen == {ticket["id"]}
    assert staff_id not in seen

    # A second client with READ_CENTRE_TICKETS reads the centre's tickets, still masked.
    reader = new_client()
    made2 = await make_client(admin, permissions=["READ_CENTRE_TICKETS"])
    assert made2["errors"] == [], made2
    reader.token = made2["token"]
    wide = await reader.data(
        "{ tickets(first: 100) { nodes { id complainant { masked phone } } } }"
    )
    ids = {t["id"] for t in wide["tickets"]["nodes"]}
    assert {staff_id, ticket["id"]} <= ids
    assert all(
        t["complainant"]["masked"] for t in wide["tickets"]["nodes"] if t["complainant"]["phone"]
    )

    listed = await admin.data('{ apiClients(centreCode: "321322") { id name active } }')
    assert {c["id"] for c in listed["apiClients"]} == {client["id"], made2["client"]["id"]}

    # Rotate: the old token is anonymous at once, the new one works.
    rotated = await admin.execute(ROTATE, {"id": client["id"]})
    rpayload = rotated["data"]["rotateApiClientToken"]
    assert rpayload["errors"] == [], rotated
    new_token = rpayload["token"]
    assert new_token != token and rpayload["client"]["rotatedAt"] is not None
    old = await partner.execute(TICKETS)
    assert old["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", old
    partner.token = new_token
    assert {t["id"] for t in (await partner.data(TICKETS))["tickets"]["nodes"]} == {ticket["id"]}

    # Revoke: the token is refused.
    revoked = await admin.execute(REVOKE, {"id": client["id"]})
    vpayload = revoked["data"]["revokeApiClient"]
    assert vpayload["errors"] == [] and vpayload["client"]["active"] is False, revoked
    assert vpayload["client"]["revokedAt"] is not None
    gone = await partner.execute(TICKETS)
    assert gone["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", gone
    again = await admin.execute(ROTATE, {"id": client["id"]})
    assert again["data"]["rotateApiClientToken"]["errors"][0]["code"] == "CONFLICT"


async def test_only_the_centres_admins_manage_clients(new_client: Any) -> None:
    shuyang, siyang, dispatcher = new_client(), new_client(), new_client()
    await shuyang.login("shuyang.admin")
    await siyang.login("siyang.admin")
    await dispatcher.login("shuyang.dispatcher")

    refused = await make_client(shuyang, centre="321323")
    assert refused["token"] is None
    assert [e["__typename"] for e in refused["errors"]] == ["NotFoundError"]
    assert (await make_client(dispatcher))["errors"][0]["__typename"] == "NotFoundError"

    made = await make_client(shuyang)
    cid = made["client"]["id"]
    for call, field in ((ROTATE, "rotateApiClientToken"), (REVOKE, "revokeApiClient")):
        body = await siyang.execute(call, {"id": cid})
        assert body["data"][field]["errors"][0]["__typename"] == "NotFoundError", body
    assert (await siyang.data('{ apiClients(centreCode: "321322") { id } }'))["apiClients"] == []

    bad = await shuyang.execute(
        CREATE_CLIENT,
        {"input": {"name": " ", "centreCode": "321322", "channels": ["GRID"]}},
    )
    assert bad["data"]["createApiClient"]["errors"][0]["field"] == "name"
    none = await shuyang.execute(
        CREATE_CLIENT, {"input": {"name": "x", "centreCode": "321322", "channels": []}}
    )
    assert none["data"]["createApiClient"]["errors"][0]["field"] == "channels"


async def test_the_token_is_never_stored_nor_in_events(
    uow: Any, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await principal("shuyang.admin")
    client, token = await create_api_client(
        uow=uow,
        actor=admin,
        name="数字城管",
        centre_code="321322",
        channels=["DIGITAL_CITY_MANAGEMENT"],
        permissions=["READ_CENTRE_TICKETS"],
    )
    _, token2 = await rotate_api_client_token(uow=uow, actor=admin, client_id=client.id)
    async with sessions() as s:
        row = await s.get(ApiClient, client.id)
        assert row is not None
        assert row.token_hash == hashlib.sha256(token2.encode()).hexdigest()
        assert row.token_prefix == token2[:8]
        stored = json.dumps([str(getattr(row, c.key)) for c in ApiClient.__table__.columns])
        assert token not in stored and token2 not in stored
        evs = (
            (await s.execute(select(Event).where(Event.entity_type == "api_client")))
            .scalars()
            .all()
        )
        assert [e.type for e in evs] == ["api_client.created", "api_client.token_rotated"]
        dumped = json.dumps([[e.before, e.after] for e in evs], ensure_ascii=False)
        for secret in (token, token2, row.token_hash, hashlib.sha256(token.encode()).hexdigest()):
            assert secret not in dumped
