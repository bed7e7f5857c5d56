"""The authorization model, pinned by behaviour: who may do what, where, and never across levels.

Casbin decides (``PolicyEnforcer.allowed``), ``compute_scope`` turns the same policy into sets of
centres and units, and ``visibility`` turns a scope into SQL filters; the registry use cases
(``set_read_down``, ``grant_role``, ``revoke_role``) change the policy with an audit event in the
same transaction. All against the seeded demo registry (see ``seeds/demo.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authz import (
    CENTRE_ROLES,
    ROLES,
    centre_domain,
    centre_obj,
    compute_scope,
    node_obj,
    unit_domain,
    unit_obj,
    user_subject,
)
from authz.enforcer import PolicyEnforcer
from authz.policies import DEFAULT_PERMISSIONS, READ_DOWN_ROLES, ROOT_PERMISSIONS
from domain.db import asyncpg_dsn, make_engine
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.events import Event
from domain.registry import service
from domain.registry.models import Centre, Unit
from domain.registry.visibility import descendants, visibility
from domain.uow import UnitOfWork

CITY = "3213"
SHUYANG = "321322"  # 沭阳县
SIYANG = "321323"  # 泗阳县
SHUCHENG = "321322001"  # 沭城街道, a township under 沭阳县

# The objects of the truth table, one per level, by their stable seed keys.
LEVEL_UNITS = {
    "city_member": "appendix:053",  # 市城管局, member of the city centre 3213
    "shuyang_dept": "demo:shuyang-cgj",  # 沭阳县城管局, a department of 沭阳县 (321322)
    "shucheng_member": "demo:shucheng-sqb",  # 沭城街道社区服务办, member of 沭城街道 (321322001)
    "siyang_dept": "demo:siyang-cgj",  # 泗阳县城管局, a department of 泗阳县 (321323)
}
LEVEL_CENTRE = {
    "city_member": CITY,
    "shuyang_dept": SHUYANG,
    "shucheng_member": SHUCHENG,
    "siyang_dept": SIYANG,
}
REPRESENTATIVE = "demo:shuyang-shucheng"  # 沭城街道 as a member of 沭阳县 (represents 321322001)

# (kind, action, letter); the object is always the unit (``unit:<id>``): "staff manage" is
# managing that unit's staff, "role grant" is granting the unit roles in that unit's domain.
ACTIONS = [
    ("unit", "read", "R"),
    ("unit", "manage", "M"),
    ("unit", "supervise", "U"),
    ("staff", "manage", "S"),
    ("role", "grant", "G"),
]
LEVELS = ["city_member", "shuyang_dept", "shucheng_member", "siyang_dept"]

# ---- the truth table -----------------------------------------------------------------------
# A subject holding ROLE in the domain of centre HOME (``centre:<HOME>/``): what may it do to a
# unit at each level? Each cell has one character per action, in ACTIONS order: the action's
# letter when allowed, "." when refused.
#     R unit read · M unit manage · U unit supervise · S staff manage · G role grant
# Nothing ever reaches past the home centre's own members: not down to 沭城街道's members, not up
# to the city's, not across to 泗阳县's. (Unit roles are never granted in a centre domain —
# grant_role refuses it — but if one were, it would only read that centre's members.)
#
#                                    city_member  shuyang_dept  shucheng_member  siyang_dept
TRUTH: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("centre_admin", CITY):         ("R..SG",     ".....",      ".....",         "....."),
    ("registry_admin", CITY):       ("RM.S.",     ".....",      ".....",         "....."),
    ("dispatcher", CITY):           ("R....",     ".....",      ".....",         "....."),
    ("supervisor", CITY):           ("R.U..",     ".....",      ".....",         "....."),
    ("reviewer", CITY):             ("R....",     ".....",      ".....",         "....."),
    ("leader", CITY):               ("R....",     ".....",      ".....",         "....."),
    ("partner", CITY):              (".....",     ".....",      ".....",         "....."),
    ("partner_reader", CITY):       (".....",     ".....",      ".....",         "....."),
    ("unit_main_leader", CITY):     ("R....",     ".....",      ".....",         "....."),
    ("unit_leader", CITY):          ("R....",     ".....",      ".....",         "....."),
    ("unit_handler", CITY):         ("R....",     ".....",      ".....",         "....."),
    ("centre_admin", SHUYANG):      (".....",     "R..SG",      ".....",         "....."),
    ("registry_admin", SHUYANG):    (".....",     "RM.S.",      ".....",         "....."),
    ("dispatcher", SHUYANG):        (".....",     "R....",      ".....",         "....."),
    ("supervisor", SHUYANG):        (".....",     "R.U..",      ".....",         "....."),
    ("reviewer", SHUYANG):          (".....",     "R....",      ".....",         "....."),
    ("leader", SHUYANG):            (".....",     "R....",      ".....",         "....."),
    ("partner", SHUYANG):           (".....",     ".....",      ".....",         "....."),
    ("partner_reader", SHUYANG):    (".....",     ".....",      ".....",         "....."),
    ("unit_main_leader", SHUYANG):  (".....",     "R....",      ".....",         "....."),
    ("unit_leader", SHUYANG):       (".....",     "R....",      ".....",         "....."),
    ("unit_handler", SHUYANG):      (".....",     "R....",      ".....",         "....."),
}  # fmt: skip


def _truth_cases() -> list[Any]:
    cases = []
    for (role, home), cells in TRUTH.items():
        for level, cell in zip(LEVELS, cells, strict=True):
            assert len(cell) == len(ACTIONS), (role, home, level, cell)
            for (kind, action, letter), mark in zip(ACTIONS, cell, strict=True):
                assert mark in (letter, "."), f"bad mark {mark!r} for {kind} {action}"
                cases.append(
                    pytest.param(
                        role,
                        home,
                        level,
                        kind,
                        action,
                        mark == letter,
                        id=f"{role}@{home}-{level}-{kind}.{action}",
                    )
                )
    return cases


def probe_subject(role: str, home: str) -> str:
    return user_subject(f"probe.{role}.{home}")


def test_truth_table_covers_every_role_at_both_homes() -> None:
    assert set(TRUTH) == {(role, home) for role in ROLES for home in (CITY, SHUYANG)}


@dataclass
class TableWorld:
    enforcer: PolicyEnforcer
    units: dict[str, int]  # level -> unit id


async def _unit_ids(sessions: async_sessionmaker[AsyncSession], keys: list[str]) -> dict[str, int]:
    async with sessions() as s:
        rows = (
            await s.execute(select(Unit.seed_key, Unit.id).where(Unit.seed_key.in_(keys)))
        ).all()
    found = {str(k): int(i) for k, i in rows}
    assert set(found) == set(keys), f"seed units missing: {set(keys) - set(found)}"
    return found


@pytest.fixture(scope="module")
async def table_world(server_url: str, template_url: str) -> AsyncIterator[TableWorld]:
    """One clone of the seeded template for the whole truth table (read-only use), with a probe
    subject per (role, home) added to the enforcer."""
    name = f"yiwang_t_authz_{uuid.uuid4().hex[:10]}"
    template = make_url(template_url).database
    dsn, kwargs = asyncpg_dsn(server_url)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn, **kwargs)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine = make_engine(make_url(server_url).set(database=name).render_as_string(False))
    try:
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        await enforcer.casbin.add_grouping_policies(
            [[probe_subject(role, home), role, centre_domain(home)] for role, home in TRUTH]
        )
        keys = list(LEVEL_UNITS.values())
        by_key = await _unit_ids(async_sessionmaker(engine), keys)
        yield TableWorld(enforcer, {level: by_key[key] for level, key in LEVEL_UNITS.items()})
    finally:
        await engine.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(("role", "home", "level", "kind", "action", "expected"), _truth_cases())
def test_truth_table(
    table_world: TableWorld,
    role: str,
    home: str,
    level: str,
    kind: str,
    action: str,
    expected: bool,
) -> None:
    obj = unit_obj(table_world.units[level])
    got = table_world.enforcer.allowed(probe_subject(role, home), kind, obj, action)
    assert got is expected, f"{role} in centre:{home}/ {kind} {action} on {level}: {got}"


def test_scope_agrees_with_enforcer(table_world: TableWorld) -> None:
    """The SQL side (compute_scope's centres) grants exactly what Casbin decides, cell by cell."""
    e = table_world.enforcer
    disagreements = []
    for role, home in TRUTH:
        sub = probe_subject(role, home)
        scope = compute_scope(e, sub)
        assert scope.roles == {centre_domain(home): frozenset({role})}
        for level in LEVELS:
            obj = unit_obj(table_world.units[level])
            for kind, action, _ in ACTIONS:
                by_scope = LEVEL_CENTRE[level] in scope.centres_for(kind, action)
                if e.allowed(sub, kind, obj, action) != by_scope:
                    disagreements.append((role, home, level, kind, action))
    assert disagreements == []


# ---- helpers for the per-test databases ----------------------------------------------------
async def unit_id(sessions: async_sessionmaker[AsyncSession], seed_key: str) -> int:
    return (await _unit_ids(sessions, [seed_key]))[seed_key]


async def policy_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        rows = await s.execute(
            text("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
        )
        return [tuple(r) for r in rows.all()]


async def events_of(sessions: async_sessionmaker[AsyncSession], type_: str) -> list[Event]:
    async with sessions() as s:
        q = select(Event).where(Event.type == type_).order_by(Event.id)
        return list((await s.execute(q)).scalars())


async def event_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Event))).scalar_one())


