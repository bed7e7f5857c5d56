"""End to end: a real HTTP client against the app served by uvicorn on a real socket.

Covers the acceptance scenario (a county supervisor sees only its own members), mutations with
typed errors, login and tokens, Relay (node/nodes, pagination), the baseline protections
(body size, depth, aliases, tokens, GET, GraphiQL, /healthz), masking of unexpected errors and
a pinned statement count for list queries (no N+1).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from conftest import GraphQLClient, LiveServer, StatementCounter, make_settings
from graphql import get_introspection_query

from api.auth import issue_token
from api.relay import to_global_id
from domain.db import asyncpg_dsn

SHUYANG = "321322"
SIYANG = "321323"
SHUYANG_MEMBERS = {"沭阳县城管局", "沭阳县住房城乡建设局", "沭城街道"}
SIYANG_MEMBERS = {"泗阳县城管局", "泗阳县水务局"}

MEMBERS_WITH_STAFF = """
query($code: String!) {
  centre(code: $code) {
    code
    name
    members { totalCount nodes { id name staff { id username phone } } }
  }
}
"""

MEMBERS = """
query($code: String!) {
  centre(code: $code) { members(first: 100) { totalCount nodes { id name active } } }
}
"""

CREATE_UNIT = """
mutation($input: CreateUnitInput!) {
  createUnit(input: $input) {
    unit { id name category active memberOf { code } }
    errors { __typename code message field }
  }
}
"""

UPDATE_UNIT = """
mutation($input: UpdateUnitInput!) {
  updateUnit(input: $input) {
    unit { id name }
    errors { __typename code message field }
  }
}
"""

UNIT = """
query($id: ID!) {
  unit(id: $id) {
    id name active
    history { totalCount nodes { type actor before after } }
  }
}
"""

PAGE = """
query($first: Int, $after: String) {
  units(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}
"""


# ---- helpers -------------------------------------------------------------------------------
@pytest.fixture
async def as_user(new_client: Any) -> Any:
    """``await as_user("siyang.admin")`` -> a logged-in client of its own."""

    async def make(username: str) -> GraphQLClient:
        c: GraphQLClient = new_client()
        await c.login(username)
        return c

    return make


def _decode_gid(gid: str) -> tuple[str, str]:
    raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode()
    type_name, _, key = raw.partition(":")
    return type_name, key


def _codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


async def _member_names(c: GraphQLClient, code: str) -> set[str]:
    data = await c.data(MEMBERS, {"code": code})
    assert data["centre"] is not None, f"{code} should be visible to this user"
    members = data["centre"]["members"]
    names = {n["name"] for n in members["nodes"]}
    assert members["totalCount"] == len(names)
    return names


async def _siyang_unit_id(as_user: Any) -> str:
    siyang = await as_user("siyang.admin")
    data = await siyang.data(MEMBERS, {"code": SIYANG})
    return str(data["centre"]["members"]["nodes"][0]["id"])


async def _shuyang_unit(c: GraphQLClient, name: str) -> dict[str, Any]:
    data = await c.data(MEMBERS_WITH_STAFF, {"code": SHUYANG})
    by_name = {n["name"]: n for n in data["centre"]["members"]["nodes"]}
    return dict(by_name[name])


# ---- 1. the acceptance scenario --------------------------------------------------------------
async def test_county_supervisor_sees_own_members_with_staff(client: GraphQLClient) -> None:
    await client.login("shuyang.supervisor")
    data = await client.data(MEMBERS_WITH_STAFF, {"code": SHUYANG})
    centre = data["centre"]
    assert centre["code"] == SHUYANG
    assert centre["name"] == "沭阳县"
    members = centre["members"]
    assert members["totalCount"] == 3
    staff = {n["name"]: n["staff"] for n in members["nodes"]}
    assert set(staff) == SHUYANG_MEMBERS
    assert [(s["username"], s["phone"]) for s in staff["沭阳县城管局"]] == [
        ("shuyang.cgj.leader", "13800000111"),
        ("shuyang.cgj.handler", "13800000112"),
    ]
    assert [(s["username"], s["phone"]) for s in staff["沭阳县住房城乡建设局"]] == [
        ("shuyang.zjj.leader", "13800000113"),
        ("shuyang.zjj.handler", "13800000114"),
    ]
    assert staff["沭城街道"] == []
    # A township's own department (member of 321322001) is not a member of 沭阳县.
    assert "沭城街道社区服务办" not in staff


async def test_county_supervisor_cannot_see_another_county(
    client: GraphQLClient, as_user: Any
) -> None:
    siyang_unit = await _siyang_unit_id(as_user)
    await client.login("shuyang.supervisor")

    body = await client.execute(MEMBERS_WITH_STAFF, {"code": SIYANG})
    assert body == {"data": {"centre": None}}

    data = await client.data('{ units(filter: {memberOf: "321323"}) { totalCount nodes { id } } }')
    assert data["units"] == {"totalCount": 0, "nodes": []}

    # Everything this supervisor can list is 沭阳县's: its members, and the city member that
    # stands for 沭阳县 (its face upward, needed to follow referrals) — nothing of 泗阳县.
    data = await client.data("{ units(first: 100) { totalCount nodes { name } } }")
    assert {n["name"] for n in data["units"]["nodes"]} == SHUYANG_MEMBERS | {"沭阳县"}
    assert data["units"]["totalCount"] == 4

    # Another county's unit looks exactly like a unit that does not exist.
    q = "query($id: ID!) { unit(id: $id) { id name } }"
    hidden = await client.execute(q, {"id": siyang_unit})
    missing = await client.execute(q, {"id": to_global_id("Unit", 999_999)})
    assert hidden == {"data": {"unit": None}}
    assert hidden == missing

    # ... and through node(id), too.
    nq = "query($id: ID!) { node(id: $id) { id } }"
    assert await client.execute(nq, {"id": siyang_unit}) == {"data": {"node": None}}


# ---- 2. mutations with typed errors ----------------------------------------------------------
async def test_create_unit_in_own_centre(client: GraphQLClient, as_user: Any) -> None:
    await client.login("shuyang.admin")
    data = await client.data(
        CREATE_UNIT,
        {"input": {"name": "沭阳县测试局", "category": "DEPARTMENT", "memberOf": SHUYANG}},
    )
    payload = data["createUnit"]
    assert payload["errors"] == []
    unit = payload["unit"]
    assert unit["name"] == "沭阳县测试局"
    assert unit["category"] == "DEPARTMENT"
    assert unit["active"] is True
    assert unit["memberOf"] == {"code": SHUYANG}
    assert _decode_gid(unit["id"])[0] == "Unit"

    assert await _member_names(client, SHUYANG) == {*SHUYANG_MEMBERS, "沭阳县测试局"}
    # Visible to the county's supervisor too, by the id the payload returned.
    sup = await as_user("shuyang.supervisor")
    got = await sup.data(UNIT, {"id": unit["id"]})
    assert got["unit"]["name"] == "沭阳县测试局"


async def test_create_unit_in_another_county_is_not_found(
    client: GraphQLClient, as_user: Any
) -> None:
    siyang = await as_user("siyang.admin")
    before = await _member_names(siyang, SIYANG)
    assert before == SIYANG_MEMBERS

    await client.login("shuyang.admin")
    data = await client.data(
        CREATE_UNIT,
        {"input": {"name": "越权单位", "category": "DEPARTMENT", "memberOf": SIYANG}},
    )
    payload = data["createUnit"]
    assert payload["unit"] is None
    assert len(payload["errors"]) == 1
    assert payload["errors"][0]["__typename"] == "NotFoundError"
    assert payload["errors"][0]["code"] == "NOT_FOUND"

    assert await _member_names(siyang, SIYANG) == before
    admin = await as_user("admin")  # reads down the whole city
    found = await admin.data('{ units(filter: {search: "越权单位"}) { totalCount } }')
    assert found["units"]["totalCount"] == 0


async def test_unknown_category_is_a_validation_error(client: GraphQLClient) -> None:
    await client.login("shuyang.admin")
    body = await client.execute(
        'mutation { createUnit(input: {name: "坏类别", category: NO_SUCH_CATEGORY,'
        ' memberOf: "321322"}) { unit { id } errors { code } } }'
    )
    assert body["data"] is None
    assert len(body["errors"]) == 1
    message = body["errors"][0]["message"]
    assert "UnitCategory" in message
    assert "NO_SUCH_CATEGORY" in message
    assert "Unexpected error" not in message

    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS


async def test_unknown_category_in_variables_changes_nothing(client: GraphQLClient) -> None:
    await client.login("shuyang.admin")
    body = await client.execute(
        CREATE_UNIT, {"input": {"name": "坏类别", "category": "BOGUS", "memberOf": SHUYANG}}
    )
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    assert "BOGUS" not in json.dumps(body.get("data"))
    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        (
            CREATE_UNIT,
            {"input": {"name": "坏类别", "category": "BOGUS", "memberOf": SHUYANG}},
            "UnitCategory",
        ),
        (PAGE, {"first": "ten"}, "Int"),
        ("query($code: String!) { centre(code: $code) { name } }", {}, "$code"),
    ],
    ids=["enum", "int", "missing"],
)
async def test_invalid_variable_values_are_readable(
    client: GraphQLClient, query: str, variables: dict[str, Any], expected: str
) -> None:
    await client.login("shuyang.admin")
    body = await client.execute(query, variables)
    assert body.get("data") is None
    err = body["errors"][0]
    assert expected in err["message"]
    assert (err.get("extensions") or {}).get("code") != "INTERNAL"


@pytest.mark.parametrize("name", ["", "   "])
async def test_empty_name_is_invalid_input(client: GraphQLClient, name: str) -> None:
    await client.login("shuyang.admin")
    data = await client.data(
        CREATE_UNIT, {"input": {"name": name, "category": "DEPARTMENT", "memberOf": SHUYANG}}
    )
    payload = data["createUnit"]
    assert payload["unit"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        ("InvalidInputError", "INVALID_INPUT", "name")
    ]
    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS


@pytest.mark.parametrize(
    "bad_id",
    [
        "!!!not-base64!!!",
        base64.urlsafe_b64encode(b"Unit:abc").decode(),  # not a number
        base64.urlsafe_b64encode(b"no-colon").decode(),
        to_global_id("Centre", SHUYANG),  # an ID, but of another type
    ],
)
async def test_update_unit_with_malformed_id(client: GraphQLClient, bad_id: str) -> None:
    await client.login("shuyang.admin")
    data = await client.data(UPDATE_UNIT, {"input": {"unitId": bad_id, "name": "改名"}})
    payload = data["updateUnit"]
    assert payload["unit"] is None
    assert [(e["__typename"], e["code"]) for e in payload["errors"]] == [
        ("InvalidInputError", "INVALID_INPUT")
    ]
    assert "改名" not in await _member_names(client, SHUYANG)


@pytest.mark.parametrize(
    "bad_id", ["!!!not-base64!!!", to_global_id("Centre", SHUYANG)], ids=["garbage", "centre-id"]
)
async def test_update_unit_malformed_id_names_the_input_field(
    client: GraphQLClient, bad_id: str
) -> None:
    await client.login("shuyang.admin")
    data = await client.data(UPDATE_UNIT, {"input": {"unitId": bad_id, "name": "改名"}})
    assert data["updateUnit"]["errors"][0]["field"] == "unitId"


async def test_deactivate_unit_records_history(client: GraphQLClient, as_user: Any) -> None:
    await client.login("shuyang.admin")
    target = await _shuyang_unit(client, "沭阳县城管局")
    data = await client.data(
        "mutation($id: ID!) { deactivateUnit(input: {unitId: $id}) {"
        " unit { id active } errors { __typename code } } }",
        {"id": target["id"]},
    )
    assert data["deactivateUnit"] == {
        "unit": {"id": target["id"], "active": False},
        "errors": [],
    }

    unit = (await client.data(UNIT, {"id": target["id"]}))["unit"]
    assert unit["active"] is False
    history = unit["history"]
    assert history["totalCount"] >= 1
    newest = history["nodes"][0]
    assert newest["type"] == "unit.deactivated"
    assert newest["actor"] == "user:shuyang.admin"
    assert newest["before"]["active"] is True
    assert newest["after"]["active"] is False
    assert newest["before"]["name"] == newest["after"]["name"] == "沭阳县城管局"

    inactive = await client.data(
        '{ units(filter: {memberOf: "321322", active: false}) { nodes { id } } }'
    )
    assert inactive["units"]["nodes"] == [{"id": target["id"]}]

    # Another county's admin cannot reactivate it: not found, nothing changes.
    siyang = await as_user("siyang.admin")
    data = await siyang.data(
        "mutation($id: ID!) { reactivateUnit(input: {unitId: $id}) {"
        " unit { id } errors { __typename } } }",
        {"id": target["id"]},
    )
    assert data["reactivateUnit"] == {"unit": None, "errors": [{"__typename": "NotFoundError"}]}
    assert (await client.data(UNIT, {"id": target["id"]}))["unit"]["active"] is False


# ---- 3. login and tokens -----------------------------------------------------------------------
LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { token errors { __typename code message } }
}
"""


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong-password"), ("no.such.user", "yiwang-demo"), ("admin", "")],
)
async def test_login_failure(client: GraphQLClient, username: str, password: str) -> None:
    data = await client.data(LOGIN, {"u": username, "p": password})
    payload = data["login"]
    assert payload["token"] is None
    assert [(e["__typename"], e["code"]) for e in payload["errors"]] == [
        ("UnauthenticatedError", "UNAUTHENTICATED")
    ]
    # The same message whether or not the user exists.
    assert payload["errors"][0]["message"] == "wrong username or password"


