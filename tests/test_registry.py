"""Registry use cases (domain/registry/service.py) against the real, seeded database.

Each test gets a fresh clone of the seeded template (demo data included). The demo tenants:
``admin`` keeps the city (3213), ``shuyang.admin`` 沭阳县 (321322), ``siyang.admin`` 泗阳县
(321323); each administers only its own centre's members.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authz import centre_domain, centre_obj, node_obj, unit_domain, unit_obj, user_subject
from authz import store as policy_store
from authz.enforcer import PolicyEnforcer
from domain import events
from domain.accounts import Principal, verify_password
from domain.errors import (
    Conflict,
    DomainError,
    DuplicateName,
    InvalidInput,
    NotFound,
    NotPermitted,
)
from domain.events import Event
from domain.registry import queries
from domain.registry import service as svc
from domain.registry.models import Centre, CentreKind, CentreLevel, Staff, Unit, UnitCategory
from domain.uow import UnitOfWork
from seeds.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_UNITS
from seeds.registry import CITY_CODE, centre_seeds

SHUYANG = "321322"
SIYANG = "321323"
SHUCHENG = "321322001"  # 沭城街道, township under 沭阳县, represented by the unit 沭城街道
XIAODIAN = "321311004"  # 晓店街道, statistically under 宿豫区, administered by 市湖滨新区
SUYU = "321311"
HUBIN = "3213Z1"
MISSING_UNIT = 999_999
MISSING_CENTRE = "999999"
TABLES = ("unit", "centre", "staff", "event", "casbin_rule")


# ---- helpers -------------------------------------------------------------------------------
async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as c:
        return {
            t: int((await c.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one())
            for t in TABLES
        }


async def last_event_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int((await s.execute(select(func.coalesce(func.max(Event.id), 0)))).scalar_one())


async def events_since(sessions: async_sessionmaker[AsyncSession], since: int) -> list[Event]:
    async with sessions() as s:
        rows = await s.execute(select(Event).where(Event.id > since).order_by(Event.id))
        return list(rows.scalars())


async def unit_by_key(sessions: async_sessionmaker[AsyncSession], key: str) -> Unit:
    async with sessions() as s:
        return (await s.execute(select(Unit).where(Unit.seed_key == key))).scalar_one()


async def unit_by_id(sessions: async_sessionmaker[AsyncSession], unit_id: int) -> Unit | None:
    async with sessions() as s:
        return await s.get(Unit, unit_id)


async def centre_by_code(sessions: async_sessionmaker[AsyncSession], code: str) -> Centre | None:
    async with sessions() as s:
        return await s.get(Centre, code)


async def rules(
    sessions: async_sessionmaker[AsyncSession], ptype: str, v0: str
) -> list[tuple[str, ...]]:
    async with sessions() as s:
        return sorted(tuple(r) for r in await policy_store.rules_of(s, ptype, v0=v0))


def only(evs: list[Event]) -> Event:
    assert len(evs) == 1, [(e.type, e.entity_id) for e in evs]
    return evs[0]


@dataclass
class Ctx:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    uow: UnitOfWork
    principal: Callable[[str], Awaitable[Principal]]

    async def unit_id(self, key: str) -> int:
        return (await unit_by_key(self.sessions, key)).id


@pytest.fixture
def ctx(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    enforcer: PolicyEnforcer,
    uow: UnitOfWork,
    principal: Any,
) -> Ctx:
    return Ctx(engine, sessions, enforcer, uow, principal)


# ---- 1. happy paths: row, exactly one event, policy mirror --------------------------------
async def test_create_unit_records_event_and_membership(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    unit = await svc.create_unit(
        uow=ctx.uow,
        actor=actor,
        name="  沭阳县   民政局 ",
        short_name="民政",
        category=UnitCategory.DEPARTMENT,
        member_of=SHUYANG,
    )

    row = await unit_by_id(ctx.sessions, unit.id)
    assert row is not None
    assert (row.name, row.short_name, row.member_of, row.active, row.version) == (
        "沭阳县 民政局",
        "民政",
        SHUYANG,
        True,
        1,
    )
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.actor, ev.entity_type, ev.entity_id) == (
        "unit.created",
        "user:shuyang.admin",
        "unit",
        str(unit.id),
    )
    assert ev.before is None
    assert ev.after == {
        "id": unit.id,
        "name": "沭阳县 民政局",
        "shortName": "民政",
        "category": "DEPARTMENT",
        "memberOf": SHUYANG,
        "represents": None,
        "active": True,
    }
    assert ev.domains == sorted([centre_domain(SHUYANG), unit_domain(unit.id)])
    assert await rules(ctx.sessions, "g2", unit_obj(unit.id)) == sorted(
        [(unit_obj(unit.id), centre_domain(SHUYANG)), (unit_obj(unit.id), unit_domain(unit.id))]
    )
    after = await counts(ctx.engine)
    assert after == {
        **before,
        "unit": before["unit"] + 1,
        "event": before["event"] + 1,
        "casbin_rule": before["casbin_rule"] + 2,
    }
    # The enforcer sees the membership at once: the county may manage its new unit, 泗阳 not.
    assert ctx.enforcer.has_member(unit_obj(unit.id), centre_domain(SHUYANG))
    assert ctx.enforcer.allowed("user:shuyang.admin", "unit", unit_obj(unit.id), "manage")
    assert not ctx.enforcer.allowed("user:siyang.admin", "unit", unit_obj(unit.id), "manage")


async def test_create_unit_representing_a_township_below(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    since = await last_event_id(ctx.sessions)
    unit = await svc.create_unit(
        uow=ctx.uow,
        actor=actor,
        name="南湖街道",
        category=UnitCategory.DEPARTMENT,
        member_of=SHUYANG,
        represents="321322002",
    )
    row = await unit_by_id(ctx.sessions, unit.id)
    assert row is not None and row.represents == "321322002"
    ev = only(await events_since(ctx.sessions, since))
    assert ev.type == "unit.created" and ev.after is not None
    assert ev.after["represents"] == "321322002"


async def test_update_unit_bumps_version_and_records_before_after(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-cgj")
    since = await last_event_id(ctx.sessions)

    updated = await svc.update_unit(
        uow=ctx.uow,
        actor=actor,
        unit_id=u.id,
        name="沭阳县城市管理局",
        short_name="县城管",
        category=UnitCategory.OTHER,
        expected_version=u.version,
    )

    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None
    assert (row.name, row.short_name, row.category, row.version) == (
        "沭阳县城市管理局",
        "县城管",
        UnitCategory.OTHER,
        u.version + 1,
    )
    assert updated.version == u.version + 1
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_id, ev.actor) == ("unit.updated", str(u.id), "user:shuyang.admin")
    assert ev.before is not None and ev.after is not None
    assert (ev.before["name"], ev.before["shortName"], ev.before["category"]) == (
        "沭阳县城管局",
        None,
        "DEPARTMENT",
    )
    assert (ev.after["name"], ev.after["shortName"], ev.after["category"]) == (
        "沭阳县城市管理局",
        "县城管",
        "OTHER",
    )
    assert {k: v for k, v in ev.before.items() if k not in ("name", "shortName", "category")} == {
        k: v for k, v in ev.after.items() if k not in ("name", "shortName", "category")
    }

    # A stale expected_version is a Conflict and changes nothing.
    snapshot = await counts(ctx.engine)
    with pytest.raises(Conflict):
        await svc.update_unit(
            uow=ctx.uow, actor=actor, unit_id=u.id, name="再改名", expected_version=u.version
        )
    assert await counts(ctx.engine) == snapshot
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.name == "沭阳县城市管理局"


async def test_update_unit_without_change_records_nothing(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-cgj")
    before = await counts(ctx.engine)
    await svc.update_unit(uow=ctx.uow, actor=actor, unit_id=u.id, name=" 沭阳县城管局 ")
    assert await counts(ctx.engine) == before
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.version == u.version


async def test_set_unit_active_deactivate_and_reactivate(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    since = await last_event_id(ctx.sessions)

    await svc.set_unit_active(uow=ctx.uow, actor=actor, unit_id=u.id, active=False)
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.active is False
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_id) == ("unit.deactivated", str(u.id))
    assert ev.before is not None and ev.after is not None
    assert (ev.before["active"], ev.after["active"]) == (True, False)

    # Deactivating again is a no-op: no second event.
    since = await last_event_id(ctx.sessions)
    await svc.set_unit_active(uow=ctx.uow, actor=actor, unit_id=u.id, active=False)
    assert await events_since(ctx.sessions, since) == []

    await svc.set_unit_active(uow=ctx.uow, actor=actor, unit_id=u.id, active=True)
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.active is True
    ev = only(await events_since(ctx.sessions, since))
    assert ev.type == "unit.activated"
    assert ev.before is not None and ev.after is not None
    assert (ev.before["active"], ev.after["active"]) == (False, True)


async def _grant_shucheng_registry_admin(ctx: Ctx) -> Principal:
    """Let shuyang.admin also keep 沭城街道's registry (granted by the city's registry admin)."""
    admin = await ctx.principal("admin")
    await svc.grant_role(
        uow=ctx.uow,
        actor=admin,
        username="shuyang.admin",
        role="registry_admin",
        domain=centre_domain(SHUCHENG),
    )
    return await ctx.principal("shuyang.admin")


async def test_move_unit_moves_membership_in_same_transaction(ctx: Ctx) -> None:
    actor = await _grant_shucheng_registry_admin(ctx)
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    assert u.member_of == SHUYANG
    assert ctx.enforcer.has_member(unit_obj(u.id), centre_domain(SHUYANG))
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    await svc.move_unit(uow=ctx.uow, actor=actor, unit_id=u.id, to_centre=SHUCHENG)

    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.member_of == SHUCHENG
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_id) == ("unit.moved", str(u.id))
    assert ev.before is not None and ev.after is not None
    assert (ev.before["memberOf"], ev.after["memberOf"]) == (SHUYANG, SHUCHENG)
    assert ev.domains == sorted(
        [centre_domain(SHUYANG), centre_domain(SHUCHENG), unit_domain(u.id)]
    )
    # The old membership row is gone, the new one is there, the unit's own domain stays.
    assert await rules(ctx.sessions, "g2", unit_obj(u.id)) == sorted(
        [(unit_obj(u.id), centre_domain(SHUCHENG)), (unit_obj(u.id), unit_domain(u.id))]
    )
    assert await counts(ctx.engine) == {**before, "event": before["event"] + 1}
    # ... and the enforcer reflects it after the commit.
    assert ctx.enforcer.has_member(unit_obj(u.id), centre_domain(SHUCHENG))
    assert not ctx.enforcer.has_member(unit_obj(u.id), centre_domain(SHUYANG))
    assert not ctx.enforcer.enforce(
        "user:shuyang.supervisor", centre_domain(SHUYANG), "unit", unit_obj(u.id), "supervise"
    )
    assert ctx.enforcer.enforce(
        "user:shucheng.dispatcher", centre_domain(SHUCHENG), "unit", unit_obj(u.id), "supervise"
    )


async def test_move_unit_to_its_own_centre_is_a_no_op(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    before = await counts(ctx.engine)
    await svc.move_unit(uow=ctx.uow, actor=actor, unit_id=u.id, to_centre=SHUYANG)
    assert await counts(ctx.engine) == before


async def test_create_centre_records_event_and_directory_entry(ctx: Ctx) -> None:
    admin = await ctx.principal("admin")
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    zone = await svc.create_centre(
        uow=ctx.uow,
        actor=admin,
        code="3213z9",
        name=" 测试功能区 ",
        kind=CentreKind.FUNCTIONAL_ZONE,
        parent_code=CITY_CODE,
    )
    assert zone.code == "3213Z9"
    row = await centre_by_code(ctx.sessions, "3213Z9")
    assert row is not None
    assert (row.name, row.level, row.kind, row.parent_code) == (
        "测试功能区",
        CentreLevel.COUNTY,
        CentreKind.FUNCTIONAL_ZONE,
        CITY_CODE,
    )
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_type, ev.entity_id, ev.before) == (
        "centre.created",
        "centre",
        "3213Z9",
        None,
    )
    assert ev.after == {
        "code": "3213Z9",
        "name": "测试功能区",
        "level": "COUNTY",
        "kind": "FUNCTIONAL_ZONE",
        "parentCode": CITY_CODE,
        "divisionCode": None,
    }
    assert await rules(ctx.sessions, "g2", centre_obj("3213Z9")) == [
        (centre_obj("3213Z9"), centre_domain("3213Z9"))
    ]
    assert await rules(ctx.sessions, "g2", node_obj("3213Z9")) == [
        (node_obj("3213Z9"), centre_domain(CITY_CODE))
    ]
    assert await counts(ctx.engine) == {
        **before,
        "centre": before["centre"] + 1,
        "event": before["event"] + 1,
        "casbin_rule": before["casbin_rule"] + 2,
    }
    assert ctx.enforcer.allowed("user:admin", "node", node_obj("3213Z9"), "manage")

    # A township below the new zone is one level lower.
    town = await svc.create_centre(
        uow=ctx.uow,
        actor=admin,
        code="3213Z9001",
        name="测试街道",
        kind=CentreKind.ADMINISTRATIVE,
        parent_code="3213Z9",
    )
    assert town.level == CentreLevel.TOWNSHIP


async def test_create_staff_with_roles(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-cgj")
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    staff = await svc.create_staff(
        uow=ctx.uow,
        actor=actor,
        username=" Shuyang.CGJ.Handler2 ",
        display_name="沭阳县城管局专人二",
        password="correct horse",
        phone="13900000001",
        unit_id=u.id,
        roles=["unit_handler", "unit_handler"],
    )

    async with ctx.sessions() as s:
        row = (
            await s.execute(select(Staff).where(Staff.username == "shuyang.cgj.handler2"))
        ).scalar_one()
    assert (row.id, row.unit_id, row.centre_code, row.phone) == (
        staff.id,
        u.id,
        None,
        "13900000001",
    )
    assert row.password_hash != "correct horse"
    assert verify_password("correct horse", row.password_hash)
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_type, ev.entity_id, ev.before) == (
        "staff.created",
        "staff",
        str(staff.id),
        None,
    )
    assert ev.after == {
        "id": staff.id,
        "username": "shuyang.cgj.handler2",
        "displayName": "沭阳县城管局专人二",
        "centreCode": None,
        "unitId": u.id,
        "active": True,
        "roles": ["unit_handler"],
        "domain": unit_domain(u.id),
    }
    assert ev.domains == sorted([centre_domain(SHUYANG), unit_domain(u.id)])
    subject = user_subject("shuyang.cgj.handler2")
    assert await rules(ctx.sessions, "g", subject) == [(subject, "unit_handler", unit_domain(u.id))]
    assert await counts(ctx.engine) == {
        **before,
        "staff": before["staff"] + 1,
        "event": before["event"] + 1,
        "casbin_rule": before["casbin_rule"] + 1,
    }
    assert ctx.enforcer.roles_by_domain(subject) == {unit_domain(u.id): {"unit_handler"}}


async def test_create_centre_staff(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    since = await last_event_id(ctx.sessions)
    staff = await svc.create_staff(
        uow=ctx.uow,
        actor=actor,
        username="shuyang.dispatcher2",
        display_name="沭阳县派单员二",
        password="long enough",
        centre_code=SHUYANG,
        roles=["dispatcher", "reviewer"],
    )
    assert staff.centre_code == SHUYANG and staff.unit_id is None
    ev = only(await events_since(ctx.sessions, since))
    assert ev.after is not None
    assert (ev.after["roles"], ev.after["domain"]) == (
        ["dispatcher", "reviewer"],
        centre_domain(SHUYANG),
    )
    assert ctx.enforcer.roles_by_domain("user:shuyang.dispatcher2") == {
        centre_domain(SHUYANG): {"dispatcher", "reviewer"}
    }


# ---- 2. tenant boundaries look like absence ------------------------------------------------
Call = Callable[[Ctx, Principal, Any], Awaitable[Any]]


def _update(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.update_unit(uow=c.uow, actor=a, unit_id=t, name="改个名字")


def _move_siyang_to_shuyang(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.move_unit(uow=c.uow, actor=a, unit_id=t, to_centre=SHUYANG)


def _deactivate(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.set_unit_active(uow=c.uow, actor=a, unit_id=t, active=False)


async def _move_own_unit_to(c: Ctx, a: Principal, t: Any) -> Any:
    return await svc.move_unit(
        uow=c.uow, actor=a, unit_id=await c.unit_id("demo:shuyang-cgj"), to_centre=t
    )


def _create_unit_in(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.create_unit(
        uow=c.uow, actor=a, name="新单位", category=UnitCategory.DEPARTMENT, member_of=t
    )


def _create_unit_staff(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.create_staff(
        uow=c.uow,
        actor=a,
        username="intruder",
        display_name="越权账号",
        password="long enough",
        unit_id=t,
        roles=["unit_leader"],
    )


def _create_centre_staff(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.create_staff(
        uow=c.uow,
        actor=a,
        username="intruder",
        display_name="越权账号",
        password="long enough",
        centre_code=t,
        roles=["dispatcher"],
    )


def _create_centre_under(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.create_centre(
        uow=c.uow,
        actor=a,
        code="321322999",
        name="新街道",
        kind=CentreKind.ADMINISTRATIVE,
        parent_code=t,
    )


def _move_centre(c: Ctx, a: Principal, t: Any) -> Awaitable[Any]:
    return svc.move_centre(uow=c.uow, actor=a, code=t, new_parent_code=SIYANG)


# (actor, call, out-of-scope target, missing target); a target "unit:<seed key>" is a unit id.
TENANT_CASES: dict[str, tuple[str, Call, str, Any]] = {
    "county updates other county's unit": (
        "shuyang.admin",
        _update,
        "unit:demo:siyang-cgj",
        MISSING_UNIT,
    ),
    "county moves other county's unit": (
        "shuyang.admin",
        _move_siyang_to_shuyang,
        "unit:demo:siyang-swj",
        MISSING_UNIT,
    ),
    "county deactivates other county's unit": (
        "shuyang.admin",
        _deactivate,
        "unit:demo:siyang-cgj",
        MISSING_UNIT,
    ),
    "county moves own unit to other county": (
        "shuyang.admin",
        _move_own_unit_to,
        SIYANG,
        MISSING_CENTRE,
    ),
    "county moves own unit to its township": (
        "shuyang.admin",
        _move_own_unit_to,
        SHUCHENG,
        MISSING_CENTRE,
    ),
    "county creates unit in other county": (
        "shuyang.admin",
        _create_unit_in,
        SIYANG,
        MISSING_CENTRE,
    ),
    "county creates unit in its township": (
        "shuyang.admin",
        _create_unit_in,
        SHUCHENG,
        MISSING_CENTRE,
    ),
    "county creates staff for other county's unit": (
        "shuyang.admin",
        _create_unit_staff,
        "unit:demo:siyang-cgj",
        MISSING_UNIT,
    ),
    "county creates staff in other county's centre": (
        "shuyang.admin",
        _create_centre_staff,
        SIYANG,
        MISSING_CENTRE,
    ),
    "city updates a county department": (
        "admin",
        _update,
        "unit:demo:shuyang-cgj",
        MISSING_UNIT,
    ),
    "city deactivates a county department": (
        "admin",
        _deactivate,
        "unit:demo:shuyang-zjj",
        MISSING_UNIT,
    ),
    "city creates unit in a county": ("admin", _create_unit_in, SHUYANG, MISSING_CENTRE),
    "city creates staff for a county department": (
        "admin",
        _create_unit_staff,
        "unit:demo:shuyang-cgj",
        MISSING_UNIT,
    ),
    "supervisor updates own centre's unit": (
        "shuyang.supervisor",
        _update,
        "unit:demo:shuyang-cgj",
        MISSING_UNIT,
    ),
    "supervisor deactivates own centre's unit": (
        "shuyang.supervisor",
        _deactivate,
        "unit:demo:shuyang-zjj",
        MISSING_UNIT,
    ),
    "supervisor creates unit in own centre": (
        "shuyang.supervisor",
        _create_unit_in,
        SHUYANG,
        MISSING_CENTRE,
    ),
    "unit leader renames own unit": (
        "shuyang.cgj.leader",
        _update,
        "unit:demo:shuyang-cgj",
        MISSING_UNIT,
    ),
    "county creates a centre": ("shuyang.admin", _create_centre_under, SHUYANG, MISSING_CENTRE),
    "county moves its own township": ("shuyang.admin", _move_centre, SHUCHENG, MISSING_CENTRE),
}


@pytest.mark.parametrize("case", list(TENANT_CASES), ids=list(TENANT_CASES))
async def test_out_of_scope_looks_like_not_found(ctx: Ctx, case: str) -> None:
    username, call, out_of_scope, missing = TENANT_CASES[case]
    actor = await ctx.principal(username)
    target: Any = out_of_scope
    if out_of_scope.startswith("unit:"):
        target = await ctx.unit_id(out_of_scope.removeprefix("unit:"))
    before = await counts(ctx.engine)

    with pytest.raises(NotFound) as refused:
        await call(ctx, actor, target)
    with pytest.raises(NotFound) as absent:
        await call(ctx, actor, missing)

    assert type(refused.value) is type(absent.value) is NotFound
    assert (refused.value.message, refused.value.field) == (
        absent.value.message,
        absent.value.field,
    )
    assert str(refused.value) == str(absent.value)
    assert await counts(ctx.engine) == before


async def test_out_of_scope_unit_is_unchanged(ctx: Ctx) -> None:
    """Not only the answer: the other tenant's unit and its membership stay as they were."""
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:siyang-cgj")
    g2_before = await rules(ctx.sessions, "g2", unit_obj(u.id))
    for call in (_update, _move_siyang_to_shuyang, _deactivate):
        with pytest.raises(NotFound):
            await call(ctx, actor, u.id)
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None
    assert (row.name, row.member_of, row.active, row.version) == (
        u.name,
        SIYANG,
        True,
        u.version,
    )
    assert await rules(ctx.sessions, "g2", unit_obj(u.id)) == g2_before