def roles_in(enforcer: PolicyEnforcer, username: str, domain: str) -> set[str]:
    return enforcer.roles_by_domain(user_subject(username)).get(domain, set())


# ---- levels never cross, with the demo accounts' real grants --------------------------------
async def test_supervision_never_crosses_levels(
    enforcer: PolicyEnforcer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _unit_ids(sessions, [*LEVEL_UNITS.values(), REPRESENTATIVE])
    u = {level: unit_obj(ids[key]) for level, key in LEVEL_UNITS.items()}
    face = unit_obj(ids[REPRESENTATIVE])

    def supervises(username: str, obj: str) -> bool:
        return enforcer.allowed(user_subject(username), "unit", obj, "supervise")

    # The city supervisor supervises the city's members only (read-down is granted to the city,
    # but read-down is never supervision).
    assert supervises("city.supervisor", u["city_member"])
    assert not supervises("city.supervisor", u["shuyang_dept"])
    assert not supervises("city.supervisor", u["shucheng_member"])
    assert not supervises("city.supervisor", u["siyang_dept"])
    # 沭阳县's supervisor: its departments and the unit standing for 沭城街道 among them, but not
    # the city's members, not 泗阳县's departments, not 沭城街道's own members.
    assert supervises("shuyang.supervisor", u["shuyang_dept"])
    assert supervises("shuyang.supervisor", face)
    assert not supervises("shuyang.supervisor", u["city_member"])
    assert not supervises("shuyang.supervisor", u["siyang_dept"])
    assert not supervises("shuyang.supervisor", u["shucheng_member"])
    # 泗阳县's supervisor: the mirror image.
    assert supervises("siyang.supervisor", u["siyang_dept"])
    assert not supervises("siyang.supervisor", u["shuyang_dept"])
    assert not supervises("siyang.supervisor", u["city_member"])
    # 沭城街道's supervisor: its own members, not the unit that represents it one level up.
    assert supervises("shucheng.dispatcher", u["shucheng_member"])
    assert not supervises("shucheng.dispatcher", face)
    assert not supervises("shucheng.dispatcher", u["shuyang_dept"])
    # Managing follows the same rule: the city's registry admin does not manage county units.
    assert enforcer.allowed("user:admin", "unit", u["city_member"], "manage")
    assert not enforcer.allowed("user:admin", "unit", u["shuyang_dept"], "manage")
    assert not enforcer.allowed("user:shuyang.admin", "unit", u["city_member"], "manage")
    assert not enforcer.allowed("user:shuyang.admin", "unit", u["shucheng_member"], "manage")


# ---- domain pattern safety -----------------------------------------------------------------
ALL_PERMISSIONS = sorted(
    {perm for perms in DEFAULT_PERMISSIONS.values() for perm in perms}
    | {(kind, act) for _role, kind, act in ROOT_PERMISSIONS}
)


async def test_centre_domains_never_prefix_match(
    enforcer: PolicyEnforcer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shuyang_dept = unit_obj(await unit_id(sessions, LEVEL_UNITS["shuyang_dept"]))
    # A hypothetical centre 32130 ("3213" is a prefix of it) with a member unit and its own
    # directory entry, and a hypothetical extra member of the real 321322.
    await enforcer.casbin.add_named_grouping_policies(
        "g2",
        [
            ["unit:990001", "centre:32130/"],
            [centre_obj("32130"), "centre:32130/"],
            ["node:32130", "centre:32130/"],
            ["unit:990002", centre_domain(SHUYANG)],
        ],
    )
    city_everything = user_subject("probe.city.everything")
    await enforcer.casbin.add_grouping_policies(
        [[city_everything, role, centre_domain(CITY)] for role in CENTRE_ROLES]
    )
    foreign = ["unit:990001", centre_obj("32130"), "node:32130", "unit:990002", shuyang_dept]
    granted = [
        (kind, obj, act)
        for obj in foreign
        for kind, act in ALL_PERMISSIONS
        if enforcer.allowed(city_everything, kind, obj, act)
    ]
    assert granted == []
    # The probe is not powerless: it does have the city's own members.
    city_member = unit_obj(await unit_id(sessions, LEVEL_UNITS["city_member"]))
    assert enforcer.allowed(city_everything, "unit", city_member, "supervise")
    assert enforcer.allowed(city_everything, "unit", city_member, "manage")

    # And the other way round: every role in centre:32130/ gives nothing over the city's members.
    other = user_subject("probe.32130.everything")
    await enforcer.casbin.add_grouping_policies(
        [[other, role, "centre:32130/"] for role in CENTRE_ROLES]
    )
    assert [
        (kind, act)
        for kind, act in ALL_PERMISSIONS
        if enforcer.allowed(other, kind, city_member, act)
    ] == []
    assert enforcer.allowed(other, "unit", "unit:990001", "supervise")

    # compute_scope names exact centres, never a pattern.
    assert compute_scope(enforcer, city_everything).centres_for("unit", "supervise") == {CITY}


@pytest.mark.parametrize(
    "domain",
    [
        "*",
        "centre:3213",
        "centre:/",
        "",
        "centre:3213/*",
    ],
)
async def test_roles_in_malformed_domains_give_nothing(
    enforcer: PolicyEnforcer, sessions: async_sessionmaker[AsyncSession], domain: str
) -> None:
    """A grant in "*" (or a domain without its slash) is not a wildcard grant."""
    objs = [unit_obj(i) for i in (await _unit_ids(sessions, list(LEVEL_UNITS.values()))).values()]
    objs += [centre_obj(CITY), centre_obj(SHUYANG), node_obj(SHUYANG)]
    sub = user_subject("probe.malformed")
    await enforcer.casbin.add_grouping_policies([[sub, role, domain] for role in ROLES])
    granted = [
        (kind, obj, act)
        for obj in objs
        for kind, act in ALL_PERMISSIONS
        if enforcer.allowed(sub, kind, obj, act)
    ]
    assert granted == []
    scope = compute_scope(enforcer, sub)
    assert scope.act_centres == {}
    assert scope.act_units == {}
    assert scope.read_down_from == frozenset()


async def test_membership_never_chains_upward(
    enforcer: PolicyEnforcer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _unit_ids(sessions, [LEVEL_UNITS["shucheng_member"], REPRESENTATIVE])
    township_unit = unit_obj(ids[LEVEL_UNITS["shucheng_member"]])
    face = unit_obj(ids[REPRESENTATIVE])

    # A member of 沭城街道 (and of its own unit domain) and of nothing above.
    assert enforcer.has_member(township_unit, centre_domain(SHUCHENG))
    assert enforcer.has_member(township_unit, unit_domain(ids[LEVEL_UNITS["shucheng_member"]]))
    assert not enforcer.has_member(township_unit, centre_domain(SHUYANG))
    assert not enforcer.has_member(township_unit, centre_domain(CITY))
    rm = enforcer.casbin.get_named_role_manager("g2")
    assert sorted(rm.get_roles(township_unit)) == sorted(
        [centre_domain(SHUCHENG), unit_domain(ids[LEVEL_UNITS["shucheng_member"]])]
    )
    # The township centre itself is a member of its own domain only; its directory entry is the
    # city's — and neither makes the township a member of 沭阳县.
    assert enforcer.has_member(centre_obj(SHUCHENG), centre_domain(SHUCHENG))
    assert not enforcer.has_member(centre_obj(SHUCHENG), centre_domain(SHUYANG))
    assert not enforcer.has_member(centre_obj(SHUCHENG), centre_domain(CITY))
    assert enforcer.has_member(node_obj(SHUCHENG), centre_domain(CITY))
    assert not enforcer.has_member(node_obj(SHUCHENG), centre_domain(SHUYANG))
    # The unit that stands for 沭城街道 among 沭阳县's members is not a member of the township.
    assert enforcer.has_member(face, centre_domain(SHUYANG))
    assert not enforcer.has_member(face, centre_domain(SHUCHENG))
    assert not enforcer.has_member(face, centre_domain(CITY))

    # So no role above reaches the township's members through Casbin — not even the city's
    # read, which extends down only as SQL visibility (read-down), never as membership.
    for username in ("shuyang.supervisor", "shuyang.admin", "city.supervisor", "admin"):
        for kind, action, _ in ACTIONS:
            assert not enforcer.allowed(user_subject(username), kind, township_unit, action), (
                username,
                kind,
                action,
            )


# ---- scopes of the demo accounts -----------------------------------------------------------
# units: seed keys of the units in units_for(...); read_down: read_down_from.
DEMO_SCOPES: dict[str, dict[str, Any]] = {
    "admin": {
        "roles": {centre_domain(CITY): {"registry_admin", "centre_admin"}},
        "supervise": set(),
        "manage": {CITY},
        "role_grant": {CITY},
        "node_manage": {CITY},
        "subrole_grant": {CITY},
        "read_down": {CITY},
        "unit_read": set(),
    },
    "city.supervisor": {
        "roles": {centre_domain(CITY): {"supervisor"}},
        "supervise": {CITY},
        "manage": set(),
        "role_grant": set(),
        "node_manage": set(),
        "subrole_grant": set(),
        "read_down": {CITY},
        "unit_read": set(),
    },
    "shuyang.admin": {
        "roles": {centre_domain(SHUYANG): {"registry_admin", "centre_admin"}},
        "supervise": set(),
        "manage": {SHUYANG},
        "role_grant": {SHUYANG},
        "node_manage": set(),  # the centre directory is the city's alone
        "subrole_grant": set(),
        "read_down": set(),  # counties do not read down by default
        "unit_read": set(),
    },
    "shuyang.supervisor": {
        "roles": {centre_domain(SHUYANG): {"supervisor"}},
        "supervise": {SHUYANG},
        "manage": set(),
        "role_grant": set(),
        "node_manage": set(),
        "subrole_grant": set(),
        "read_down": set(),
        "unit_read": set(),
    },
    "siyang.supervisor": {
        "roles": {centre_domain(SIYANG): {"supervisor"}},
        "supervise": {SIYANG},
        "manage": set(),
        "role_grant": set(),
        "node_manage": set(),
        "subrole_grant": set(),
        "read_down": set(),
        "unit_read": set(),
    },
    "cgj.leader": {
        "roles": {"unit:{appendix:053}/": {"unit_leader"}},
        "supervise": set(),
        "manage": set(),
        "role_grant": set(),
        "node_manage": set(),
        "subrole_grant": set(),
        "read_down": set(),
        "unit_read": {"appendix:053"},
        "unit_staff_read": {"appendix:053"},
    },
    "shuyang.cgj.handler": {
        "roles": {"unit:{demo:shuyang-cgj}/": {"unit_handler"}},
        "supervise": set(),
        "manage": set(),
        "role_grant": set(),
        "node_manage": set(),
        "subrole_grant": set(),
        "read_down": set(),
        "unit_read": {"demo:shuyang-cgj"},
        "unit_staff_read": set(),  # a handler does not see the unit's staff
    },
}


@pytest.mark.parametrize("username", list(DEMO_SCOPES))
async def test_demo_account_scopes(
    enforcer: PolicyEnforcer, sessions: async_sessionmaker[AsyncSession], username: str
) -> None:
    want = DEMO_SCOPES[username]
    keys = ["appendix:053", "demo:shuyang-cgj"]
    ids = await _unit_ids(sessions, keys)

    def domain_of(name: str) -> str:
        for key in keys:
            name = name.replace("{" + key + "}", str(ids[key]))
        return name

    scope = compute_scope(enforcer, user_subject(username))
    assert scope.subject == user_subject(username)
    assert not scope.is_anonymous
    assert {d: set(r) for d, r in scope.roles.items()} == {
        domain_of(d): r for d, r in want["roles"].items()
    }
    assert scope.centres_for("unit", "supervise") == want["supervise"]
    assert scope.centres_for("unit", "manage") == want["manage"]
    assert scope.centres_for("role", "grant") == want["role_grant"]
    assert scope.centres_for("node", "manage") == want["node_manage"]
    assert scope.centres_for("subrole", "grant") == want["subrole_grant"]
    assert scope.read_down_from == want["read_down"]
    assert scope.units_for("unit", "read") == {ids[k] for k in want["unit_read"]}
    assert scope.units_for("unit", "supervise") == set()
    assert scope.units_for("unit", "manage") == set()
    if "unit_staff_read" in want:
        assert scope.units_for("staff", "read") == {ids[k] for k in want["unit_staff_read"]}
        assert scope.act_centres == {}  # unit staff hold nothing in any centre
    else:
        assert scope.act_units == {}  # centre staff hold nothing through a unit domain


def test_anonymous_subject_has_empty_scope(enforcer: PolicyEnforcer) -> None:
    scope = compute_scope(enforcer, user_subject("nobody.at.all"))
    assert scope.is_anonymous
    assert scope.act_centres == {} and scope.act_units == {} and not scope.read_down_from


# ---- visibility and read-down --------------------------------------------------------------
async def all_centres(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as s:
        return set((await s.execute(select(Centre.code))).scalars())


async def test_city_supervisor_reads_down_but_supervises_only_the_city(
    sessions: async_sessionmaker[AsyncSession], principal: Any
) -> None:
    p = await principal("city.supervisor")
    async with sessions() as s:
        vis = await visibility(s, p.scope)
        shuyang_dept = await s.get(Unit, await unit_id(sessions, LEVEL_UNITS["shuyang_dept"]))
    # The city reads down its whole chain (granted by default at seed)...
    assert {CITY, SHUYANG, SIYANG, SHUCHENG} <= vis.member_centres
    assert vis.member_centres == await all_centres(sessions)
    assert shuyang_dept is not None and vis.can_read_unit(shuyang_dept)
    # ...but supervises, and sees the staff of, its own members only.
    assert p.scope.centres_for("unit", "supervise") == {CITY}
    assert vis.staff_centres == {CITY}
    assert not vis.can_read_staff_of(shuyang_dept)


async def test_county_supervisor_sees_its_own_members_only(
    sessions: async_sessionmaker[AsyncSession], principal: Any
) -> None:
    p = await principal("shuyang.supervisor")
    async with sessions() as s:
        vis = await visibility(s, p.scope)
    assert vis.member_centres == {SHUYANG}
    # The directory entries around it: the city above, its own townships below — not their
    # members, and nothing of 泗阳县.
    async with sessions() as s:
        townships = set(
            (await s.execute(select(Centre.code).where(Centre.parent_code == SHUYANG))).scalars()
        )
    assert townships and vis.node_centres == {CITY, SHUYANG, *townships}


async def test_withholding_city_read_down(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    admin = await principal("admin")
    before_rows = await policy_rows(sessions)
    reloads = enforcer.reloads

    await service.set_read_down(uow=uow, actor=admin, centre_code=CITY, allowed=False)

    # Exactly the read-down rules of the city went, and this instance reloaded.
    after_rows = await policy_rows(sessions)
    gone = set(before_rows) - set(after_rows)
    assert gone == {
        ("p", role, centre_domain(CITY), "tree", "read", None, None) for role in READ_DOWN_ROLES
    }
    assert set(after_rows) <= set(before_rows)
    assert enforcer.reloads == reloads + 1

    p = await principal("city.supervisor")
    assert p.scope.read_down_from == frozenset()
    async with sessions() as s:
        vis = await visibility(s, p.scope)
    assert vis.member_centres == {CITY}
    assert SHUYANG not in vis.member_centres
    assert p.scope.centres_for("unit", "supervise") == {CITY}  # supervision unaffected

    [ev] = await events_of(sessions, "policy.read_down_withheld")
    assert (ev.actor, ev.entity_type, ev.entity_id) == ("user:admin", "centre", CITY)
    assert ev.after == {"readDown": False}

    # Withholding again changes nothing and records nothing.
    await service.set_read_down(uow=uow, actor=admin, centre_code=CITY, allowed=False)
    assert await policy_rows(sessions) == after_rows
    assert len(await events_of(sessions, "policy.read_down_withheld")) == 1

    # Granting it back restores the city's view down the chain.
    await service.set_read_down(uow=uow, actor=admin, centre_code=CITY, allowed=True)
    p = await principal("city.supervisor")
    async with sessions() as s:
        vis = await visibility(s, p.scope)
    assert SHUYANG in vis.member_centres and SHUCHENG in vis.member_centres


async def test_county_admin_cannot_change_city_read_down(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    county_admin = await principal("shuyang.admin")
    before_rows = await policy_rows(sessions)
    before_events = await event_count(sessions)

    with pytest.raises(NotFound):
        await service.set_read_down(uow=uow, actor=county_admin, centre_code=CITY, allowed=False)
    with pytest.raises(NotFound):  # nor a sibling county's
        await service.set_read_down(uow=uow, actor=county_admin, centre_code=SIYANG, allowed=True)

    assert await policy_rows(sessions) == before_rows
    assert len(await policy_rows(sessions)) == len(before_rows)
    assert await event_count(sessions) == before_events
    assert compute_scope(enforcer, "user:city.supervisor").read_down_from == {CITY}
    assert compute_scope(enforcer, "user:siyang.supervisor").read_down_from == frozenset()


async def test_county_read_down_reaches_its_townships_only(
    uow: UnitOfWork, sessions: async_sessionmaker[AsyncSession], principal: Any
) -> None:
    await service.set_read_down(
        uow=uow, actor=await principal("shuyang.admin"), centre_code=SHUYANG, allowed=True
    )
    p = await principal("shuyang.supervisor")
    assert p.scope.read_down_from == {SHUYANG}
    async with sessions() as s:
        townships = set(
            (await s.execute(select(Centre.code).where(Centre.parent_code == SHUYANG))).scalars()
        )
        vis = await visibility(s, p.scope)
        assert await descendants(s, frozenset({SHUYANG})) == {SHUYANG, *townships}
    assert SHUCHENG in townships
    assert vis.member_centres == {SHUYANG, *townships}
    assert CITY not in vis.member_centres and SIYANG not in vis.member_centres
    assert p.scope.centres_for("unit", "supervise") == {SHUYANG}
    # Other counties are untouched.
    assert (await principal("siyang.supervisor")).scope.read_down_from == frozenset()


# ---- granting and revoking roles -----------------------------------------------------------
async def test_county_admin_grants_dispatcher_in_own_centre(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    county_admin = await principal("shuyang.admin")
    target = "shuyang.supervisor"
    domain = centre_domain(SHUYANG)
    assert roles_in(enforcer, target, domain) == {"supervisor"}
    assert compute_scope(enforcer, user_subject(target)).centres_for("ticket", "dispatch") == set()
    reloads = enforcer.reloads

    staff = await service.grant_role(
        uow=uow, actor=county_admin, username=target, role="dispatcher", domain=domain
    )
    assert staff.username == target

    # The enforcer was reloaded on commit and reflects the grant at once.
    assert enforcer.reloads == reloads + 1
    assert roles_in(enforcer, target, domain) == {"supervisor", "dispatcher"}
    scope = compute_scope(enforcer, user_subject(target))
    assert scope.centres_for("ticket", "dispatch") == {SHUYANG}
    assert scope.centres_for("unit", "supervise") == {SHUYANG}
    # It is committed: a fresh enforcer loading from the database sees it too.
    fresh = PolicyEnforcer(engine)
    await fresh.load()
    assert roles_in(fresh, target, domain) == {"supervisor", "dispatcher"}

    # One event, written in the very transaction that added the rule.
    [ev] = await events_of(sessions, "role.granted")
    assert ev.actor == "user:shuyang.admin"
    assert (ev.entity_type, ev.entity_id) == ("staff", str(staff.id))
    assert ev.before is None
    assert ev.after == {"username": target, "role": "dispatcher", "domain": domain}
    assert ev.domains == [domain]
    async with sessions() as s:
        rule_xmin = (
            await s.execute(
                text(
                    "SELECT xmin::text FROM casbin_rule"
                    " WHERE ptype = 'g' AND v0 = :sub AND v1 = 'dispatcher' AND v2 = :dom"
                ),
                {"sub": user_subject(target), "dom": domain},
            )
        ).scalar_one()
        event_xmin = (
            await s.execute(text("SELECT xmin::text FROM event WHERE id = :id"), {"id": ev.id})
        ).scalar_one()
    assert rule_xmin == event_xmin

    # Granting what is already held is a no-op: no second rule, no second event.
    rows = await policy_rows(sessions)
    await service.grant_role(
        uow=uow, actor=county_admin, username=target, role="dispatcher", domain=domain
    )
    assert await policy_rows(sessions) == rows
    assert len(await events_of(sessions, "role.granted")) == 1


async def test_county_admin_grants_unit_role_in_own_department(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    dept = await unit_id(sessions, LEVEL_UNITS["shuyang_dept"])
    target = "shuyang.zjj.handler"
    await service.grant_role(
        uow=uow,
        actor=await principal("shuyang.admin"),
        username=target,
        role="unit_handler",
        domain=unit_domain(dept),
    )
    assert roles_in(enforcer, target, unit_domain(dept)) == {"unit_handler"}
    assert dept in compute_scope(enforcer, user_subject(target)).units_for("unit", "read")
    assert len(await events_of(sessions, "role.granted")) == 1


@pytest.mark.parametrize(
    "domain",
    [
        centre_domain(SIYANG),  # a sibling county
        centre_domain(CITY),  # the level above
        centre_domain(SHUCHENG),  # the level below: bootstrapping townships is the city's
        centre_domain("999999"),  # no such centre
        "unit:{appendix:053}/",  # a city member
        "unit:{demo:siyang-cgj}/",  # a sibling county's department
        "unit:{demo:shucheng-sqb}/",  # a township's member
    ],
)
async def test_county_admin_cannot_grant_outside_its_centre(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
    domain: str,
) -> None:
    if domain.startswith("unit:"):
        key = domain.removeprefix("unit:{").removesuffix("}/")
        domain = unit_domain(await unit_id(sessions, key))
    role = "unit_handler" if domain.startswith("unit:") else "dispatcher"
    before_rows = await policy_rows(sessions)
    before_events = await event_count(sessions)

    with pytest.raises(NotFound):
        await service.grant_role(
            uow=uow,
            actor=await principal("shuyang.admin"),
            username="shuyang.supervisor",
            role=role,
            domain=domain,
        )

    assert await policy_rows(sessions) == before_rows
    assert await event_count(sessions) == before_events
    assert roles_in(enforcer, "shuyang.supervisor", domain) == set()


@pytest.mark.parametrize(
    ("role", "domain"),
    [
        ("unit_handler", centre_domain(SHUYANG)),  # a unit role in a centre domain
        ("unit_leader", centre_domain(SHUYANG)),
        ("dispatcher", "unit:{demo:shuyang-cgj}/"),  # a centre role in a unit domain
        ("superuser", centre_domain(SHUYANG)),  # no such role
        ("", centre_domain(SHUYANG)),
        ("dispatcher", SHUYANG),  # not a domain at all
        ("dispatcher", "centre:321322"),  # no trailing slash
        ("dispatcher", "*"),
    ],
)
async def test_grant_rejects_invalid_role_or_domain(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
    role: str,
    domain: str,
) -> None:
    if domain.startswith("unit:{"):
        key = domain.removeprefix("unit:{").removesuffix("}/")
        domain = unit_domain(await unit_id(sessions, key))
    before_rows = await policy_rows(sessions)
    before_events = await event_count(sessions)

    with pytest.raises(InvalidInput):
        await service.grant_role(
            uow=uow,
            actor=await principal("shuyang.admin"),
            username="shuyang.supervisor",
            role=role,
            domain=domain,
        )

    assert await policy_rows(sessions) == before_rows
    assert await event_count(sessions) == before_events
    assert enforcer.roles_by_domain("user:shuyang.supervisor") == {
        centre_domain(SHUYANG): {"supervisor"}
    }


async def test_grant_to_unknown_staff_is_not_found(
    uow: UnitOfWork, sessions: async_sessionmaker[AsyncSession], principal: Any
) -> None:
    before_rows = await policy_rows(sessions)
    with pytest.raises(NotFound):
        await service.grant_role(
            uow=uow,
            actor=await principal("shuyang.admin"),
            username="no.such.person",
            role="dispatcher",
            domain=centre_domain(SHUYANG),
        )
    assert await policy_rows(sessions) == before_rows


async def test_city_registry_admin_bootstraps_lower_centres(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    admin = await principal("admin")
    # The city's admin holds no role grant in 泗阳县 by its centre_admin role...
    assert not enforcer.allowed(admin.subject, "role", centre_obj(SIYANG), "grant")
    # ...but the root 'subrole' permission over the centre directory lets it bootstrap one.
    assert enforcer.allowed(admin.subject, "subrole", node_obj(SIYANG), "grant")
    await service.grant_role(
        uow=uow,
        actor=admin,
        username="siyang.supervisor",
        role="centre_admin",
        domain=centre_domain(SIYANG),
    )
    assert roles_in(enforcer, "siyang.supervisor", centre_domain(SIYANG)) == {
        "supervisor",
        "centre_admin",
    }
    scope = compute_scope(enforcer, "user:siyang.supervisor")
    assert scope.centres_for("role", "grant") == {SIYANG}
    assert scope.centres_for("staff", "manage") == {SIYANG}
    [ev] = await events_of(sessions, "role.granted")
    assert ev.actor == "user:admin"
    assert ev.after == {
        "username": "siyang.supervisor",
        "role": "centre_admin",
        "domain": centre_domain(SIYANG),
    }

    # The new centre admin may now grant in its own centre (the reloaded enforcer decides)...
    new_admin = await principal("siyang.supervisor")
    await service.grant_role(
        uow=uow,
        actor=new_admin,
        username="siyang.cgj.leader",
        role="reviewer",
        domain=centre_domain(SIYANG),
    )
    assert roles_in(enforcer, "siyang.cgj.leader", centre_domain(SIYANG)) == {"reviewer"}
    # ...and not in its neighbour's.
    with pytest.raises(NotFound):
        await service.grant_role(
            uow=uow,
            actor=new_admin,
            username="siyang.cgj.leader",
            role="reviewer",
            domain=centre_domain(SHUYANG),
        )

    # The city also bootstraps townships, but 'subrole' covers centres, not units.
    await service.grant_role(
        uow=uow,
        actor=admin,
        username="shucheng.dispatcher",
        role="centre_admin",
        domain=centre_domain(SHUCHENG),
    )
    assert "centre_admin" in roles_in(enforcer, "shucheng.dispatcher", centre_domain(SHUCHENG))
    siyang_dept = await unit_id(sessions, LEVEL_UNITS["siyang_dept"])
    rows = await policy_rows(sessions)
    with pytest.raises(NotFound):
        await service.grant_role(
            uow=uow,
            actor=admin,
            username="siyang.swj.handler",
            role="unit_leader",
            domain=unit_domain(siyang_dept),
        )
    assert await policy_rows(sessions) == rows


async def test_county_registry_admin_cannot_bootstrap(
    uow: UnitOfWork, enforcer: PolicyEnforcer, principal: Any
) -> None:
    """The 'subrole' permission is the root's: a county's registry_admin does not get it."""
    county_admin = await principal("shuyang.admin")
    assert not enforcer.allowed(county_admin.subject, "subrole", node_obj(SHUCHENG), "grant")
    assert not enforcer.allowed(county_admin.subject, "subrole", node_obj(SHUYANG), "grant")
    assert not enforcer.allowed(county_admin.subject, "node", node_obj(SHUCHENG), "manage")


async def test_revoke_role(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    county_admin = await principal("shuyang.admin")
    shuyang_dept = unit_obj(await unit_id(sessions, LEVEL_UNITS["shuyang_dept"]))
    assert enforcer.allowed("user:shuyang.supervisor", "unit", shuyang_dept, "supervise")

    await service.revoke_role(
        uow=uow,
        actor=county_admin,
        username="shuyang.supervisor",
        role="supervisor",
        domain=centre_domain(SHUYANG),
    )
    assert roles_in(enforcer, "shuyang.supervisor", centre_domain(SHUYANG)) == set()
    assert not enforcer.allowed("user:shuyang.supervisor", "unit", shuyang_dept, "supervise")
    assert compute_scope(enforcer, "user:shuyang.supervisor").is_anonymous
    [ev] = await events_of(sessions, "role.revoked")
    assert ev.actor == "user:shuyang.admin"
    assert ev.before == {
        "username": "shuyang.supervisor",
        "role": "supervisor",
        "domain": centre_domain(SHUYANG),
    }
    assert ev.after is None

    rows = await policy_rows(sessions)
    events_before = await event_count(sessions)
    # Not in another centre...
    with pytest.raises(NotFound):
        await service.revoke_role(
            uow=uow,
            actor=county_admin,
            username="city.supervisor",
            role="supervisor",
            domain=centre_domain(CITY),
        )
    # ...and not one's own administrator role.
    with pytest.raises(NotPermitted):
        await service.revoke_role(
            uow=uow,
            actor=county_admin,
            username="shuyang.admin",
            role="centre_admin",
            domain=centre_domain(SHUYANG),
        )
    assert await policy_rows(sessions) == rows
    assert await event_count(sessions) == events_before
    assert roles_in(enforcer, "city.supervisor", centre_domain(CITY)) == {"supervisor"}


async def test_revoked_admin_loses_power_at_once(
    uow: UnitOfWork,
    enforcer: PolicyEnforcer,
    sessions: async_sessionmaker[AsyncSession],
    principal: Any,
) -> None:
    """Authority is checked against the live policy, not the principal's cached scope."""
    stale = await principal("shuyang.admin")  # scope computed while still centre_admin
    await service.revoke_role(
        uow=uow,
        actor=await principal("admin"),
        username="shuyang.admin",
        role="centre_admin",
        domain=centre_domain(SHUYANG),
    )
    assert roles_in(enforcer, "shuyang.admin", centre_domain(SHUYANG)) == {"registry_admin"}
    rows = await policy_rows(sessions)
    with pytest.raises(NotFound):
        await service.grant_role(
            uow=uow,
            actor=stale,
            username="shuyang.supervisor",
            role="dispatcher",
            domain=centre_domain(SHUYANG),
        )
    assert await policy_rows(sessions) == rows