async def test_login_success_gives_a_working_token(client: GraphQLClient) -> None:
    data = await client.data(LOGIN, {"u": "admin", "p": "yiwang-demo"})
    token = data["login"]["token"]
    assert data["login"]["errors"] == []
    assert isinstance(token, str) and token.count(".") == 2
    me = await client.execute("{ me { username } }", token=token)
    assert me == {"data": {"me": {"username": "admin"}}}


async def test_no_token_is_unauthenticated(client: GraphQLClient) -> None:
    body = await client.execute("{ me { username } }")
    assert body["data"] is None
    assert _codes(body) == ["UNAUTHENTICATED"]
    assert "log in" in body["errors"][0]["message"]

    body = await client.execute('{ centre(code: "321322") { name } }')
    assert _codes(body) == ["UNAUTHENTICATED"]


def _forged_tokens(username: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": username, "iss": "yiwang", "iat": now, "exp": now + 3600, "typ": "staff"}
    unsigned = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
        + b"."
        + base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        + b"."
    ).decode()
    return {
        "wrong-secret": jwt.encode(claims, "not-the-server-secret" * 2, algorithm="HS256"),
        "alg-none": unsigned,
        "garbage": "not.a.jwt",
    }


@pytest.mark.parametrize("kind", ["wrong-secret", "alg-none", "garbage", "expired", "wrong-iss"])
async def test_forged_or_expired_token_is_anonymous(
    client: GraphQLClient, db_url: str, tmp_path: Path, kind: str
) -> None:
    # The live server's settings: same data folder, so the same generated JWT secret.
    settings = make_settings(db_url, tmp_path)
    good = issue_token(settings, "admin")
    assert await client.execute("{ me { username } }", token=good) == {
        "data": {"me": {"username": "admin"}}
    }

    if kind == "expired":
        token = issue_token(settings, "admin", ttl=-10)
    elif kind == "wrong-iss":
        token = issue_token(settings.model_copy(update={"jwt_issuer": "someone-else"}), "admin")
    else:
        token = _forged_tokens("admin")[kind]
    body = await client.execute("{ me { username } }", token=token)
    assert body["data"] is None
    assert _codes(body) == ["UNAUTHENTICATED"]


