"""Reference data administration (domain/tickets/admin.py, api/tickets/admin.py).

Only the city's centre_admin (``admin``) manages the category taxonomy, routing rules and time
limits; ``shuyang.admin`` (a county's centre_admin) and ``city.dispatcher`` are told "not
found". Bad input is refused and nothing changes. A new routing rule changes ``suggestUnits``
over HTTP; a new time limit changes the deadlines of the next dispatch (and only those).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from conftest import GraphQLClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.accounts import Principal
from domain.calendar import TZ, LimitUnit, TimeLimit
from domain.errors import DomainError, DuplicateName, InvalidInput, NotFound
from domain.events import Event
from domain.registry.models import Unit
from domain.tickets import admin as ta
from domain.tickets import service as ts
from domain.tickets.models import (
    Assignment,
    Category,
    Channel,
    OriginLevel,
    RoutingRule,
    Urgency,
)
from domain.uow import UnitOfWork

CITY = "3213"
WD = LimitUnit.WORKING_DAYS
H = LimitUnit.HOURS
MIN = LimitUnit.MINUTES
ND = LimitUnit.NATURAL_DAYS

Op = Callable[[UnitOfWork, Principal], Awaitable[Any]]


# ---- helpers -----------------------------------------------------------------------------------
async def state(engine: AsyncEngine) -> dict[str, Any]:
    """Everything an admin use case may change: the three tables and the event log."""
    async with engine.connect() as c:
        out: dict[str, Any] = {}
        for table, order in (
            ("category", "code"),
            ("routing_rule", "id"),
            ("time_limit", "channel, urgency"),
        ):
            rows = await c.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
            out[table] = [tuple(r) for r in rows]
        out["event"] = tuple((await c.execute(text("SELECT count(*), max(id) FROM event"))).one())
        return out


async def last_event_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int((await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one())


async def events_since(sessions: async_sessionmaker[AsyncSession], since: int) -> list[Event]:
    async with sessions() as s:
        rows = await s.execute(select(Event).where(Event.id > since).order_by(Event.id))
        return list(rows.scalars())


async def city_unit(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as s:
        return int(
            (
                await s.execute(select(Unit.id).where(Unit.name == name, Unit.member_of == CITY))
            ).scalar_one()
        )


async def get(sessions: async_sessionmaker[AsyncSession], model: Any, key: Any) -> Any:
    async with sessions() as s:
        return await s.get(model, key)


def sh(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=TZ)


# ---- categories --------------------------------------------------------------------------------
async def test_admin_creates_and_updates_categories(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await principal("admin")
    since = await last_event_id(sessions)

    top = await ta.create_category(
        uow=uow, actor=admin, code="PETS", parent_code=None, name_zh="宠物", name_en="Pets"
    )
    assert (top.code, top.parent_code, top.active) == ("PETS", None, True)
    child = await ta.create_category(
        uow=uow,
        actor=admin,
        code="PETS.STRAY_DOGS",
        parent_code="PETS",
        name_zh=" 流浪犬 ",
        name_en="Stray dogs",
    )
    assert (child.parent_code, child.name_zh) == ("PETS", "流浪犬")
    renamed = await ta.update_category(
        uow=uow, actor=admin, code="PETS.STRAY_DOGS", name_zh="流浪犬只", name_en="Stray dogs (all)"
    )
    assert (renamed.name_zh, renamed.name_en) == ("流浪犬只", "Stray dogs (all)")
    off = await ta.update_category(uow=uow, actor=admin, code="PETS.STRAY_DOGS", active=False)
    assert off.active is False
    # Unchanged values: no change, no event.
    await ta.update_category(uow=uow, actor=admin, code="PETS.STRAY_DOGS", active=False)

    stored = await get(sessions, Category, "PETS.STRAY_DOGS")
    assert (stored.name_zh, stored.active) == ("流浪犬只", False)
    evs = await events_since(sessions, since)
    assert [(e.type, e.entity_type, e.entity_id) for e in evs] == [
        ("category.created", "category", "PETS"),
        ("category.created", "category", "PETS.STRAY_DOGS"),
        ("category.updated", "category", "PETS.STRAY_DOGS"),
        ("category.updated", "category", "PETS.STRAY_DOGS"),
    ]
    assert evs[0].before is None
    assert evs[0].after == {
        "code": "PETS",
        "parentCode": None,
        "nameZh": "宠物",
        "nameEn": "Pets",
        "active": True,
    }
    assert evs[2].before is not None and evs[2].after is not None
    assert (evs[2].before["nameZh"], evs[2].after["nameZh"]) == ("流浪犬", "流浪犬只")
    assert evs[3].before is not None and evs[3].after is not None
    assert (evs[3].before["active"], evs[3].after["active"]) == (True, False)
    assert all(e.actor == admin.subject and e.domains == [f"centre:{CITY}/"] for e in evs)


async def test_category_deactivation_goes_children_first(
    uow: UnitOfWork, principal: Any, engine: AsyncEngine
) -> None:
    admin = await principal("admin")
    before = await state(engine)
    with pytest.raises(InvalidInput) as exc:
        await ta.update_category(uow=uow, actor=admin, code="CM", active=False)
    assert exc.value.field == "active"
    assert await state(engine) == before

    # With every subcategory off, the parent goes; a child comes back only after its parent.
    async with uow:
        children = list(
            (
                await uow.session.execute(select(Category.code).where(Category.parent_code == "WS"))
            ).scalars()
        )
    for code in children:
        await ta.update_category(uow=uow, actor=admin, code=code, active=False)
    assert not (await ta.update_category(uow=uow, actor=admin, code="WS", active=False)).active
    with pytest.raises(InvalidInput):
        await ta.update_category(uow=uow, actor=admin, code=children[0], active=True)
    await ta.update_category(uow=uow, actor=admin, code="WS", active=True)
    back = await ta.update_category(uow=uow, actor=admin, code=children[0], active=True)
    assert back.active


CATEGORY_CASES: list[tuple[str, dict[str, Any], type[DomainError], str | None]] = [
    ("lower case", {"code": "pets"}, InvalidInput, "code"),
    ("three levels", {"code": "CM.A.B", "parent_code": "CM"}, InvalidInput, "code"),
    ("empty code", {"code": " "}, InvalidInput, "code"),
    ("child without parent", {"code": "CM.NEW", "parent_code": None}, InvalidInput, "parentCode"),
    (
        "prefix not the parent's",
        {"code": "RT.NEW", "parent_code": "CM"},
        InvalidInput,
        "parentCode",
    ),
    ("top level with parent", {"code": "NEW", "parent_code": "CM"}, InvalidInput, "code"),
    ("unknown parent", {"code": "ZZ.NEW", "parent_code": "ZZ"}, InvalidInput, "parentCode"),
    ("empty name", {"name_zh": "  "}, InvalidInput, "nameZh"),
    ("long name", {"name_en": "x" * 101}, InvalidInput, "nameEn"),
    ("taken code", {"code": "CM", "parent_code": None}, DuplicateName, "code"),
    ("sibling's name", {"name_zh": "路灯"}, DuplicateName, "nameZh"),
]


@pytest.mark.parametrize(
    ("override", "error", "field"),
    [c[1:] for c in CATEGORY_CASES],
    ids=[c[0] for c in CATEGORY_CASES],
)
async def test_bad_category_input_changes_nothing(
    uow: UnitOfWork,
    principal: Any,
    engine: AsyncEngine,
    override: dict[str, Any],
    error: type[DomainError],
    field: str | None,
) -> None:
    admin = await principal("admin")
    args: dict[str, Any] = {
        "code": "CM.NEW_THING",
        "parent_code": "CM",
        "name_zh": "新事项",
        "name_en": "New thing",
        **override,
    }
    before = await state(engine)
    with pytest.raises(error) as exc:
        await ta.create_category(uow=uow, actor=admin, **args)
    assert exc.value.field == field
    assert await state(engine) == before


@pytest.mark.parametrize(
    ("args", "error", "field"),
    [
        ({"code": "CM", "name_zh": ""}, InvalidInput, "nameZh"),
        ({"code": "CM"}, InvalidInput, "code"),
        ({"code": "CM", "name_zh": "道路交通"}, DuplicateName, "nameZh"),
        ({"code": "NOPE", "active": False}, NotFound, None),
    ],
)
async def test_bad_category_update_changes_nothing(
    uow: UnitOfWork,
    principal: Any,
    engine: AsyncEngine,
    args: dict[str, Any],
    error: type[DomainError],
    field: str | None,
) -> None:
    admin = await principal("admin")
    before = await state(engine)
    with pytest.raises(error) as exc:
        await ta.update_category(uow=uow, actor=admin, **args)
    assert exc.value.field == field
    assert await state(engine) == before


# ---- routing rules -----------------------------------------------------------------------------
async def test_admin_sets_updates_removes_and_restores_a_routing_rule(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await principal("admin")
    power = await city_unit(sessions, "市供电公司")
    since = await last_event_id(sessions)

    rule = await ta.set_routing_rule(
        uow=uow,
        actor=admin,
        category_code="CM.STREET_LIGHTS",
        division_prefix="321302",
        unit_id=power,
        priority=5,
        note="路灯供电故障",
    )
    assert (rule.division_prefix, rule.priority, rule.active) == ("321302", 5, True)
    # The same (category, prefix, unit) is the same rule: updated, not duplicated.
    again = await ta.set_routing_rule(
        uow=uow,
        actor=admin,
        category_code="CM.STREET_LIGHTS",
        division_prefix="321302",
        unit_id=power,
        priority=30,
        note=None,
    )
    assert again.id == rule.id
    assert (again.priority, again.note) == (30, None)
    removed = await ta.remove_routing_rule(uow=uow, actor=admin, rule_id=rule.id)
    assert removed.active is False
    stored = await get(sessions, RoutingRule, rule.id)
    assert stored is not None and stored.active is False  # kept, never deleted
    with pytest.raises(InvalidInput):
        await ta.remove_routing_rule(uow=uow, actor=admin, rule_id=rule.id)
    restored = await ta.set_routing_rule(
        uow=uow,
        actor=admin,
        category_code="CM.STREET_LIGHTS",
        division_prefix="321302",
        unit_id=power,
        priority=30,
        note=None,
    )
    assert (restored.id, restored.active) == (rule.id, True)
    # An empty prefix is the whole city (stored as NULL, like the seeded city-wide rules).
    city_wide = await ta.set_routing_rule(
        uow=uow,
        actor=admin,
        category_code="CM.STREET_LIGHTS",
        division_prefix="",
        unit_id=power,
        priority=40,
        note=None,
    )
    assert city_wide.division_prefix is None and city_wide.id != rule.id

    evs = await events_since(sessions, since)
    assert [e.type for e in evs] == [
        "routing_rule.created",
        "routing_rule.updated",
        "routing_rule.removed",
        "routing_rule.updated",
        "routing_rule.created",
    ]
    assert {e.entity_type for e in evs} == {"routing_rule"}
    assert evs[0].before is None and evs[0].after is not None
    assert evs[0].after["unitId"] == power and evs[0].after["divisionPrefix"] == "321302"
    assert evs[1].before is not None and evs[1].after is not None
    assert (evs[1].before["priority"], evs[1].after["priority"]) == (5, 30)
    assert evs[2].before is not None and evs[2].after is not None
    assert (evs[2].before["active"], evs[2].after["active"]) == (True, False)
    assert all(e.entity_id == str(rule.id) for e in evs[:4])


async def _deactivated_unit(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s, s.begin():
        unit = (
            await s.execute(select(Unit).where(Unit.name == "市水务集团", Unit.member_of == CITY))
        ).scalar_one()
        unit.active = False
        return int(unit.id)


ROUTING_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown category", {"category_code": "ZZ"}, "categoryCode"),
    ("letters in prefix", {"division_prefix": "3213a"}, "divisionPrefix"),
    ("prefix too long", {"division_prefix": "3" * 13}, "divisionPrefix"),
    ("negative priority", {"priority": -1}, "priority"),
    ("priority too high", {"priority": 1001}, "priority"),
    ("long note", {"note": "x" * 201}, "note"),
    ("unknown unit", {"unit_id": 999_999}, "unitId"),
    ("deactivated unit", {"unit_id": "deactivated"}, "unitId"),
]


@pytest.mark.parametrize(
    ("override", "field"), [c[1:] for c in ROUTING_CASES], ids=[c[0] for c in ROUTING_CASES]
)
async def test_bad_routing_rule_input_changes_nothing(
    uow: UnitOfWork,
    principal: Any,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    override: dict[str, Any],
    field: str,
) -> None:
    admin = await principal("admin")
    args: dict[str, Any] = {
        "category_code": "CM.STREET_LIGHTS",
        "division_prefix": None,
        "unit_id": await city_unit(sessions, "市供电公司"),
        "priority": 10,
        "note": None,
        **override,
    }
    if args["unit_id"] == "deactivated":
        args["unit_id"] = await _deactivated_unit(sessions)
    before = await state(engine)
    with pytest.raises(InvalidInput) as exc:
        await ta.set_routing_rule(uow=uow, actor=admin, **args)
    assert exc.value.field == field
    assert await state(engine) == before


async def test_removing_a_missing_rule_is_not_found(
    uow: UnitOfWork, principal: Any, engine: AsyncEngine
) -> None:
    before = await state(engine)
    with pytest.raises(NotFound):
        await ta.remove_routing_rule(uow=uow, actor=await principal("admin"), rule_id=999_999)
    assert await state(engine) == before


# ---- time limits -------------------------------------------------------------------------------
async def test_admin_sets_time_limits(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await principal("admin")
    since = await last_event_id(sessions)
    args: dict[str, Any] = {
        "channel": Channel.GRID,
        "urgency": Urgency.URGENT,
        "sign_for": TimeLimit(1, H),
        "handle": TimeLimit(2, WD),
        "return_window": TimeLimit(0, WD),
        "source": "市政府办公室文件（测试）",
    }
    row = await ta.set_time_limit(uow=uow, actor=admin, **args)
    assert (row.sign_for_amount, row.sign_for_unit) == (1, "HOURS")
    assert (row.handle_amount, row.handle_unit, row.return_window_amount) == (2, "WORKING_DAYS", 0)
    await ta.set_time_limit(uow=uow, actor=admin, **args)  # the same again: no event
    evs = await events_since(sessions, since)
    assert [(e.type, e.entity_type, e.entity_id) for e in evs] == [
        ("time_limit.updated", "time_limit", "GRID/URGENT")
    ]
    assert evs[0].before is not None and evs[0].after is not None
    assert evs[0].before["handle"] == {"amount": 1, "unit": "WORKING_DAYS"}
    assert evs[0].after["handle"] == {"amount": 2, "unit": "WORKING_DAYS"}
    assert evs[0].after["source"] == "市政府办公室文件（测试）"
    async with sessions() as s:
        rows = await ta.list_time_limits(s)
    assert len(rows) == len(Channel) * len(Urgency)
    assert (rows[0].channel, rows[0].urgency) == (Channel.HOTLINE_12345, Urgency.NORMAL)


TIME_LIMIT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("zero sign-for", {"sign_for": TimeLimit(0, H)}, "signFor.amount"),
    ("zero handling", {"handle": TimeLimit(0, WD)}, "handle.amount"),
    ("return window 11 working days", {"return_window": TimeLimit(11, WD)}, "returnWindow.amount"),
    ("return window 15 days", {"return_window": TimeLimit(15, ND)}, "returnWindow.amount"),
    ("sign-for in a week of hours", {"sign_for": TimeLimit(200, H)}, "signFor.amount"),
    ("handling 61 working days", {"handle": TimeLimit(61, WD)}, "handle.amount"),
    ("sign-for after handling", {"sign_for": TimeLimit(3, WD)}, "signFor"),
    ("empty source", {"source": " "}, "source"),
    ("long source", {"source": "x" * 301}, "source"),
]


@pytest.mark.parametrize(
    ("override", "field"), [c[1:] for c in TIME_LIMIT_CASES], ids=[c[0] for c in TIME_LIMIT_CASES]
)
async def test_bad_time_limit_changes_nothing(
    uow: UnitOfWork, principal: Any, engine: AsyncEngine, override: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "channel": Channel.HOTLINE_12345,
        "urgency": Urgency.NORMAL,
        "sign_for": TimeLimit(30, MIN),
        "handle": TimeLimit(2, WD),
        "return_window": TimeLimit(1, WD),
        "source": "test",
        **override,
    }
    before = await state(engine)
    with pytest.raises(InvalidInput) as exc:
        await ta.set_time_limit(uow=uow, actor=await principal("admin"), **args)
    assert exc.value.field == field
    assert await state(engine) == before


async def test_a_new_time_limit_changes_the_next_dispatch_only(
    uow: UnitOfWork, principal: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin, dispatcher = await principal("admin"), await principal("city.dispatcher")
    cgj = await city_unit(sessions, "市城管局")
    now = sh("2026-03-04 09:15")  # a Wednesday

    async def dispatched() -> Assignment:
        t = await ts.create_ticket(
            uow=uow,
            actor=dispatcher,
            data=ts.NewTicket(
                channel=Channel.HOTLINE_12345,
                origin_level=OriginLevel.CITY,
                category_code="CM.STREET_LIGHTS",
                title="路灯不亮",
                content="幸福路路灯不亮。",
                anonymous=True,
                received_at=now,
            ),
            now=now,
        )
        await ts.dispatch_ticket(
            uow=uow, actor=dispatcher, ticket_id=t.id, lead_unit_id=cgj, now=now
        )
        async with sessions() as s:
            return (
                await s.execute(select(Assignment).where(Assignment.ticket_id == t.id))
            ).scalar_one()

    first = await dispatched()
    # Seeded 12345/NORMAL: sign for within 1 working day, handle within 5.
    assert first.sign_by == sh("2026-03-05 09:15")
    assert first.due_at == sh("2026-03-11 09:15")

    await ta.set_time_limit(
        uow=uow,
        actor=admin,
        channel=Channel.HOTLINE_12345,
        urgency=Urgency.NORMAL,
        sign_for=TimeLimit(2, H),
        handle=TimeLimit(10, WD),
        return_window=TimeLimit(2, WD),
        source="test: a longer handling limit",
    )
    second = await dispatched()
    assert second.sign_by == sh("2026-03-04 11:15")
    assert second.return_by == sh("2026-03-06 09:15")
    assert second.due_at == sh("2026-03-18 09:15")  # 10 working days, two weekends crossed
    # The assignment made before keeps its deadlines.
    kept = await get(sessions, Assignment, first.id)
    assert (kept.sign_by, kept.due_at) == (first.sign_by, first.due_at)


# ---- who may -----------------------------------------------------------------------------------
def _operations(power: int, rule_id: int) -> dict[str, Op]:
    return {
        "createCategory": lambda uow, p: ta.create_category(
            uow=uow, actor=p, code="CM.NEW", parent_code="CM", name_zh="新", name_en="New"
        ),
        "updateCategory": lambda uow, p: ta.update_category(
            uow=uow, actor=p, code="CM", name_zh="城管"
        ),
        "updateMissingCategory": lambda uow, p: ta.update_category(
            uow=uow, actor=p, code="NOPE", name_zh="城管"
        ),
        "setRoutingRule": lambda uow, p: ta.set_routing_rule(
            uow=uow,
            actor=p,
            category_code="CM.STREET_LIGHTS",
            division_prefix="321322",
            unit_id=power,
            priority=1,
            note=None,
        ),
        "removeRoutingRule": lambda uow, p: ta.remove_routing_rule(
            uow=uow, actor=p, rule_id=rule_id
        ),
        "setTimeLimit": lambda uow, p: ta.set_time_limit(
            uow=uow,
            actor=p,
            channel=Channel.GRID,
            urgency=Urgency.NORMAL,
            sign_for=TimeLimit(1, H),
            handle=TimeLimit(1, WD),
            return_window=TimeLimit(1, WD),
            source="x",
        ),
    }


@pytest.mark.parametrize("username", ["shuyang.admin", "city.dispatcher"])
async def test_only_the_city_centre_admin_may(
    uow: UnitOfWork,
    principal: Any,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    username: str,
) -> None:
    actor = await principal(username)
    power = await city_unit(sessions, "市供电公司")
    async with sessions() as s:
        rule_id = int((await s.execute(select(func.min(RoutingRule.id)))).scalar_one())
    ops = _operations(power, rule_id)
    before = await state(engine)
    messages: dict[str, str] = {}
    for name, op in ops.items():
        with pytest.raises(NotFound) as exc:
            await op(uow, actor)
        messages[name] = exc.value.message
    assert await state(engine) == before
    # A refused category and a missing one look alike.
    assert messages["updateCategory"] == messages["updateMissingCategory"]
    # The city's admin may do every one of them (the missing category aside).
    admin = await principal("admin")
    for name, op in ops.items():
        if name == "updateMissingCategory":
            continue
        await op(uow, admin)
    assert await state(engine) != before


# ---- over HTTP ---------------------------------------------------------------------------------
ERR = "errors { __typename code message field }"
SET_RULE = f"""mutation($input: SetRoutingRuleInput!) {{ setRoutingRule(input: $input) {{
  routingRule {{ id categoryCode divisionPrefix priority note active specificity
    unit {{ name }} category {{ code name }} }} {ERR} }} }}"""
REMOVE_RULE = f"""mutation($input: RemoveRoutingRuleInput!) {{ removeRoutingRule(input: $input) {{
  routingRule {{ id active }} {ERR} }} }}"""
SUGGEST = """query($id: ID!) { suggestUnits(ticketId: $id) {
  unit { name } score ruleCategory ruleDivisionPrefix rulePriority ruleNote } }"""
CREATE_TICKET = f"""mutation($input: CreateTicketInput!) {{ createTicket(input: $input) {{
  ticket {{ id }} {ERR} }} }}"""
SET_LIMIT = f"""mutation($input: SetTimeLimitInput!) {{ setTimeLimit(input: $input) {{
  timeLimit {{ channel urgency signFor {{ amount unit }} handle {{ amount unit }}
    returnWindow {{ amount unit }} source }} {ERR} }} }}"""
CREATE_CATEGORY = f"""mutation($input: CreateCategoryInput!) {{ createCategory(input: $input) {{
  category {{ code name nameEn parentCode }} active {ERR} }} }}"""
UPDATE_CATEGORY = f"""mutation($input: UpdateCategoryInput!) {{ updateCategory(input: $input) {{
  category {{ code name }} active {ERR} }} }}"""


def payload(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert not body.get("errors"), body
    result: dict[str, Any] = body["data"][field]
    return result


def ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    result = payload(body, field)
    assert result["errors"] == [], result
    return result


async def city_unit_gid(client: GraphQLClient, name: str) -> str:
    data = await client.data(
        'query($s: String!) { units(filter: {search: $s, memberOf: "3213"}) '
        "{ nodes { id name } } }",
        {"s": name},
    )
    matches = [u["id"] for u in data["units"]["nodes"] if u["name"] == name]
    assert len(matches) == 1, data
    return str(matches[0])


async def test_a_new_routing_rule_changes_suggest_units(new_client: Any) -> None:
    admin, dispatcher, county = new_client(), new_client(), new_client()
    await admin.login("admin")
    await dispatcher.login("city.dispatcher")
    await county.login("shuyang.admin")

    ticket = ok(
        await dispatcher.execute(
            CREATE_TICKET,
            {
                "input": {
                    "channel": "HOTLINE_12345",
                    "originLevel": "CITY",
                    "categoryCode": "CM.STREET_LIGHTS",
                    "title": "幸福路路灯不亮",
                    "content": "幸福路路灯连续三晚不亮。",
                    "divisionCode": "321302001",
                    "complainant": {"anonymous": True},
                }
            },
        ),
        "createTicket",
    )["ticket"]
    seeded = (await dispatcher.data(SUGGEST, {"id": ticket["id"]}))["suggestUnits"]
    assert [s["unit"]["name"] for s in seeded] == ["市城管局", "宿城区"]

    power = await city_unit_gid(admin, "市供电公司")
    rule_input = {
        "categoryCode": "CM.STREET_LIGHTS",
        "divisionPrefix": "321302",
        "unitId": power,
        "priority": 5,
        "note": "宿城区路灯供电线路",
    }
    # Neither a county's admin nor a dispatcher may; nothing changes.
    for other in (county, dispatcher):
        refused = payload(await other.execute(SET_RULE, {"input": rule_input}), "setRoutingRule")
        assert refused["routingRule"] is None
        assert [e["__typename"] for e in refused["errors"]] == ["NotFoundError"]
    assert (await dispatcher.data(SUGGEST, {"id": ticket["id"]}))["suggestUnits"] == seeded

    rule = ok(await admin.execute(SET_RULE, {"input": rule_input}), "setRoutingRule")["routingRule"]
    assert rule["unit"] == {"name": "市供电公司"}
    assert rule["category"] == {"code": "CM.STREET_LIGHTS", "name": "路灯"}
    assert (rule["divisionPrefix"], rule["specificity"], rule["active"]) == ("321302", 206, True)

    suggested = (await dispatcher.data(SUGGEST, {"id": ticket["id"]}))["suggestUnits"]
    assert [s["unit"]["name"] for s in suggested] == ["市供电公司", "市城管局", "宿城区"]
    assert suggested[0] == {
        "unit": {"name": "市供电公司"},
        "score": 206,
        "ruleCategory": "CM.STREET_LIGHTS",
        "ruleDivisionPrefix": "321302",
        "rulePriority": 5,
        "ruleNote": "宿城区路灯供电线路",
    }

    listed = await admin.data(
        '{ routingRules(categoryCode: "CM.STREET_LIGHTS", first: 10) '
        "{ totalCount nodes { id unit { name } } } }"
    )
    assert rule["id"] in [n["id"] for n in listed["routingRules"]["nodes"]]

    # Bad input is a typed error; removal restores the seeded suggestions.
    bad = payload(
        await admin.execute(SET_RULE, {"input": {**rule_input, "divisionPrefix": "32-13"}}),
        "setRoutingRule",
    )
    assert [(e["__typename"], e["field"]) for e in bad["errors"]] == [
        ("InvalidInputError", "divisionPrefix")
    ]
    removed = ok(
        await admin.execute(REMOVE_RULE, {"input": {"ruleId": rule["id"]}}), "removeRoutingRule"
    )["routingRule"]
    assert removed == {"id": rule["id"], "active": False}
    assert (await dispatcher.data(SUGGEST, {"id": ticket["id"]}))["suggestUnits"] == seeded
    inactive = await admin.data(
        '{ routingRules(categoryCode: "CM", includeInactive: true, first: 100) '
        "{ nodes { id active } } }"
    )
    assert {"id": rule["id"], "active": False} in inactive["routingRules"]["nodes"]


async def test_categories_and_time_limits_over_http(new_client: Any) -> None:
    admin, county = new_client(), new_client()
    await admin.login("admin")
    await county.login("shuyang.admin")

    created = ok(
        await admin.execute(
            CREATE_CATEGORY,
            {
                "input": {
                    "code": "CM.DRONES",
                    "parentCode": "CM",
                    "nameZh": "无人机",
                    "nameEn": "Drones",
                }
            },
        ),
        "createCategory",
    )
    assert created["category"] == {
        "code": "CM.DRONES",
        "name": "无人机",
        "nameEn": "Drones",
        "parentCode": "CM",
    }
    assert created["active"] is True
    dup = payload(
        await admin.execute(
            CREATE_CATEGORY,
            {
                "input": {
                    "code": "CM.DRONES",
                    "parentCode": "CM",
                    "nameZh": "无人机2",
                    "nameEn": "D",
                }
            },
        ),
        "createCategory",
    )
    assert [e["__typename"] for e in dup["errors"]] == ["DuplicateNameError"]
    refused = payload(
        await county.execute(UPDATE_CATEGORY, {"input": {"code": "CM.DRONES", "active": False}}),
        "updateCategory",
    )
    assert [e["__typename"] for e in refused["errors"]] == ["NotFoundError"]
    off = ok(
        await admin.execute(UPDATE_CATEGORY, {"input": {"code": "CM.DRONES", "active": False}}),
        "updateCategory",
    )
    assert off["active"] is False
    listed = await admin.data('{ categories(parentCode: "CM") { code } }')
    assert "CM.DRONES" not in [c["code"] for c in listed["categories"]]

    limit_input = {
        "channel": "GRID",
        "urgency": "SAFETY_CRITICAL",
        "signFor": {"amount": 15, "unit": "MINUTES"},
        "handle": {"amount": 12, "unit": "HOURS"},
        "returnWindow": {"amount": 1, "unit": "WORKING_DAYS"},
        "source": "网格化管理办法（测试）",
    }
    negative = payload(
        await admin.execute(
            SET_LIMIT, {"input": {**limit_input, "handle": {"amount": -1, "unit": "HOURS"}}}
        ),
        "setTimeLimit",
    )
    assert [(e["__typename"], e["field"]) for e in negative["errors"]] == [
        ("InvalidInputError", "handle.amount")
    ]
    refused = payload(await county.execute(SET_LIMIT, {"input": limit_input}), "setTimeLimit")
    assert [e["__typename"] for e in refused["errors"]] == ["NotFoundError"]
    before = await admin.data("{ timeLimits { channel urgency handle { amount unit } } }")
    grid = [
        t
        for t in before["timeLimits"]
        if (t["channel"], t["urgency"]) == ("GRID", "SAFETY_CRITICAL")
    ]
    assert grid == [
        {"channel": "GRID", "urgency": "SAFETY_CRITICAL", "handle": {"amount": 24, "unit": "HOURS"}}
    ]
    limit = ok(await admin.execute(SET_LIMIT, {"input": limit_input}), "setTimeLimit")["timeLimit"]
    assert limit == limit_input
    after = await county.data("{ timeLimits { channel urgency handle { amount unit } source } }")
    assert {
        "channel": "GRID",
        "urgency": "SAFETY_CRITICAL",
        "handle": {"amount": 12, "unit": "HOURS"},
        "source": "网格化管理办法（测试）",
    } in after["timeLimits"]
    assert len(after["timeLimits"]) == 21