# ---- 3. bad input changes nothing ----------------------------------------------------------
async def _bad_unit_name(c: Ctx, name: str, short_name: str | None = None) -> Any:
    return await svc.create_unit(
        uow=c.uow,
        actor=await c.principal("shuyang.admin"),
        name=name,
        short_name=short_name,
        category=UnitCategory.DEPARTMENT,
        member_of=SHUYANG,
    )


async def _rename(c: Ctx, key: str, name: str) -> Any:
    return await svc.update_unit(
        uow=c.uow, actor=await c.principal("shuyang.admin"), unit_id=await c.unit_id(key), name=name
    )


async def _represents(c: Ctx, code: str) -> Any:
    return await svc.create_unit(
        uow=c.uow,
        actor=await c.principal("shuyang.admin"),
        name="代表单位",
        category=UnitCategory.DEPARTMENT,
        member_of=SHUYANG,
        represents=code,
    )


async def _staff(c: Ctx, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "username": "new.person",
        "display_name": "新人",
        "password": "long enough",
        "unit_id": await c.unit_id("demo:shuyang-cgj"),
    }
    args.update(kw)
    return await svc.create_staff(uow=c.uow, actor=await c.principal("shuyang.admin"), **args)


async def _move_centre_as_admin(c: Ctx, code: str, parent: str) -> Any:
    return await svc.move_centre(
        uow=c.uow, actor=await c.principal("admin"), code=code, new_parent_code=parent
    )