# ---- 4. Relay ------------------------------------------------------------------------------
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Centre { code name }
    ... on Unit { name }
    ... on Staff { username }
  }
}
"""

NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Centre { code }
    ... on Unit { name }
    ... on Staff { username }
  }
}
"""


async def test_node_and_nodes(client: GraphQLClient, as_user: Any) -> None:
    siyang = await as_user("siyang.admin")
    siyang_data = await siyang.data(MEMBERS_WITH_STAFF, {"code": SIYANG})
    siyang_unit = siyang_data["centre"]["members"]["nodes"][0]
    siyang_staff_id = next(
        s["id"] for n in siyang_data["centre"]["members"]["nodes"] for s in n["staff"]
    )

    await client.login("shuyang.supervisor")
    cgj = await _shuyang_unit(client, "沭阳县城管局")
    leader = cgj["staff"][0]
    assert leader["username"] == "shuyang.cgj.leader"
    centre_id = to_global_id("Centre", SHUYANG)

    got = await client.data(NODE, {"id": centre_id})
    assert got["node"] == {
        "__typename": "Centre",
        "id": centre_id,
        "code": SHUYANG,
        "name": "沭阳县",
    }
    got = await client.data(NODE, {"id": cgj["id"]})
    assert got["node"] == {"__typename": "Unit", "id": cgj["id"], "name": "沭阳县城管局"}
    got = await client.data(NODE, {"id": leader["id"]})
    assert got["node"] == {
        "__typename": "Staff",
        "id": leader["id"],
        "username": "shuyang.cgj.leader",
    }
    # Outside the scope: null, like a missing object.
    for hidden in (
        to_global_id("Centre", SIYANG),
        siyang_unit["id"],
        siyang_staff_id,
        to_global_id("Unit", 999_999),
        to_global_id("Staff", 999_999),
    ):
        assert await client.execute(NODE, {"id": hidden}) == {"data": {"node": None}}, hidden

    ids = [
        leader["id"],
        siyang_unit["id"],
        centre_id,
        cgj["id"],
        to_global_id("Centre", SIYANG),
        siyang_staff_id,
    ]
    got = await client.data(NODES, {"ids": ids})
    assert got["nodes"] == [
        {"__typename": "Staff", "id": leader["id"], "username": "shuyang.cgj.leader"},
        None,
        {"__typename": "Centre", "id": centre_id, "code": SHUYANG},
        {"__typename": "Unit", "id": cgj["id"], "name": "沭阳县城管局"},
        None,
        None,
    ]


