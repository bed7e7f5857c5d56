"""Cross-level referral end to end over HTTP: city → 沭阳县 → 沭城街道 → its unit, and back up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conftest import GraphQLClient
from test_ticket_e2e import GOOD_REPLY, ok, reply_mutation, ticket_mutation, unit_id

CHAIN = """query($id: ID!) { ticket(id: $id) { status
  referralChain { id status fromCentre { code } toCentre { code } unit { name }
                  deadlines { dueAt } } } }"""
HOP = """mutation($input: DispatchReferralInput!) { dispatchReferral(input: $input) {
  assignment { id status } errors { __typename code message field } } }"""
SIGN = """mutation($input: AssignmentActionInput!) { signFor(input: $input) {
  assignment { id status } errors { __typename code message } } }"""


async def queue(client: GraphQLClient, kind: str) -> list[dict[str, Any]]:
    data = await client.data(
        "query($k: QueueKind!) { centreQueue(kind: $k) { nodes { ticket { id } "
        "assignment { id unit { name } deadlines { dueAt } } } } }",
        {"k": kind},
    )
    return list(data["centreQueue"]["nodes"])


def hops(chain: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["fromCentre"]["code"], h["toCentre"]["code"]) for h in chain["referralChain"]]


async def test_three_level_referral_and_the_reply_climbing_back(new_client: Any) -> None:
    city, county, town, handler, leader, admin = (new_client() for _ in range(6))
    await city.login("city.dispatcher")
    await county.login("shuyang.dispatcher")
    await town.login("shucheng.dispatcher")
    await handler.login("shucheng.sqb.handler")
    await leader.login("shucheng.sqb.leader")
    await admin.login("admin")

    created = ok(
        await city.execute(
            ticket_mutation("createTicket", "CreateTicketInput"),
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM",
                    "title": "沭城街道某小区门前路灯不亮",
                    "content": "沭城街道某小区门前三盏路灯不亮已一周。",
                    "divisionCode": "321322001",
                    "complainant": {"name": "赵六", "phone": "13912345678"},
                }
            },
        ),
        "createTicket",
    )
    tid = created["ticket"]["id"]

    # The city dispatches to 沭阳县, a city member that stands for the county centre.
    shuyang_unit = await unit_id(admin, "沭阳县")
    ok(
        await city.execute(
            ticket_mutation("dispatchTicket", "DispatchTicketInput"),
            {"input": {"ticketId": tid, "leadUnitId": shuyang_unit}},
        ),
        "dispatchTicket",
    )

    # 沭阳县's dispatchers see it in their queue and sign for it on the unit's behalf.
    [item] = [q for q in await queue(county, "REFERRALS_TO_SIGN") if q["ticket"]["id"] == tid]
    hop1 = item["assignment"]["id"]
    hop1_due = datetime.fromisoformat(item["assignment"]["deadlines"]["dueAt"])
    assert (
        ok(await county.execute(SIGN, {"input": {"assignmentId": hop1}}), "signFor")["assignment"][
            "status"
        ]
        == "HANDLING"
    )
    assert [q for q in await queue(county, "REFERRALS_TO_DISPATCH") if q["ticket"]["id"] == tid]

    # ... and dispatch it on to the unit that stands for the township 沭城街道.
    shucheng_unit = await unit_id(county, "沭城街道", member_of="321322")
    # A unit of another county is not theirs to dispatch to.
    foreign = await unit_id(admin, "泗阳县")
    refused = await county.execute(HOP, {"input": {"assignmentId": hop1, "leadUnitId": foreign}})
    assert refused["data"]["dispatchReferral"]["errors"][0]["__typename"] == "NotFoundError"
    ok(
        await county.execute(HOP, {"input": {"assignmentId": hop1, "leadUnitId": shucheng_unit}}),
        "dispatchReferral",
    )
    # The city cannot dispatch 沭阳县's referral on for it.
    city_try = await city.execute(HOP, {"input": {"assignmentId": hop1, "leadUnitId": foreign}})
    assert city_try["data"]["dispatchReferral"]["errors"][0]["__typename"] == "NotFoundError"

    # The township signs for its hop and dispatches to its own member unit.
    [item2] = [q for q in await queue(town, "REFERRALS_TO_SIGN") if q["ticket"]["id"] == tid]
    hop2 = item2["assignment"]["id"]
    hop2_due = datetime.fromisoformat(item2["assignment"]["deadlines"]["dueAt"])
    assert hop2_due <= hop1_due  # a lower hop never gets more time than the one above
    ok(await town.execute(SIGN, {"input": {"assignmentId": hop2}}), "signFor")
    sqb = await unit_id(town, "沭城街道社区服务办", member_of="321322001")
    ok(
        await town.execute(HOP, {"input": {"assignmentId": hop2, "leadUnitId": sqb}}),
        "dispatchReferral",
    )

    # The unit handles it: sign, draft, approve, submit — to the township centre.
    work = await handler.data(
        "{ myAssignments(filter: {kind: TO_SIGN}) { nodes { id deadlines { dueAt } } } }"
    )
    [leaf] = work["myAssignments"]["nodes"]
    assert datetime.fromisoformat(leaf["deadlines"]["dueAt"]) <= hop2_due
    ok(await handler.execute(SIGN, {"input": {"assignmentId": leaf["id"]}}), "signFor")
    ok(
        await handler.execute(
            reply_mutation("draftReply", "DraftReplyInput"),
            {"input": {"assignmentId": leaf["id"], **GOOD_REPLY}},
        ),
        "draftReply",
    )
    for mutation in ("approveReply", "submitReply"):
        ok(
            await leader.execute(
                reply_mutation(mutation, "AssignmentActionInput"),
                {"input": {"assignmentId": leaf["id"]}},
            ),
            mutation,
        )

    # Each centre reviews its own members' replies; the accepted reply climbs one hop each time.
    # 沭阳县 cannot review the township's member directly (not its member).
    skip = await county.execute(
        reply_mutation("reviewReply", "ReviewReplyInput"),
        {"input": {"assignmentId": leaf["id"], "accept": True}},
    )
    assert skip["data"]["reviewReply"]["errors"][0]["__typename"] == "NotFoundError"
    for reviewer, aid in ((town, leaf["id"]), (county, hop2), (city, hop1)):
        reviewed = ok(
            await reviewer.execute(
                reply_mutation("reviewReply", "ReviewReplyInput"),
                {"input": {"assignmentId": aid, "accept": True}},
            ),
            "reviewReply",
        )
        assert reviewed["assignment"]["status"] == "ACCEPTED"
    final = await city.data(CHAIN, {"id": tid})
    assert final["ticket"]["status"] == "REPLIED"

    # The chain, as each level sees it.
    assert hops(final["ticket"]) == [("3213", "321322"), ("321322", "321322001")]
    county_view = await county.data(CHAIN, {"id": tid})
    assert hops(county_view["ticket"]) == [("3213", "321322"), ("321322", "321322001")]
    town_view = await town.data(CHAIN, {"id": tid})
    assert hops(town_view["ticket"]) == [("321322", "321322001")]

    # Queries across hops.
    by_to = await city.data(
        '{ tickets(filter: {referredTo: "321322001"}, first: 50) { nodes { id } } }'
    )
    assert tid in [n["id"] for n in by_to["tickets"]["nodes"]]
    by_from = await county.data(
        '{ tickets(filter: {referredFrom: "321322"}, first: 50) { nodes { id } } }'
    )
    assert tid in [n["id"] for n in by_from["tickets"]["nodes"]]

    # Withholding the city's read-down: it sees only its own hop, and nothing below.
    ok(
        await admin.execute(
            'mutation { setReadDown(input: {centreCode: "3213", allowed: false}) '
            "{ centre { code } errors { code message } } }"
        ),
        "setReadDown",
    )
    city_view = await city.data(CHAIN, {"id": tid})
    assert hops(city_view["ticket"]) == [("3213", "321322")]


async def test_a_redo_reaches_the_unit_at_the_bottom(new_client: Any) -> None:
    city, county, dept_handler, dept_leader, admin = (new_client() for _ in range(5))
    await city.login("city.dispatcher")
    await county.login("shuyang.dispatcher")
    await dept_handler.login("shuyang.cgj.handler")
    await dept_leader.login("shuyang.cgj.leader")
    await admin.login("admin")
    tid = ok(
        await city.execute(
            ticket_mutation("createTicket", "CreateTicketInput"),
            {
                "input": {
                    "channel": "GRID",
                    "originLevel": "CITY",
                    "categoryCode": "CM",
                    "title": "沭阳县城某路段占道经营",
                    "content": "沭阳县城某路段夜间占道经营严重。",
                    "complainant": {"anonymous": True},
                }
            },
        ),
        "createTicket",
    )["ticket"]["id"]
    ok(
        await city.execute(
            ticket_mutation("dispatchTicket", "DispatchTicketInput"),
            {"input": {"ticketId": tid, "leadUnitId": await unit_id(admin, "沭阳县")}},
        ),
        "dispatchTicket",
    )
    [item] = [q for q in await queue(county, "REFERRALS_TO_SIGN") if q["ticket"]["id"] == tid]
    hop = item["assignment"]["id"]
    ok(await county.execute(SIGN, {"input": {"assignmentId": hop}}), "signFor")
    dept = await unit_id(county, "沭阳县城管局", member_of="321322")
    ok(
        await county.execute(HOP, {"input": {"assignmentId": hop, "leadUnitId": dept}}),
        "dispatchReferral",
    )
    [leaf] = (
        await dept_handler.data("{ myAssignments(filter: {kind: TO_SIGN}) { nodes { id } } }")
    )["myAssignments"]["nodes"]
    anonymous_reply = {
        "handlerName": "周执法",
        "handlerPhone": "13900002222",
        "handling": "当晚联合执法清理占道摊点，设置禁止占道经营提示牌，安排夜间巡查。",
        "text": "经现场核实，已清理占道摊点并安排夜间巡查，后续将常态化管理。",
        "outcome": "RESOLVED",
    }

    async def handle(aid: str) -> None:
        ok(
            await dept_handler.execute(
                reply_mutation("draftReply", "DraftReplyInput"),
                {"input": {"assignmentId": aid, **anonymous_reply}},
            ),
            "draftReply",
        )
        for mutation in ("approveReply", "submitReply"):
            ok(
                await dept_leader.execute(
                    reply_mutation(mutation, "AssignmentActionInput"),
                    {"input": {"assignmentId": aid}},
                ),
                mutation,
            )

    ok(await dept_handler.execute(SIGN, {"input": {"assignmentId": leaf["id"]}}), "signFor")
    await handle(leaf["id"])
    for reviewer, aid in ((county, leaf["id"]), (city, hop)):
        ok(
            await reviewer.execute(
                reply_mutation("reviewReply", "ReviewReplyInput"),
                {"input": {"assignmentId": aid, "accept": True}},
            ),
            "reviewReply",
        )
    ok(
        await city.execute(
            ticket_mutation("recordCallback", "RecordCallbackInput"),
            {"input": {"ticketId": tid, "satisfaction": "UNSATISFIED", "actuallyResolved": False}},
        ),
        "recordCallback",
    )
    ok(
        await city.execute(
            ticket_mutation("redoTicket", "RedoTicketInput"),
            {"input": {"ticketId": tid, "reason": "市民反映摊点夜间又出现"}},
        ),
        "redoTicket",
    )
    # The redo reaches the department that handled it, not only the county's face.
    redo = await dept_handler.data("{ myAssignments(filter: {kind: REDO}) { nodes { id } } }")
    assert [n["id"] for n in redo["myAssignments"]["nodes"]] == [leaf["id"]]