async def _create_centre_as_admin(c: Ctx, code: str, name: str, parent: str) -> Any:
    return await svc.create_centre(
        uow=c.uow,
        actor=await c.principal("admin"),
        code=code,
        name=name,
        kind=CentreKind.ADMINISTRATIVE,
        parent_code=parent,
    )


BadCall = Callable[[Ctx], Awaitable[Any]]
BAD_INPUT: dict[str, tuple[BadCall, type[DomainError], str | None]] = {
    "empty name": (lambda c: _bad_unit_name(c, ""), InvalidInput, "name"),
    "blank name": (lambda c: _bad_unit_name(c, " \t\u3000 "), InvalidInput, "name"),
    "name over 100 chars": (lambda c: _bad_unit_name(c, "局" * 101), InvalidInput, "name"),
    "duplicate name in centre": (
        lambda c: _bad_unit_name(c, " 沭阳县城管局"),
        DuplicateName,
        "name",
    ),
    "rename to blank": (lambda c: _rename(c, "demo:shuyang-cgj", "  "), InvalidInput, "name"),
    "rename over 100 chars": (
        lambda c: _rename(c, "demo:shuyang-cgj", "名" * 101),
        InvalidInput,
        "name",
    ),
    "rename to a sibling's name": (
        lambda c: _rename(c, "demo:shuyang-cgj", "沭阳县住房城乡建设局"),
        DuplicateName,
        "name",
    ),
    "short name over 50 chars": (
        lambda c: _bad_unit_name(c, "新单位", short_name="短" * 51),
        InvalidInput,
        "shortName",
    ),
    "represents a centre of another county": (
        lambda c: _represents(c, "321323001"),
        InvalidInput,
        "represents",
    ),
    "represents its own centre": (lambda c: _represents(c, SHUYANG), InvalidInput, "represents"),
    "represents the city": (lambda c: _represents(c, CITY_CODE), InvalidInput, "represents"),
    "represents a missing centre": (
        lambda c: _represents(c, MISSING_CENTRE),
        InvalidInput,
        "represents",
    ),
    "represents an already represented centre": (
        lambda c: _represents(c, SHUCHENG),
        DuplicateName,
        "represents",
    ),
    "malformed username": (lambda c: _staff(c, username="张 三"), InvalidInput, "username"),
    "one-letter username": (lambda c: _staff(c, username="a"), InvalidInput, "username"),
    "username with a slash": (lambda c: _staff(c, username="a/b"), InvalidInput, "username"),
    "short password": (lambda c: _staff(c, password="1234567"), InvalidInput, "password"),
    "malformed phone": (lambda c: _staff(c, phone="call me"), InvalidInput, "phone"),
    "both unit and centre": (lambda c: _staff(c, centre_code=SHUYANG), InvalidInput, "centreCode"),
    "unit role in centre domain": (
        lambda c: _staff(c, unit_id=None, centre_code=SHUYANG, roles=["unit_leader"]),
        InvalidInput,
        "roles",
    ),
    "centre role in unit domain": (
        lambda c: _staff(c, roles=["unit_leader", "centre_admin"]),
        InvalidInput,
        "roles",
    ),
    "duplicate username": (
        lambda c: _staff(c, username="Shuyang.CGJ.Handler", roles=["unit_leader"]),
        DuplicateName,
        "username",
    ),
    "township under a township": (
        lambda c: _move_centre_as_admin(c, XIAODIAN, "321311001"),
        InvalidInput,
        "newParentCode",
    ),
    "township under the city": (
        lambda c: _move_centre_as_admin(c, XIAODIAN, CITY_CODE),
        InvalidInput,
        "newParentCode",
    ),
    "county under itself": (
        lambda c: _move_centre_as_admin(c, SHUYANG, SHUYANG),
        InvalidInput,
        "newParentCode",
    ),
    "county under its own township": (
        lambda c: _move_centre_as_admin(c, SHUYANG, SHUCHENG),
        InvalidInput,
        "newParentCode",
    ),
    "township under itself": (
        lambda c: _move_centre_as_admin(c, SHUCHENG, SHUCHENG),
        InvalidInput,
        "newParentCode",
    ),
    "the city under a county": (
        lambda c: _move_centre_as_admin(c, CITY_CODE, SHUYANG),
        InvalidInput,
        "code",
    ),
    "child centre of a township": (
        lambda c: _create_centre_as_admin(c, "321322001001", "村", SHUCHENG),
        InvalidInput,
        "parentCode",
    ),
    "centre code taken": (
        lambda c: _create_centre_as_admin(c, SHUCHENG, "重复", SHUYANG),
        DuplicateName,
        "code",
    ),
    "malformed centre code": (
        lambda c: _create_centre_as_admin(c, "32-13", "坏代码", SHUYANG),
        InvalidInput,
        "code",
    ),
    "blank centre name": (
        lambda c: _create_centre_as_admin(c, "321322999", "   ", SHUYANG),
        InvalidInput,
        "name",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
async def test_bad_input_changes_nothing(ctx: Ctx, case: str) -> None:
    call, error, field = BAD_INPUT[case]
    before = await counts(ctx.engine)
    g2_before = await rules(ctx.sessions, "g2", unit_obj(await ctx.unit_id("demo:shuyang-cgj")))
    with pytest.raises(error) as raised:
        await call(ctx)
    assert type(raised.value) is error
    assert raised.value.field == field
    assert await counts(ctx.engine) == before
    assert await rules(ctx.sessions, "g2", unit_obj(await ctx.unit_id("demo:shuyang-cgj"))) == (
        g2_before
    )
    centres = {c: await centre_by_code(ctx.sessions, c) for c in (XIAODIAN, SHUYANG, SHUCHENG)}
    assert {c: (x.parent_code if x else None) for c, x in centres.items()} == {
        XIAODIAN: HUBIN,
        SHUYANG: CITY_CODE,
        SHUCHENG: SHUYANG,
    }


async def test_duplicate_name_is_per_centre(ctx: Ctx) -> None:
    """The same name in another centre is fine: uniqueness is within one centre."""
    siyang = await ctx.principal("siyang.admin")
    unit = await svc.create_unit(
        uow=ctx.uow,
        actor=siyang,
        name="沭阳县城管局",
        category=UnitCategory.DEPARTMENT,
        member_of=SIYANG,
    )
    assert unit.member_of == SIYANG


async def test_unit_representing_a_centre_cannot_move_alone(ctx: Ctx) -> None:
    actor = await _grant_shucheng_registry_admin(ctx)
    face = await unit_by_key(ctx.sessions, "demo:shuyang-shucheng")
    before = await counts(ctx.engine)
    with pytest.raises(InvalidInput) as raised:
        await svc.move_unit(uow=ctx.uow, actor=actor, unit_id=face.id, to_centre=SHUCHENG)
    assert raised.value.field == "unitId"
    assert await counts(ctx.engine) == before
    row = await unit_by_id(ctx.sessions, face.id)
    assert row is not None and row.member_of == SHUYANG


async def test_move_unit_to_centre_with_same_name_is_refused(ctx: Ctx) -> None:
    actor = await _grant_shucheng_registry_admin(ctx)
    await svc.create_unit(
        uow=ctx.uow,
        actor=actor,
        name="沭阳县住房城乡建设局",
        category=UnitCategory.DEPARTMENT,
        member_of=SHUCHENG,
    )
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    before = await counts(ctx.engine)
    g2_before = await rules(ctx.sessions, "g2", unit_obj(u.id))
    with pytest.raises(DuplicateName):
        await svc.move_unit(uow=ctx.uow, actor=actor, unit_id=u.id, to_centre=SHUCHENG)
    assert await counts(ctx.engine) == before
    assert await rules(ctx.sessions, "g2", unit_obj(u.id)) == g2_before
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.member_of == SHUYANG


# ---- 4. moving centres ---------------------------------------------------------------------
def test_seeded_zone_townships() -> None:
    """Pure check of the seed table the move tests rely on."""
    parents = {c.code: c.parent_code for c in centre_seeds()}
    assert parents["321302450"] == "3213Z3"
    assert parents[XIAODIAN] == HUBIN


async def test_move_township_to_zone_and_back_keeps_history(ctx: Ctx) -> None:
    admin = await ctx.principal("admin")
    c = await centre_by_code(ctx.sessions, "321302450")
    assert c is not None and c.parent_code == "3213Z3"
    x = await centre_by_code(ctx.sessions, XIAODIAN)
    assert x is not None and x.parent_code == HUBIN
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    await svc.move_centre(uow=ctx.uow, actor=admin, code=XIAODIAN, new_parent_code=SUYU)
    row = await centre_by_code(ctx.sessions, XIAODIAN)
    assert row is not None and row.parent_code == SUYU
    ev = only(await events_since(ctx.sessions, since))
    assert (ev.type, ev.entity_type, ev.entity_id, ev.actor) == (
        "centre.moved",
        "centre",
        XIAODIAN,
        "user:admin",
    )
    assert ev.before is not None and ev.after is not None
    assert (ev.before["parentCode"], ev.after["parentCode"]) == (HUBIN, SUYU)
    assert ev.domains == sorted(centre_domain(c) for c in (XIAODIAN, HUBIN, SUYU))

    # Moving to where it already is changes nothing.
    await svc.move_centre(uow=ctx.uow, actor=admin, code=XIAODIAN, new_parent_code=SUYU)
    assert await counts(ctx.engine) == {**before, "event": before["event"] + 1}

    await svc.move_centre(uow=ctx.uow, actor=admin, code=XIAODIAN, new_parent_code=HUBIN)
    row = await centre_by_code(ctx.sessions, XIAODIAN)
    assert row is not None and row.parent_code == HUBIN
    assert await counts(ctx.engine) == {**before, "event": before["event"] + 2}

    async with ctx.sessions() as s:
        page = await queries.history(s, "centre", XIAODIAN, first=10, after=None)
    assert page.total == 2
    assert [
        (e.type, (e.before or {})["parentCode"], (e.after or {})["parentCode"]) for e in page.items
    ] == [
        ("centre.moved", SUYU, HUBIN),
        ("centre.moved", HUBIN, SUYU),
    ]


async def test_move_represented_centre_moves_its_unit_along(ctx: Ctx) -> None:
    admin = await ctx.principal("admin")
    face = await unit_by_key(ctx.sessions, "demo:shuyang-shucheng")
    assert (face.represents, face.member_of) == (SHUCHENG, SHUYANG)
    inside = await unit_by_key(ctx.sessions, "demo:shucheng-sqb")
    since = await last_event_id(ctx.sessions)
    before = await counts(ctx.engine)

    await svc.move_centre(uow=ctx.uow, actor=admin, code=SHUCHENG, new_parent_code=SIYANG)

    centre = await centre_by_code(ctx.sessions, SHUCHENG)
    assert centre is not None and centre.parent_code == SIYANG
    moved = await unit_by_id(ctx.sessions, face.id)
    assert moved is not None
    assert (moved.member_of, moved.represents, moved.version) == (
        SIYANG,
        SHUCHENG,
        face.version + 1,
    )
    # The township's own members stay in the township.
    stayed = await unit_by_id(ctx.sessions, inside.id)
    assert stayed is not None and stayed.member_of == SHUCHENG

    evs = await events_since(ctx.sessions, since)
    assert [(e.type, e.entity_id) for e in evs] == [
        ("unit.moved", str(face.id)),
        ("centre.moved", SHUCHENG),
    ]
    unit_ev, centre_ev = evs
    assert unit_ev.before is not None and unit_ev.after is not None
    assert (unit_ev.before["memberOf"], unit_ev.after["memberOf"]) == (SHUYANG, SIYANG)
    assert centre_ev.before is not None and centre_ev.after is not None
    assert (centre_ev.before["parentCode"], centre_ev.after["parentCode"]) == (SHUYANG, SIYANG)

    assert await rules(ctx.sessions, "g2", unit_obj(face.id)) == sorted(
        [(unit_obj(face.id), centre_domain(SIYANG)), (unit_obj(face.id), unit_domain(face.id))]
    )
    assert await counts(ctx.engine) == {**before, "event": before["event"] + 2}
    assert ctx.enforcer.has_member(unit_obj(face.id), centre_domain(SIYANG))
    assert not ctx.enforcer.has_member(unit_obj(face.id), centre_domain(SHUYANG))

    # The tenants follow the policy at once: 泗阳 now manages the unit, 沭阳 no longer does.
    with pytest.raises(NotFound):
        await svc.set_unit_active(
            uow=ctx.uow, actor=await ctx.principal("shuyang.admin"), unit_id=face.id, active=False
        )
    await svc.set_unit_active(
        uow=ctx.uow, actor=await ctx.principal("siyang.admin"), unit_id=face.id, active=False
    )


async def test_move_represented_centre_into_centre_with_same_unit_name(ctx: Ctx) -> None:
    await svc.create_unit(
        uow=ctx.uow,
        actor=await ctx.principal("siyang.admin"),
        name="沭城街道",
        category=UnitCategory.DEPARTMENT,
        member_of=SIYANG,
    )
    before = await counts(ctx.engine)
    with pytest.raises(DuplicateName):
        await svc.move_centre(
            uow=ctx.uow, actor=await ctx.principal("admin"), code=SHUCHENG, new_parent_code=SIYANG
        )
    assert await counts(ctx.engine) == before
    centre = await centre_by_code(ctx.sessions, SHUCHENG)
    assert centre is not None and centre.parent_code == SHUYANG


# ---- 5. concurrency ------------------------------------------------------------------------
async def _wait_for_lock_waiters(engine: AsyncEngine, n: int) -> None:
    deadline = time.monotonic() + 15.0
    async with engine.connect() as c:
        while True:
            waiting = (
                await c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
            await c.commit()
            if waiting >= n:
                return
            assert time.monotonic() < deadline, f"only {waiting} of {n} sessions are waiting"
            await asyncio.sleep(0.05)


async def _race_renames(
    ctx: Ctx, unit_id: int, names: tuple[str, str], expected_version: int | None
) -> list[Any]:
    """Start two updates while the row is locked, so both really contend, then let them go."""
    actor = await ctx.principal("shuyang.admin")

    async def attempt(name: str) -> Unit:
        return await svc.update_unit(
            uow=UnitOfWork(ctx.sessions, ctx.enforcer),
            actor=actor,
            unit_id=unit_id,
            name=name,
            expected_version=expected_version,
        )

    async with ctx.engine.connect() as blocker:
        await blocker.execute(
            text("SELECT id FROM unit WHERE id = :id FOR UPDATE"), {"id": unit_id}
        )
        tasks = [asyncio.create_task(attempt(n)) for n in names]
        try:
            await _wait_for_lock_waiters(ctx.engine, 2)
        finally:
            await blocker.rollback()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def test_concurrent_updates_with_same_version_one_wins(ctx: Ctx) -> None:
    u = await unit_by_key(ctx.sessions, "demo:shuyang-cgj")
    since = await last_event_id(ctx.sessions)
    names = ("沭阳县城管局（甲）", "沭阳县城管局（乙）")

    results = await _race_renames(ctx, u.id, names, expected_version=u.version)

    wins = [r for r in results if isinstance(r, Unit)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert type(losses[0]) is Conflict, repr(losses[0])
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None
    assert row.version == u.version + 1
    assert row.name == wins[0].name and row.name in names
    ev = only(await events_since(ctx.sessions, since))
    assert ev.after is not None and ev.after["name"] == row.name


async def test_concurrent_updates_gathered_directly(ctx: Ctx) -> None:
    """Two units of work gathered with no external lock: still exactly one winner."""
    actor = await ctx.principal("shuyang.admin")
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    since = await last_event_id(ctx.sessions)

    results = await asyncio.gather(
        *(
            svc.update_unit(
                uow=UnitOfWork(ctx.sessions, ctx.enforcer),
                actor=actor,
                unit_id=u.id,
                short_name=short,
                expected_version=u.version,
            )
            for short in ("住建甲", "住建乙")
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Unit"], results
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.version == u.version + 1
    assert len(await events_since(ctx.sessions, since)) == 1


async def test_concurrent_updates_without_version_are_serialized(ctx: Ctx) -> None:
    """Without an expected version both succeed, one after the other: no lost update."""
    u = await unit_by_key(ctx.sessions, "demo:shuyang-cgj")
    since = await last_event_id(ctx.sessions)
    names = ("沭阳县城管局（甲）", "沭阳县城管局（乙）")

    results = await _race_renames(ctx, u.id, names, expected_version=None)

    assert all(isinstance(r, Unit) for r in results), results
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and row.version == u.version + 2
    evs = await events_since(ctx.sessions, since)
    assert [e.type for e in evs] == ["unit.updated", "unit.updated"]
    # The second event's before is the first one's after: each saw the other's commit.
    assert evs[0].after is not None and evs[1].before is not None
    assert evs[1].before["name"] == evs[0].after["name"]
    assert evs[1].after is not None and row.name == evs[1].after["name"]


async def test_concurrent_create_staff_same_username(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    uid = await ctx.unit_id("demo:shuyang-cgj")
    before = await counts(ctx.engine)

    results = await asyncio.gather(
        *(
            svc.create_staff(
                uow=UnitOfWork(ctx.sessions, ctx.enforcer),
                actor=actor,
                username="race.person",
                display_name="竞争者",
                password="long enough",
                unit_id=uid,
                roles=[role],
            )
            for role in ("unit_leader", "unit_handler")
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, Staff)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert type(losses[0]) is DuplicateName
    winner_role = "unit_leader" if results[0] is wins[0] else "unit_handler"
    subject = user_subject("race.person")
    assert await rules(ctx.sessions, "g", subject) == [(subject, winner_role, unit_domain(uid))]
    assert await counts(ctx.engine) == {
        **before,
        "staff": before["staff"] + 1,
        "event": before["event"] + 1,
        "casbin_rule": before["casbin_rule"] + 1,
    }


# ---- 6. a failure after the policy write rolls back both -----------------------------------
def _fail_on(monkeypatch: pytest.MonkeyPatch, event_type: str) -> None:
    real = events.record

    async def record(session: AsyncSession, **kw: Any) -> Event:
        if kw["type"] == event_type:
            raise RuntimeError(f"boom while recording {event_type}")
        return await real(session, **kw)

    monkeypatch.setattr(events, "record", record)


async def test_duplicate_username_with_roles_leaves_no_grant(ctx: Ctx) -> None:
    actor = await ctx.principal("shuyang.admin")
    zjj = await ctx.unit_id("demo:shuyang-zjj")
    subject = user_subject("shuyang.cgj.leader")
    g_before = await rules(ctx.sessions, "g", subject)
    before = await counts(ctx.engine)
    with pytest.raises(DuplicateName):
        await svc.create_staff(
            uow=ctx.uow,
            actor=actor,
            username="shuyang.cgj.leader",
            display_name="冒名",
            password="long enough",
            unit_id=zjj,
            roles=["unit_leader", "unit_handler"],
        )
    assert await rules(ctx.sessions, "g", subject) == g_before
    assert await counts(ctx.engine) == before
    assert unit_domain(zjj) not in ctx.enforcer.roles_by_domain(subject)


async def test_failure_after_role_write_rolls_back_staff_and_grant(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await ctx.principal("shuyang.admin")
    uid = await ctx.unit_id("demo:shuyang-cgj")
    before = await counts(ctx.engine)
    _fail_on(monkeypatch, "staff.created")
    with pytest.raises(RuntimeError, match="boom"):
        await svc.create_staff(
            uow=ctx.uow,
            actor=actor,
            username="doomed.person",
            display_name="注定失败",
            password="long enough",
            unit_id=uid,
            roles=["unit_leader"],
        )
    assert await counts(ctx.engine) == before
    assert await rules(ctx.sessions, "g", user_subject("doomed.person")) == []
    await ctx.enforcer.load()
    assert ctx.enforcer.roles_by_domain(user_subject("doomed.person")) == {}


async def test_failure_after_membership_write_rolls_back_move(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await _grant_shucheng_registry_admin(ctx)
    u = await unit_by_key(ctx.sessions, "demo:shuyang-zjj")
    g2_before = await rules(ctx.sessions, "g2", unit_obj(u.id))
    before = await counts(ctx.engine)
    _fail_on(monkeypatch, "unit.moved")
    with pytest.raises(RuntimeError, match="boom"):
        await svc.move_unit(uow=ctx.uow, actor=actor, unit_id=u.id, to_centre=SHUCHENG)
    assert await counts(ctx.engine) == before
    assert await rules(ctx.sessions, "g2", unit_obj(u.id)) == g2_before
    row = await unit_by_id(ctx.sessions, u.id)
    assert row is not None and (row.member_of, row.version) == (SHUYANG, u.version)
    await ctx.enforcer.load()
    assert ctx.enforcer.has_member(unit_obj(u.id), centre_domain(SHUYANG))
    assert not ctx.enforcer.has_member(unit_obj(u.id), centre_domain(SHUCHENG))


async def test_failure_after_membership_write_rolls_back_create_unit(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await ctx.principal("shuyang.admin")
    before = await counts(ctx.engine)
    _fail_on(monkeypatch, "unit.created")
    with pytest.raises(RuntimeError, match="boom"):
        await svc.create_unit(
            uow=ctx.uow,
            actor=actor,
            name="沭阳县民政局",
            category=UnitCategory.DEPARTMENT,
            member_of=SHUYANG,
        )
    assert await counts(ctx.engine) == before


# ---- privilege: creating an account is granting its roles ----------------------------------
async def test_registry_admin_cannot_mint_centre_admin(ctx: Ctx) -> None:
    shuyang = await ctx.principal("shuyang.admin")
    await svc.create_staff(
        uow=ctx.uow,
        actor=shuyang,
        username="shuyang.registrar",
        display_name="沭阳县注册员",
        password="long enough",
        centre_code=SHUYANG,
        roles=["registry_admin"],
    )
    registrar = await ctx.principal("shuyang.registrar")
    # Without the grant permission, grant_role refuses it ...
    with pytest.raises(NotFound):
        await svc.grant_role(
            uow=ctx.uow,
            actor=registrar,
            username="shuyang.dispatcher",
            role="centre_admin",
            domain=centre_domain(SHUYANG),
        )
    before = await counts(ctx.engine)
    # ... and creating an account holding that role must be refused as well.
    with pytest.raises((NotFound, NotPermitted)):
        await svc.create_staff(
            uow=ctx.uow,
            actor=registrar,
            username="shuyang.puppet",
            display_name="傀儡",
            password="long enough",
            centre_code=SHUYANG,
            roles=["centre_admin"],
        )
    assert await counts(ctx.engine) == before


# ---- 7. seeds ------------------------------------------------------------------------------
async def test_demo_accounts_seeded_with_their_roles(ctx: Ctx) -> None:
    async with ctx.sessions() as s:
        staff = {st.username: st for st in (await s.execute(select(Staff))).scalars()}
        units = {u.seed_key: u for u in (await s.execute(select(Unit))).scalars() if u.seed_key}
        city_units = {u.name: u for u in units.values() if u.member_of == CITY_CODE}
    for du in DEMO_UNITS:
        u = units[du.key]
        assert (u.name, u.member_of, u.represents, u.demo) == (
            du.name,
            du.member_of,
            du.represents,
            True,
        )
        assert ctx.enforcer.has_member(unit_obj(u.id), centre_domain(du.member_of))

    assert len(DEMO_ACCOUNTS) >= 20
    for acc in DEMO_ACCOUNTS:
        st = staff[acc.username]
        assert st.demo and st.active and st.phone == acc.phone
        if acc.unit is not None:
            unit = units.get(acc.unit) or city_units[acc.unit]
            assert (st.unit_id, st.centre_code) == (unit.id, None)
            domain = unit_domain(unit.id)
        else:
            assert (st.unit_id, st.centre_code) == (None, acc.centre)
            domain = centre_domain(str(acc.centre))
        assert ctx.enforcer.roles_by_domain(user_subject(acc.username)) == {
            domain: set(acc.roles)
        }, acc.username
    admin = staff["admin"]
    assert verify_password(DEMO_PASSWORD, admin.password_hash)
    assert ctx.enforcer.roles_by_domain("user:shuyang.admin") == {
        "centre:321322/": {"registry_admin", "centre_admin"}
    }
    assert ctx.enforcer.roles_by_domain("user:siyang.admin") == {
        "centre:321323/": {"registry_admin", "centre_admin"}
    }
    assert ctx.enforcer.roles_by_domain("user:admin") == {
        "centre:3213/": {"registry_admin", "centre_admin"}
    }