async def test_node_with_malformed_id_is_invalid_input(client: GraphQLClient) -> None:
    await client.login("shuyang.supervisor")
    for bad in ("%%%", base64.urlsafe_b64encode(b"Unit:12abc").decode()):
        body = await client.execute(NODE, {"id": bad})
        assert _codes(body) == ["INVALID_INPUT"], body
        assert "malformed global ID" in body["errors"][0]["message"]


async def test_node_requires_login(client: GraphQLClient) -> None:
    body = await client.execute(NODE, {"id": to_global_id("Centre", SHUYANG)})
    assert body["data"] == {"node": None}
    assert _codes(body) == ["UNAUTHENTICATED"]
    body = await client.execute(NODES, {"ids": [to_global_id("Centre", SHUYANG)]})
    assert body["data"] is None
    assert _codes(body) == ["UNAUTHENTICATED"]


async def test_nodes_refuses_more_than_a_page(client: GraphQLClient) -> None:
    await client.login("admin")
    ids = [to_global_id("Centre", SHUYANG)] * 101
    body = await client.execute(NODES, {"ids": ids})
    assert _codes(body) == ["INVALID_INPUT"]
    ok = await client.data(NODES, {"ids": ids[:100]})
    assert len(ok["nodes"]) == 100


async def test_walk_all_unit_pages(client: GraphQLClient) -> None:
    await client.login("admin")
    seen: list[int] = []
    sizes: list[int] = []
    totals: set[int] = set()
    after: str | None = None
    pages = 0
    while True:
        pages += 1
        assert pages < 20, "pagination does not terminate"
        data = (await client.data(PAGE, {"first": 50, "after": after}))["units"]
        totals.add(data["totalCount"])
        edges = data["edges"]
        info = data["pageInfo"]
        sizes.append(len(edges))
        for e in edges:
            type_name, key = _decode_gid(e["node"]["id"])
            assert type_name == "Unit"
            seen.append(int(key))
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        assert len(edges) == 50
        after = info["endCursor"]

    assert len(totals) == 1, f"totalCount changed between pages: {totals}"
    total = totals.pop()
    assert total >= 155  # the appendix's 155 members, plus the counties' read-down departments
    assert len(seen) == total
    assert len(set(seen)) == len(seen), "duplicates across pages"
    assert seen == sorted(seen), "not in stable id order"
    assert sizes == [50] * (total // 50) + ([total % 50] if total % 50 else [])

    # The cursor of the last page leads to an empty page, not back to the start.
    data = (await client.data(PAGE, {"first": 50, "after": after}))["units"]
    assert data["pageInfo"]["hasNextPage"] is False


async def test_page_size_limit(client: GraphQLClient) -> None:
    await client.login("admin")
    body = await client.execute(PAGE, {"first": 101})
    assert body["data"] is None
    assert _codes(body) == ["INVALID_INPUT"]
    assert "100" in body["errors"][0]["message"]

    data = await client.data(PAGE, {"first": 100})
    assert len(data["units"]["edges"]) == 100

    body = await client.execute(PAGE, {"first": -1})
    assert _codes(body) == ["INVALID_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "not-a-cursor",
        base64.urlsafe_b64encode(b'{"id": 3}').decode(),
        base64.urlsafe_b64encode(b'["abc"]').decode(),
        base64.urlsafe_b64encode(b"[true]").decode(),
        base64.urlsafe_b64encode(b"[]").decode(),
    ],
)
async def test_malformed_cursor(client: GraphQLClient, cursor: str) -> None:
    await client.login("admin")
    body = await client.execute(PAGE, {"first": 5, "after": cursor})
    assert body["data"] is None
    assert _codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["message"] == "malformed cursor"


