"""End to end over HTTP: a city ticket with a lead and a co-unit, from intake to archive."""

from __future__ import annotations

from typing import Any

from conftest import GraphQLClient

TICKET_FIELDS = """
  id number status dueAt redoCount satisfaction
  complainant { name phone anonymous masked }
  deadlines { signBy returnBy dueAt remaining breachRisk }
  assignments { id role status unit { name } deadlines { signBy returnBy dueAt } }
"""

ASSIGNMENT_FIELDS = "id status signedLate deemedAccepted returnLocked redoCount sentBackCount"


def assignment_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
      assignment {{ {ASSIGNMENT_FIELDS} }} errors {{ __typename code message field }} }} }}"""


def reply_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
      reply {{ id status outcome lintFindings {{ rule phrase }} missingElements }}
      assignment {{ {ASSIGNMENT_FIELDS} }}
      errors {{ __typename code message field
        ... on ReplyIncompleteError {{ missing }} ... on ReplyHollowError {{ phrases }} }} }} }}"""


def ticket_mutation(name: str, input_type: str) -> str:
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{
      ticket {{ {TICKET_FIELDS} }} errors {{ __typename code message field }} }} }}"""


CREATE = ticket_mutation("createTicket", "CreateTicketInput")
DISPATCH = ticket_mutation("dispatchTicket", "DispatchTicketInput")


async def unit_id(client: GraphQLClient, name: str, member_of: str = "3213") -> str:
    data = await client.data(
        "query($s: String!, $c: String!) { units(filter: {search: $s, memberOf: $c}) "
        "{ nodes { id name } } }",
        {"s": name, "c": member_of},
    )
    matches = [u["id"] for u in data["units"]["nodes"] if u["name"] == name]
    assert len(matches) == 1, data
    return str(matches[0])


def ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"][field]
    assert payload["errors"] == [], payload
    return payload


GOOD_REPLY = {
    "handlerName": "王城管",
    "handlerPhone": "13900001111",
    "contactedAt": "2026-11-20T10:00:00+08:00",
    "communication": "电话联系市民，约定现场查看路灯故障情况。",
    "citizenSatisfied": True,
    "handling": "11月20日现场更换损坏灯具，路灯恢复照明。",
    "text": "经现场核实，幸福路路灯损坏，已于11月20日更换灯具并恢复照明，市民表示满意。",
    "outcome": "RESOLVED",
}


async def test_city_ticket_from_intake_to_archive(new_client: Any) -> None:
    dispatcher, admin, handler, leader = (new_client() for _ in range(4))
    await dispatcher.login("city.dispatcher")
    await admin.login("admin")
    await handler.login("cgj.handler")
    await leader.login("cgj.leader")

    # A co-unit with a handler and a leader of its own.
    zjj = await unit_id(admin, "市住房城乡建设局")
    for username, role in (("zjj.handler", "unit_handler"), ("zjj.leader", "unit_leader")):
        body = await admin.execute(
            """mutation($input: CreateStaffInput!) { createStaff(input: $input) {
                 staff { username } errors { code message } } }""",
            {
                "input": {
                    "username": username,
                    "displayName": username,
                    "password": "yiwang-demo",
                    "unitId": zjj,
                    "roles": [role],
                }
            },
        )
        ok(body, "createStaff")
    co_handler, co_leader = new_client(), new_client()
    await co_handler.login("zjj.handler")
    await co_leader.login("zjj.leader")

    # Intake.
    created = ok(
        await dispatcher.execute(
            CREATE,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM",
                    "title": "幸福路路灯不亮",
                    "content": "幸福路与洪泽湖路交叉口路灯连续三晚不亮。",
                    "divisionCode": "321302001",
                    "complainant": {"name": "李四", "phone": "13812341234"},
                    "idempotencyKey": "intake-1",
                }
            },
        ),
        "createTicket",
    )
    ticket = created["ticket"]
    assert ticket["status"] == "NEW"
    assert ticket["number"].startswith("SQ-")
    assert ticket["complainant"] == {
        "name": "李四",
        "phone": "13812341234",
        "anonymous": False,
        "masked": False,
    }
    # A replay of the same key returns the first ticket and creates nothing.
    replay = ok(
        await dispatcher.execute(
            CREATE,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM",
                    "title": "something else entirely",
                    "content": "different",
                    "complainant": {"anonymous": True},
                    "idempotencyKey": "intake-1",
                }
            },
        ),
        "createTicket",
    )
    assert replay["ticket"]["id"] == ticket["id"]

    # Dispatch: 市城管局 leads, 市住房城乡建设局 assists.
    cgj = await unit_id(admin, "市城管局")
    dispatched = ok(
        await dispatcher.execute(
            DISPATCH,
            {"input": {"ticketId": ticket["id"], "leadUnitId": cgj, "coUnitIds": [zjj]}},
        ),
        "dispatchTicket",
    )["ticket"]
    assert dispatched["status"] == "IN_PROGRESS"
    roles = {a["role"]: a for a in dispatched["assignments"]}
    lead_id, co_id = roles["LEAD"]["id"], roles["CO"]["id"]
    assert roles["LEAD"]["unit"]["name"] == "市城管局"
    assert dispatched["deadlines"]["dueAt"] == roles["LEAD"]["deadlines"]["dueAt"]

    # The lead unit's handler sees the ticket, with complainant data in clear (not anonymous).
    seen = await handler.data(
        "query($id: ID!) { node(id: $id) { ... on Ticket { complainant { phone masked } "
        "assignments { id } } } }",
        {"id": ticket["id"]},
    )
    assert seen["node"]["complainant"] == {"phone": "13812341234", "masked": False}
    assert [a["id"] for a in seen["node"]["assignments"]] == [lead_id]

    for client, aid in ((handler, lead_id), (co_handler, co_id)):
        signed = ok(
            await client.execute(
                assignment_mutation("signFor", "AssignmentActionInput"),
                {"input": {"assignmentId": aid}},
            ),
            "signFor",
        )
        assert signed["assignment"]["status"] == "HANDLING"
        assert signed["assignment"]["signedLate"] is False

    # A hollow reply is drafted but cannot be approved.
    hollow = ok(
        await handler.execute(
            reply_mutation("draftReply", "DraftReplyInput"),
            {"input": {"assignmentId": lead_id, **GOOD_REPLY, "text": "已联系市民解释。"}},
        ),
        "draftReply",
    )
    assert hollow["reply"]["lintFindings"][0]["rule"] == "CONTACTED_AND_EXPLAINED"
    refused = await leader.execute(
        reply_mutation("approveReply", "AssignmentActionInput"),
        {"input": {"assignmentId": lead_id}},
    )
    assert refused["data"]["approveReply"]["errors"][0]["__typename"] == "ReplyHollowError"

    # Both units reply properly: handler drafts, leader approves and submits.
    for h, lead, aid in ((handler, leader, lead_id), (co_handler, co_leader, co_id)):
        ok(
            await h.execute(
                reply_mutation("draftReply", "DraftReplyInput"),
                {"input": {"assignmentId": aid, **GOOD_REPLY}},
            ),
            "draftReply",
        )
        approved = ok(
            await lead.execute(
                reply_mutation("approveReply", "AssignmentActionInput"),
                {"input": {"assignmentId": aid}},
            ),
            "approveReply",
        )
        assert approved["reply"]["status"] == "APPROVED"
        submitted = ok(
            await lead.execute(
                reply_mutation("submitReply", "AssignmentActionInput"),
                {"input": {"assignmentId": aid}},
            ),
            "submitReply",
        )
        assert submitted["assignment"]["status"] == "REPLY_SUBMITTED"

    # The centre sends the co-unit's reply back once, then accepts both.
    back = ok(
        await dispatcher.execute(
            reply_mutation("reviewReply", "ReviewReplyInput"),
            {"input": {"assignmentId": co_id, "accept": False, "reasons": "请补充现场照片说明"}},
        ),
        "reviewReply",
    )
    assert back["assignment"]["status"] == "HANDLING"
    assert back["assignment"]["sentBackCount"] == 1
    queue = await co_handler.data("{ myAssignments(filter: {kind: SUPPLEMENT}) { nodes { id } } }")
    assert [n["id"] for n in queue["myAssignments"]["nodes"]] == [co_id]
    ok(
        await co_handler.execute(
            reply_mutation("draftReply", "DraftReplyInput"),
            {"input": {"assignmentId": co_id, **GOOD_REPLY}},
        ),
        "draftReply",
    )
    for mutation in ("approveReply", "submitReply"):
        ok(
            await co_leader.execute(
                reply_mutation(mutation, "AssignmentActionInput"),
                {"input": {"assignmentId": co_id}},
            ),
            mutation,
        )
    for aid in (lead_id, co_id):
        ok(
            await dispatcher.execute(
                reply_mutation("reviewReply", "ReviewReplyInput"),
                {"input": {"assignmentId": aid, "accept": True}},
            ),
            "reviewReply",
        )
    queue = await dispatcher.data(
        "{ centreQueue(kind: CALLBACKS_DUE) { nodes { ticket { id } } } }"
    )
    assert ticket["id"] in [n["ticket"]["id"] for n in queue["centreQueue"]["nodes"]]

    # Callback: unsatisfied -> redo -> replied again -> satisfied -> closed -> archived.
    unsatisfied = ok(
        await dispatcher.execute(
            ticket_mutation("recordCallback", "RecordCallbackInput"),
            {
                "input": {
                    "ticketId": ticket["id"],
                    "satisfaction": "UNSATISFIED",
                    "actuallyResolved": False,
                }
            },
        ),
        "recordCallback",
    )["ticket"]
    assert unsatisfied["status"] == "REPLIED"
    redone = ok(
        await dispatcher.execute(
            ticket_mutation("redoTicket", "RedoTicketInput"),
            {"input": {"ticketId": ticket["id"], "reason": "市民反映路灯仍间歇熄灭"}},
        ),
        "redoTicket",
    )["ticket"]
    assert redone["status"] == "IN_PROGRESS"
    assert redone["redoCount"] == 1
    redo_list = await handler.data("{ myAssignments(filter: {kind: REDO}) { nodes { id } } }")
    assert [n["id"] for n in redo_list["myAssignments"]["nodes"]] == [lead_id]
    ok(
        await handler.execute(
            reply_mutation("draftReply", "DraftReplyInput"),
            {"input": {"assignmentId": lead_id, **GOOD_REPLY}},
        ),
        "draftReply",
    )
    for mutation in ("approveReply", "submitReply"):
        ok(
            await leader.execute(
                reply_mutation(mutation, "AssignmentActionInput"),
                {"input": {"assignmentId": lead_id}},
            ),
            mutation,
        )
    ok(
        await dispatcher.execute(
            reply_mutation("reviewReply", "ReviewReplyInput"),
            {"input": {"assignmentId": lead_id, "accept": True}},
        ),
        "reviewReply",
    )
    closed = ok(
        await dispatcher.execute(
            ticket_mutation("recordCallback", "RecordCallbackInput"),
            {
                "input": {
                    "ticketId": ticket["id"],
                    "satisfaction": "SATISFIED",
                    "actuallyResolved": True,
                }
            },
        ),
        "recordCallback",
    )["ticket"]
    assert closed["status"] == "CLOSED"
    assert {a["status"] for a in closed["assignments"]} == {"CLOSED"}
    archived = ok(
        await dispatcher.execute(
            ticket_mutation("archiveTicket", "TicketActionInput"),
            {"input": {"ticketId": ticket["id"]}},
        ),
        "archiveTicket",
    )["ticket"]
    assert archived["status"] == "ARCHIVED"
    # Archived tickets are read-only.
    again = await dispatcher.execute(
        ticket_mutation("archiveTicket", "TicketActionInput"), {"input": {"ticketId": ticket["id"]}}
    )
    assert again["data"]["archiveTicket"]["errors"][0]["__typename"] == "InvalidTransitionError"

    # The history tells the whole story, in order, without personal data.
    history = await dispatcher.data(
        "query($id: ID!) { ticket(id: $id) { events(first: 100) { nodes { type actor after } } } }",
        {"id": ticket["id"]},
    )
    types = [e["type"] for e in history["ticket"]["events"]["nodes"]]
    assert types[0] == "ticket.created"
    assert types[-1] == "ticket.archived"
    for expected in (
        "assignment.dispatched",
        "assignment.signed",
        "reply.drafted",
        "reply.approved",
        "reply.submitted",
        "reply.sent_back",
        "reply.accepted",
        "ticket.replied",
        "ticket.callback_recorded",
        "ticket.redo",
        "ticket.closed",
    ):
        assert expected in types
    assert "13812341234" not in str(history)
