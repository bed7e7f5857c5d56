"""Demo accounts and demo departments (``--demo``), all marked ``demo``; password ``yiwang-demo``.

Idempotent: an account or unit that exists is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, face_obj, unit_domain, unit_obj, user_subject
from authz import store as policy_store
from domain.accounts import hash_password
from domain.registry.models import Staff, Unit, UnitCategory
from seeds.registry import CITY_CODE, Progress, record_seeded

DEMO_PASSWORD = "yiwang-demo"
SHUYANG = "321322"
SIYANG = "321323"
SHUCHENG = "321322001"  # 沭城街道, a township centre under 沭阳县


@dataclass(frozen=True)
class DemoUnit:
    key: str
    name: str
    member_of: str
    represents: str | None = None


# Departments of lower centres (DEPARTMENT) — demo data, not from the regulation.
DEMO_UNITS = [
    DemoUnit("demo:shuyang-cgj", "沭阳县城管局", SHUYANG),
    DemoUnit("demo:shuyang-zjj", "沭阳县住房城乡建设局", SHUYANG),
    DemoUnit("demo:shuyang-shucheng", "沭城街道", SHUYANG, represents=SHUCHENG),
    DemoUnit("demo:shucheng-sqb", "沭城街道社区服务办", SHUCHENG),
    DemoUnit("demo:siyang-cgj", "泗阳县城管局", SIYANG),
    DemoUnit("demo:siyang-swj", "泗阳县水务局", SIYANG),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    phone: str
    roles: tuple[str, ...]
    centre: str | None = None  # home centre (centre staff)
    unit: str | None = None  # unit: appendix name (city member) or demo key


DEMO_ACCOUNTS = [
    DemoAccount(
        "admin", "市级注册管理员", "13800000001", ("registry_admin", "centre_admin"), CITY_CODE
    ),
    DemoAccount("city.dispatcher", "市中心派单员", "13800000002", ("dispatcher",), CITY_CODE),
    DemoAccount("city.supervisor", "市中心督办员", "13800000003", ("supervisor",), CITY_CODE),
    DemoAccount("city.reviewer", "市中心审核员", "13800000004", ("reviewer",), CITY_CODE),
    DemoAccount("city.leader", "市领导（驾驶舱）", "13800000005", ("leader",), CITY_CODE),
    DemoAccount(
        "shuyang.admin", "沭阳县管理员", "13800000011", ("registry_admin", "centre_admin"), SHUYANG
    ),
    DemoAccount("shuyang.dispatcher", "沭阳县派单员", "13800000012", ("dispatcher",), SHUYANG),
    DemoAccount("shuyang.supervisor", "沭阳县督办员", "13800000013", ("supervisor",), SHUYANG),
    DemoAccount(
        "siyang.admin", "泗阳县管理员", "13800000021", ("registry_admin", "centre_admin"), SIYANG
    ),
    DemoAccount("siyang.supervisor", "泗阳县督办员", "13800000023", ("supervisor",), SIYANG),
    DemoAccount(
        "shucheng.dispatcher",
        "沭城街道派单员",
        "13800000031",
        ("dispatcher", "supervisor"),
        SHUCHENG,
    ),
    DemoAccount("cgj.leader", "市城管局负责人", "13800000101", ("unit_leader",), unit="市城管局"),
    DemoAccount("cgj.handler", "市城管局专人", "13800000102", ("unit_handler",), unit="市城管局"),
    DemoAccount(
        "shuyang.cgj.leader",
        "沭阳县城管局负责人",
        "13800000111",
        ("unit_leader",),
        unit="demo:shuyang-cgj",
    ),
    DemoAccount(
        "shuyang.cgj.handler",
        "沭阳县城管局专人",
        "13800000112",
        ("unit_handler",),
        unit="demo:shuyang-cgj",
    ),
    DemoAccount(
        "shuyang.zjj.leader",
        "沭阳县住建局负责人",
        "13800000113",
        ("unit_leader",),
        unit="demo:shuyang-zjj",
    ),
    DemoAccount(
        "shuyang.zjj.handler",
        "沭阳县住建局专人",
        "13800000114",
        ("unit_handler",),
        unit="demo:shuyang-zjj",
    ),
    DemoAccount(
        "shucheng.sqb.leader",
        "沭城街道社区服务办负责人",
        "13800000131",
        ("unit_leader",),
        unit="demo:shucheng-sqb",
    ),
    DemoAccount(
        "shucheng.sqb.handler",
        "沭城街道社区服务办专人",
        "13800000132",
        ("unit_handler",),
        unit="demo:shucheng-sqb",
    ),
    DemoAccount(
        "siyang.cgj.leader",
        "泗阳县城管局负责人",
        "13800000121",
        ("unit_leader",),
        unit="demo:siyang-cgj",
    ),
    DemoAccount(
        "siyang.cgj.handler",
        "泗阳县城管局专人",
        "13800000122",
        ("unit_handler",),
        unit="demo:siyang-cgj",
    ),
    DemoAccount(
        "siyang.swj.leader",
        "泗阳县水务局负责人",
        "13800000123",
        ("unit_leader",),
        unit="demo:siyang-swj",
    ),
    DemoAccount(
        "siyang.swj.handler",
        "泗阳县水务局专人",
        "13800000124",
        ("unit_handler",),
        unit="demo:siyang-swj",
    ),
]


async def seed_demo(session: AsyncSession, progress: Progress | None = None) -> dict[str, int]:
    say = progress or (lambda _msg: None)
    added = {"units": 0, "staff": 0, "rules": 0}
    say("demo units")
    for du in DEMO_UNITS:
        res = await session.execute(
            insert(Unit)
            .values(
                seed_key=du.key,
                name=du.name,
                category=UnitCategory.DEPARTMENT,
                member_of=du.member_of,
                represents=du.represents,
                demo=True,
            )
            .on_conflict_do_nothing(index_elements=["seed_key"])
        )
        added["units"] += int(res.rowcount or 0)  # type: ignore[attr-defined]
    units = {
        key: (uid, member)
        for key, uid, member in (
            await session.execute(select(Unit.seed_key, Unit.id, Unit.member_of))
        ).all()
        if key
    }
    by_name = {
        name: (uid, member)
        for name, uid, member in (
            await session.execute(
                select(Unit.name, Unit.id, Unit.member_of).where(Unit.member_of == CITY_CODE)
            )
        ).all()
    }
    g2: list[list[str]] = []
    for _key, (uid, member) in units.items():
        g2.append([unit_obj(uid), centre_domain(member)])
        g2.append([unit_obj(uid), unit_domain(uid)])
    for du in DEMO_UNITS:
        if du.represents:
            g2.append([face_obj(units[du.key][0]), centre_domain(du.represents)])
    added["rules"] += await policy_store.sync_rules(session, "g2", g2)

    say("demo accounts")
    existing = set((await session.execute(select(Staff.username))).scalars())
    grants: list[list[str]] = []
    for acc in DEMO_ACCOUNTS:
        unit_id: int | None = None
        if acc.unit is not None:
            unit_id = (units.get(acc.unit) or by_name[acc.unit])[0]
            domain = unit_domain(unit_id)
        else:
            assert acc.centre is not None
            domain = centre_domain(acc.centre)
        grants += [[user_subject(acc.username), role, domain] for role in acc.roles]
        if acc.username in existing:
            continue
        session.add(
            Staff(
                username=acc.username,
                display_name=acc.display_name,
                phone=acc.phone,
                password_hash=hash_password(DEMO_PASSWORD),
                centre_code=acc.centre,
                unit_id=unit_id,
                demo=True,
            )
        )
        added["staff"] += 1
    await session.flush()
    if added["staff"]:
        # Roles only for accounts made now: an administrator's later revocation stands.
        new = {a.username for a in DEMO_ACCOUNTS} - existing
        added["rules"] += await policy_store.sync_rules(
            session, "g", [g for g in grants if g[0].removeprefix("user:") in new]
        )
    await record_seeded(session, "registry.demo_seeded", added)
    return added