# ---- 5. baseline protection ------------------------------------------------------------------
async def test_body_over_limit_is_413(client: GraphQLClient) -> None:
    await client.login("shuyang.admin")
    auth = {"Authorization": f"Bearer {client.token}"}
    create = (
        'mutation { createUnit(input: {name: "大请求", category: DEPARTMENT, memberOf: "321322"})'
        " { unit { id } } }"
    )
    big = json.dumps({"query": create, "variables": {"pad": "x" * 1_000_100}}).encode()
    assert len(big) > 1_000_000

    resp = await client.http.post(
        "/graphql", content=big, headers={**auth, "content-type": "application/json"}
    )
    assert resp.status_code == 413

    # Streamed without a Content-Length (chunked): caught while reading.
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 64_000):
            yield big[i : i + 64_000]

    resp = await client.http.post(
        "/graphql", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413

    # Neither was executed.
    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS

    # Just under the limit is served.
    ok = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 900_000}}).encode()
    resp = await client.http.post(
        "/graphql", content=ok, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 200
    assert resp.json() == {"data": {"__typename": "Query"}}


def _nested(levels: int) -> str:
    return '{ centre(code: "3213") { ' + "children { " * levels + "code" + " }" * levels + " } }"


async def test_query_depth_limit(client: GraphQLClient) -> None:
    await client.login("admin")
    body = await client.execute(_nested(20))
    assert body.get("data") is None
    message = body["errors"][0]["message"]
    assert "exceeds maximum operation depth of 12" in message

    # A shallow one of the same shape is fine.
    data = await client.data(_nested(2))
    assert data["centre"]["children"]


async def test_query_depth_limit_boundary(client: GraphQLClient) -> None:
    """The limit is 12: some depth passes and the next one is refused."""
    await client.login("admin")
    results = {}
    for levels in range(5, 16):
        body = await client.execute(_nested(levels))
        results[levels] = not any("depth" in e["message"] for e in body.get("errors") or [])
    allowed = [n for n, ok in results.items() if ok]
    refused = [n for n, ok in results.items() if not ok]
    assert allowed and refused
    assert max(allowed) + 1 == min(refused)
    # centre(1) + children(levels) + code(1): depth counted from 0 at the root field.
    assert max(allowed) + 1 == 12


async def test_alias_limit(client: GraphQLClient) -> None:
    await client.login("shuyang.admin")
    ok = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    assert len(await client.data(ok)) == 30

    too_many = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    body = await client.execute(too_many)
    assert body.get("data") is None
    assert "31 aliases found. Allowed: 30" in body["errors"][0]["message"]

    # A mutation over the limit is refused before anything runs.
    mutation = (
        "mutation { "
        + " ".join(
            f'm{i}: createUnit(input: {{name: "批量{i}", category: DEPARTMENT,'
            ' memberOf: "321322"}) { errors { code } }'
            for i in range(31)
        )
        + " }"
    )
    body = await client.execute(mutation)
    assert body.get("data") is None
    assert "aliases" in body["errors"][0]["message"]
    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS


async def test_token_limit(client: GraphQLClient) -> None:
    await client.login("admin")

    # 10 tokens a field: centre ( code : "3213" ) { name code }
    def repeated(n: int) -> str:
        return "{ " + " ".join(['centre(code: "3213") { name code }'] * n) + " }"

    fine = await client.data(repeated(195))  # 1952 tokens
    assert fine == {"centre": {"name": "宿迁市", "code": "3213"}}

    for too_many in (repeated(205), "{ " + " ".join(["__typename"] * 2100) + " }"):
        body = await client.execute(too_many)
        assert body.get("data") is None
        assert "more than 2000 tokens" in body["errors"][0]["message"]


async def test_get_queries_work_and_get_mutations_are_refused(client: GraphQLClient) -> None:
    resp = await client.http.get("/graphql", params={"query": "{__typename}"})
    assert resp.status_code == 200
    assert resp.json() == {"data": {"__typename": "Query"}}

    await client.login("shuyang.admin")
    auth = {"Authorization": f"Bearer {client.token}"}
    resp = await client.http.get("/graphql", params={"query": "{ me { username } }"}, headers=auth)
    assert resp.json() == {"data": {"me": {"username": "shuyang.admin"}}}

    mutation = (
        'mutation { createUnit(input: {name: "GET单位", category: DEPARTMENT, memberOf: "321322"})'
        " { unit { id } errors { code } } }"
    )
    resp = await client.http.get("/graphql", params={"query": mutation}, headers=auth)
    assert resp.status_code in (400, 405)
    assert "GET" in resp.text
    assert await _member_names(client, SHUYANG) == SHUYANG_MEMBERS

    # The same mutation by POST does run: the refusal above is about the method.
    data = await client.data(mutation)
    assert data["createUnit"]["errors"] == []
    assert "GET单位" in await _member_names(client, SHUYANG)


async def test_graphiql_served_in_demo_mode(client: GraphQLClient) -> None:
    resp = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "graphiql" in resp.text.lower()


async def test_graphiql_not_served_without_demo(db_url: str, tmp_path: Path) -> None:
    srv = LiveServer(make_settings(db_url, tmp_path / "nodemo", demo=False))
    srv.start()
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            resp = await http.get("/graphql", headers={"Accept": "text/html"})
            assert resp.status_code != 200
            assert "graphiql" not in resp.text.lower()
            assert not resp.headers.get("content-type", "").startswith("text/html")
            # The API itself is still served.
            resp = await http.post("/graphql", json={"query": "{ __typename }"})
            assert resp.json() == {"data": {"__typename": "Query"}}
    finally:
        srv.stop()


async def test_healthz(client: GraphQLClient) -> None:
    resp = await client.http.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert isinstance(body["policyReloads"], int) and body["policyReloads"] >= 1
    # The calendar says whether this year and the next have working-day data: the test
    # template enters one 2027 day, and chinesecalendar covers up to 2026.
    cal = body["calendar"]
    assert cal["yearCovered"] is (cal["year"] <= 2027)
    assert cal["nextYearCovered"] is (cal["nextYear"] <= 2027)


async def test_introspection_passes_the_limits(client: GraphQLClient) -> None:
    body = await client.execute(get_introspection_query(descriptions=True))
    assert not body.get("errors"), body.get("errors")
    schema = body["data"]["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert schema["mutationType"]["name"] == "Mutation"
    names = {t["name"] for t in schema["types"]}
    assert {"Centre", "Unit", "Staff", "Node", "NotFoundError", "UnitCategory"} <= names


# ---- 6. unexpected errors are masked -----------------------------------------------------------
SECRET = "secret-internal-detail-7f3a"


async def test_unexpected_exception_is_masked(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"{SECRET}: password=hunter2 at /srv/yiwang/domain/registry")

    # The server thread shares this process: the resolver calls the patched function.
    monkeypatch.setattr("domain.registry.queries.list_centres", boom)
    await client.login("admin")
    resp = await client.http.post(
        "/graphql",
        json={"query": "{ centres(first: 5) { totalCount } }"},
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1
    err = body["errors"][0]
    assert err["message"] == "Unexpected error."
    assert err["extensions"] == {"code": "INTERNAL"}
    for leak in (SECRET, "hunter2", "RuntimeError", "Traceback", "/srv/yiwang"):
        assert leak not in resp.text

    # Other fields of the same server are unaffected.
    data = await client.data('{ centre(code: "3213") { name } }')
    assert data["centre"]["name"] == "宿迁市"


async def test_database_failure_is_masked(client: GraphQLClient, db_url: str) -> None:
    await client.login("admin")
    assert (await client.data("{ units(first: 1) { totalCount } }"))["units"]["totalCount"] > 0

    dsn, kwargs = asyncpg_dsn(db_url)
    conn = await asyncpg.connect(dsn, **kwargs)
    try:
        await conn.execute(f'ALTER TABLE unit RENAME TO "unit_{SECRET.replace("-", "_")}"')
    finally:
        await conn.close()

    resp = await client.http.post(
        "/graphql",
        json={"query": "{ units(first: 5) { totalCount nodes { name } } }"},
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("Unexpected error.", {"code": "INTERNAL"})
    ]
    for leak in ("relation", "SELECT", "asyncpg", "sqlalchemy", "UndefinedTable", '"unit"'):
        assert leak not in resp.text, leak


# ---- 7. the statement count of list queries is pinned (no N+1) -------------------------------
LIST_DEEP = """
query($first: Int!) {
  units(first: $first) {
    totalCount
    nodes { name memberOf { name } represents { name } staff { username } }
  }
}
"""


# Measured per request: the principal (1); the centre tree for the scope (1); the page's count
# and rows (2); one batch of staff and one batch of centres (memberOf and represents share the
# centre loader) (2).
EXPECTED_STATEMENTS = 6


async def test_list_query_statement_count_is_constant(
    client: GraphQLClient, statement_counter: StatementCounter
) -> None:
    await client.login("admin")
    await client.data(LIST_DEEP, {"first": 5})  # warm up: pool connections, caches
    counts = {}
    for first in (10, 50, 100):
        statement_counter.take(with_transaction_control=True)
        data = await client.data(LIST_DEEP, {"first": first})
        statements = statement_counter.take(with_transaction_control=True)
        nodes = data["units"]["nodes"]
        assert len(nodes) == first
        # The data really was loaded: every unit has a centre; staff are readable for some.
        assert all(n["memberOf"] and n["memberOf"]["name"] for n in nodes)
        counts[first] = [
            s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "ROLLBACK"))
        ]
    assert len(counts[10]) == len(counts[50]) == len(counts[100]), {
        k: len(v) for k, v in counts.items()
    }
    assert len(counts[50]) == EXPECTED_STATEMENTS, "\n---\n".join(counts[50])
