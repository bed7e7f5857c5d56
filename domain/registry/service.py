"""Registry use cases: each loads, checks, changes, records its event and commits once.

Membership (unit -> centre, centre directory) is mirrored into Casbin grouping rules (g2) in the
same transaction as the registry change, so the policy alone knows who is whose member.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authz import (
    CENTRE_ROLES,
    ROLES,
    UNIT_ROLES,
    centre_domain,
    centre_obj,
    face_obj,
    node_obj,
    parse_domain,
    unit_domain,
    unit_obj,
    user_subject,
)
from authz import store as policy_store
from authz.policies import read_down_rules
from domain import events
from domain.accounts import MIN_PASSWORD_LENGTH, Principal, hash_password
from domain.errors import Conflict, DuplicateName, InvalidInput, NotFound, NotPermitted
from domain.registry.models import Centre, CentreKind, CentreLevel, Staff, Unit, UnitCategory
from domain.uow import UnitOfWork

CODE_RE = re.compile(r"^[0-9A-Z]{4,16}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")

_CHILD_LEVEL = {CentreLevel.CITY: CentreLevel.COUNTY, CentreLevel.COUNTY: CentreLevel.TOWNSHIP}


# ---- snapshots and small helpers -----------------------------------------------------------
def centre_snapshot(c: Centre) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "level": c.level.value,
        "kind": c.kind.value,
        "parentCode": c.parent_code,
        "divisionCode": c.division_code,
    }


def unit_snapshot(u: Unit) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "shortName": u.short_name,
        "category": u.category.value,
        "memberOf": u.member_of,
        "represents": u.represents,
        "active": u.active,
    }


def staff_snapshot(s: Staff) -> dict[str, Any]:
    # No password hash and no phone number in the audit trail's before/after.
    return {
        "id": s.id,
        "username": s.username,
        "displayName": s.display_name,
        "centreCode": s.centre_code,
        "unitId": s.unit_id,
        "active": s.active,
    }


def clean_name(value: str, *, field: str = "name", max_len: int = 100) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(name) > max_len:
        raise InvalidInput(f"{field} is longer than {max_len} characters", field=field)
    return name


def clean_optional(value: str | None, *, field: str, max_len: int) -> str | None:
    if value is None:
        return None
    v = " ".join(value.split())
    return clean_name(v, field=field, max_len=max_len) if v else None


async def root_code(session: AsyncSession) -> str:
    code = (
        await session.execute(select(Centre.code).where(Centre.level == CentreLevel.CITY))
    ).scalar_one_or_none()
    if code is None:
        raise NotFound("the registry has no city centre yet; run `yiwang seed`")
    return code


def _require(
    uow: UnitOfWork, actor: Principal, kind: str, obj: str, action: str, what: str
) -> None:
    """Refuse in the shape of not-found: a caller cannot tell 'not yours' from 'not there'."""
    if not uow.enforcer.allowed(actor.subject, kind, obj, action):
        raise NotFound(f"{what} not found")


async def _centre_for_update(session: AsyncSession, code: str) -> Centre | None:
    return (
        await session.execute(select(Centre).where(Centre.code == code).with_for_update())
    ).scalar_one_or_none()


async def _unit_for_update(session: AsyncSession, unit_id: int) -> Unit | None:
    return (
        await session.execute(select(Unit).where(Unit.id == unit_id).with_for_update())
    ).scalar_one_or_none()


async def _name_taken(session: AsyncSession, centre: str, name: str, except_id: int | None) -> bool:
    q = select(func.count()).select_from(Unit).where(Unit.member_of == centre, Unit.name == name)
    if except_id is not None:
        q = q.where(Unit.id != except_id)
    return bool((await session.execute(q)).scalar_one())


# ---- policy mirror -------------------------------------------------------------------------
async def mirror_centre(uow: UnitOfWork, code: str, root: str) -> None:
    n = await policy_store.add_rules(
        uow.session,
        "g2",
        [[centre_obj(code), centre_domain(code)], [node_obj(code), centre_domain(root)]],
    )
    uow.policy_changed |= n > 0


async def mirror_unit(uow: UnitOfWork, unit: Unit, *, previous_centre: str | None = None) -> None:
    s = uow.session
    changed = 0
    if previous_centre and previous_centre != unit.member_of:
        changed += await policy_store.remove_rules(
            s, "g2", [[unit_obj(unit.id), centre_domain(previous_centre)]]
        )
    rules = [
        [unit_obj(unit.id), centre_domain(unit.member_of)],
        [unit_obj(unit.id), unit_domain(unit.id)],
    ]
    if unit.represents:
        rules.append([face_obj(unit.id), centre_domain(unit.represents)])
    changed += await policy_store.add_rules(s, "g2", rules)
    uow.policy_changed |= changed > 0


# ---- centres -------------------------------------------------------------------------------
async def create_centre(
    *,
    uow: UnitOfWork,
    actor: Principal,
    code: str,
    name: str,
    kind: CentreKind,
    parent_code: str,
    division_code: str | None = None,
) -> Centre:
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise InvalidInput("code must be 4–16 digits or capital letters", field="code")
    name = clean_name(name)
    async with uow:
        s = uow.session
        _require(uow, actor, "node", node_obj(parent_code), "manage", "parent centre")
        parent = await _centre_for_update(s, parent_code)
        if parent is None:
            raise NotFound("parent centre not found")
        level = _CHILD_LEVEL.get(parent.level)
        if level is None:
            raise InvalidInput("a township centre cannot have child centres", field="parentCode")
        if await s.get(Centre, code) is not None:
            raise DuplicateName(f"a centre with code {code} already exists", field="code")
        centre = Centre(
            code=code,
            name=name,
            level=level,
            kind=kind,
            parent_code=parent.code,
            division_code=division_code,
        )
        s.add(centre)
        await _flush_unique(s, "code")
        root = await root_code(s)
        await mirror_centre(uow, code, root)
        await events.record(
            s,
            type="centre.created",
            actor=actor.subject,
            entity_type="centre",
            entity_id=code,
            before=None,
            after=centre_snapshot(centre),
            domains=[centre_domain(parent.code), centre_domain(code)],
        )
        await uow.commit()
        return centre


async def _ancestors(session: AsyncSession, code: str) -> list[str]:
    chain: list[str] = []
    current: str | None = code
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = (
            await session.execute(select(Centre.parent_code).where(Centre.code == current))
        ).scalar_one_or_none()
    return chain


async def move_centre(
    *, uow: UnitOfWork, actor: Principal, code: str, new_parent_code: str
) -> Centre:
    """Move a centre under another parent of the level above (e.g. a township to a zone)."""
    async with uow:
        s = uow.session
        _require(uow, actor, "node", node_obj(code), "manage", "centre")
        _require(uow, actor, "node", node_obj(new_parent_code), "manage", "parent centre")
        centre = await _centre_for_update(s, code)
        parent = await _centre_for_update(s, new_parent_code)
        if centre is None:
            raise NotFound("centre not found")
        if parent is None:
            raise NotFound("parent centre not found")
        if centre.level == CentreLevel.CITY:
            raise InvalidInput("the city centre has no parent", field="code")
        if _CHILD_LEVEL.get(parent.level) != centre.level:
            raise InvalidInput(
                f"a {centre.level.value.lower()} centre must sit under a centre one level above",
                field="newParentCode",
            )
        if code in await _ancestors(s, parent.code):
            raise InvalidInput("a centre cannot move under itself", field="newParentCode")
        if centre.parent_code == parent.code:
            return centre
        before = centre_snapshot(centre)
        old_parent = centre.parent_code
        centre.parent_code = parent.code
        await s.flush()
        # The unit that stood for this centre among the old parent's members moves along.
        face = (
            await s.execute(
                select(Unit)
                .where(Unit.represents == code, Unit.member_of == old_parent)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if face is not None:
            if await _name_taken(s, parent.code, face.name, face.id):
                raise DuplicateName(
                    f"{parent.name} already has a unit named {face.name}, the name of the unit "
                    "that stands for this centre",
                    field="newParentCode",
                )
            face_before = unit_snapshot(face)
            face.member_of = parent.code
            await s.flush()
            await mirror_unit(uow, face, previous_centre=old_parent)
            await events.record(
                s,
                type="unit.moved",
                actor=actor.subject,
                entity_type="unit",
                entity_id=face.id,
                before=face_before,
                after=unit_snapshot(face),
                domains=[centre_domain(c) for c in (old_parent or "", parent.code) if c],
            )
        await events.record(
            s,
            type="centre.moved",
            actor=actor.subject,
            entity_type="centre",
            entity_id=code,
            before=before,
            after=centre_snapshot(centre),
            domains=[centre_domain(c) for c in (code, parent.code, old_parent or "") if c],
        )
        await uow.commit()
        return centre


# ---- units ---------------------------------------------------------------------------------
async def create_unit(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    category: UnitCategory,
    member_of: str,
    short_name: str | None = None,
    represents: str | None = None,
) -> Unit:
    name = clean_name(name)
    short_name = clean_optional(short_name, field="shortName", max_len=50)
    async with uow:
        s = uow.session
        _require(uow, actor, "unit", centre_obj(member_of), "manage", "centre")
        centre = await _centre_for_update(s, member_of)
        if centre is None:
            raise NotFound("centre not found")
        if represents is not None:
            await _check_represents(s, centre, represents, except_id=None)
        if await _name_taken(s, member_of, name, None):
            raise DuplicateName(f"{centre.name} already has a unit named {name}", field="name")
        unit = Unit(
            name=name,
            short_name=short_name,
            category=category,
            member_of=member_of,
            represents=represents,
        )
        s.add(unit)
        await _flush_unique(s, "name")
        await mirror_unit(uow, unit)
        await events.record(
            s,
            type="unit.created",
            actor=actor.subject,
            entity_type="unit",
            entity_id=unit.id,
            before=None,
            after=unit_snapshot(unit),
            domains=[centre_domain(member_of), unit_domain(unit.id)],
        )
        await uow.commit()
        return unit


async def _check_represents(
    s: AsyncSession, centre: Centre, represents: str, except_id: int | None
) -> None:
    lower = await s.get(Centre, represents)
    if lower is None or lower.parent_code != centre.code:
        raise InvalidInput(
            "a unit can only represent a centre directly below the centre it belongs to",
            field="represents",
        )
    q = select(Unit.id).where(Unit.represents == represents)
    if except_id is not None:
        q = q.where(Unit.id != except_id)
    if (await s.execute(q)).first() is not None:
        raise DuplicateName("another unit already represents that centre", field="represents")


async def _load_unit(uow: UnitOfWork, actor: Principal, unit_id: int, action: str) -> Unit:
    _require(uow, actor, "unit", unit_obj(unit_id), action, "unit")
    unit = await _unit_for_update(uow.session, unit_id)
    if unit is None:
        raise NotFound("unit not found")
    return unit


async def update_unit(
    *,
    uow: UnitOfWork,
    actor: Principal,
    unit_id: int,
    name: str | None = None,
    short_name: str | None = None,
    category: UnitCategory | None = None,
    expected_version: int | None = None,
) -> Unit:
    new_name = clean_name(name) if name is not None else None
    new_short = clean_optional(short_name, field="shortName", max_len=50)
    async with uow:
        s = uow.session
        unit = await _load_unit(uow, actor, unit_id, "manage")
        if expected_version is not None and unit.version != expected_version:
            raise Conflict("the unit was changed by someone else; reload and try again")
        before = unit_snapshot(unit)
        if new_name is not None and new_name != unit.name:
            if await _name_taken(s, unit.member_of, new_name, unit.id):
                raise DuplicateName(
                    f"this centre already has a unit named {new_name}", field="name"
                )
            unit.name = new_name
        if short_name is not None:
            unit.short_name = new_short
        if category is not None:
            unit.category = category
        after = unit_snapshot(unit)
        if after == before:
            return unit
        await _flush_unique(s, "name")
        await events.record(
            s,
            type="unit.updated",
            actor=actor.subject,
            entity_type="unit",
            entity_id=unit.id,
            before=before,
            after=after,
            domains=[centre_domain(unit.member_of), unit_domain(unit.id)],
        )
        await uow.commit()
        return unit


async def move_unit(*, uow: UnitOfWork, actor: Principal, unit_id: int, to_centre: str) -> Unit:
    """Move a unit to another centre: the actor must manage the members of both."""
    async with uow:
        s = uow.session
        unit = await _load_unit(uow, actor, unit_id, "manage")
        _require(uow, actor, "unit", centre_obj(to_centre), "manage", "centre")
        target = await _centre_for_update(s, to_centre)
        if target is None:
            raise NotFound("centre not found")
        if unit.member_of == to_centre:
            return unit
        if unit.represents is not None:
            raise InvalidInput(
                "a unit that represents a lower centre moves with that centre (moveCentre)",
                field="unitId",
            )
        if await _name_taken(s, to_centre, unit.name, unit.id):
            raise DuplicateName(f"{target.name} already has a unit named {unit.name}", field="name")
        before = unit_snapshot(unit)
        previous = unit.member_of
        unit.member_of = to_centre
        await s.flush()
        await mirror_unit(uow, unit, previous_centre=previous)
        await events.record(
            s,
            type="unit.moved",
            actor=actor.subject,
            entity_type="unit",
            entity_id=unit.id,
            before=before,
            after=unit_snapshot(unit),
            domains=[centre_domain(previous), centre_domain(to_centre), unit_domain(unit.id)],
        )
        await uow.commit()
        return unit


async def set_unit_active(*, uow: UnitOfWork, actor: Principal, unit_id: int, active: bool) -> Unit:
    async with uow:
        s = uow.session
        unit = await _load_unit(uow, actor, unit_id, "manage")
        if unit.active == active:
            return unit
        before = unit_snapshot(unit)
        unit.active = active
        await s.flush()
        await events.record(
            s,
            type="unit.activated" if active else "unit.deactivated",
            actor=actor.subject,
            entity_type="unit",
            entity_id=unit.id,
            before=before,
            after=unit_snapshot(unit),
            domains=[centre_domain(unit.member_of), unit_domain(unit.id)],
        )
        await uow.commit()
        return unit


# ---- staff and roles -----------------------------------------------------------------------
async def create_staff(
    *,
    uow: UnitOfWork,
    actor: Principal,
    username: str,
    display_name: str,
    password: str,
    phone: str | None = None,
    centre_code: str | None = None,
    unit_id: int | None = None,
    roles: list[str] | None = None,
) -> Staff:
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "username: 2–64 lower-case letters, digits, dot, dash or underscore", field="username"
        )
    display_name = clean_name(display_name, field="displayName")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if phone is not None:
        phone = phone.strip() or None
        if phone is not None and not PHONE_RE.match(phone):
            raise InvalidInput("phone must be digits (with optional + and -)", field="phone")
    if (centre_code is None) == (unit_id is None):
        raise InvalidInput("give exactly one of centreCode or unitId", field="centreCode")
    async with uow:
        s = uow.session
        if unit_id is not None:
            _require(uow, actor, "staff", unit_obj(unit_id), "manage", "unit")
            unit = await s.get(Unit, unit_id)
            if unit is None:
                raise NotFound("unit not found")
            domain = unit_domain(unit_id)
            allowed_roles: tuple[str, ...] = UNIT_ROLES
            event_domains = [centre_domain(unit.member_of), domain]
        else:
            assert centre_code is not None
            _require(uow, actor, "staff", centre_obj(centre_code), "manage", "centre")
            if await s.get(Centre, centre_code) is None:
                raise NotFound("centre not found")
            domain, allowed_roles = centre_domain(centre_code), CENTRE_ROLES
            event_domains = [domain]
        for role in roles or []:
            if role not in allowed_roles:
                raise InvalidInput(f"role {role} cannot be held in {domain}", field="roles")
        if roles:
            # Creating an account with roles is granting them: the same right as grantRole.
            await _check_grant(uow, actor, roles[0], domain)
        exists = (await s.execute(select(Staff.id).where(Staff.username == username))).first()
        if exists is not None:
            raise DuplicateName(f"username {username} is taken", field="username")
        staff = Staff(
            username=username,
            display_name=display_name,
            phone=phone,
            password_hash=hash_password(password),
            centre_code=centre_code,
            unit_id=unit_id,
        )
        s.add(staff)
        await _flush_unique(s, "username")
        if roles:
            n = await policy_store.add_rules(
                s, "g", [[user_subject(username), r, domain] for r in sorted(set(roles))]
            )
            uow.policy_changed |= n > 0
        await events.record(
            s,
            type="staff.created",
            actor=actor.subject,
            entity_type="staff",
            entity_id=staff.id,
            before=None,
            after={**staff_snapshot(staff), "roles": sorted(set(roles or [])), "domain": domain},
            domains=event_domains,
        )
        await uow.commit()
        return staff


async def _check_grant(uow: UnitOfWork, actor: Principal, role: str, domain: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role}", field="role")
    parsed = parse_domain(domain)
    if parsed is None:
        raise InvalidInput("domain must look like centre:<code>/ or unit:<id>/", field="domain")
    kind, key = parsed
    if kind == "centre" and role not in CENTRE_ROLES:
        raise InvalidInput(f"{role} is a unit role; grant it in a unit domain", field="role")
    if kind == "unit" and role not in UNIT_ROLES:
        raise InvalidInput(f"{role} is a centre role; grant it in a centre domain", field="role")
    if kind == "centre":
        ok = uow.enforcer.allowed(actor.subject, "role", centre_obj(key), "grant") or (
            uow.enforcer.allowed(actor.subject, "subrole", node_obj(key), "grant")
        )
        exists = await uow.session.get(Centre, key) is not None
    else:
        ok = uow.enforcer.allowed(actor.subject, "role", unit_obj(int(key)), "grant")
        exists = await uow.session.get(Unit, int(key)) is not None
    if not ok or not exists:
        raise NotFound("domain not found")


async def _staff_by_username(s: AsyncSession, username: str) -> Staff:
    staff = (
        await s.execute(select(Staff).where(Staff.username == username.strip().lower()))
    ).scalar_one_or_none()
    if staff is None:
        raise NotFound("staff not found")
    return staff


async def grant_role(
    *, uow: UnitOfWork, actor: Principal, username: str, role: str, domain: str
) -> Staff:
    async with uow:
        await _check_grant(uow, actor, role, domain)
        staff = await _staff_by_username(uow.session, username)
        rule = [user_subject(staff.username), role, domain]
        if await policy_store.add_rules(uow.session, "g", [rule]):
            uow.policy_changed = True
            await events.record(
                uow.session,
                type="role.granted",
                actor=actor.subject,
                entity_type="staff",
                entity_id=staff.id,
                before=None,
                after={"username": staff.username, "role": role, "domain": domain},
                domains=[domain],
            )
        await uow.commit()
        return staff


async def revoke_role(
    *, uow: UnitOfWork, actor: Principal, username: str, role: str, domain: str
) -> Staff:
    async with uow:
        await _check_grant(uow, actor, role, domain)
        staff = await _staff_by_username(uow.session, username)
        if staff.username == actor.username and role in ("centre_admin", "registry_admin"):
            raise NotPermitted("you cannot revoke your own administrator role")
        rule = [user_subject(staff.username), role, domain]
        if await policy_store.remove_rules(uow.session, "g", [rule]):
            uow.policy_changed = True
            await events.record(
                uow.session,
                type="role.revoked",
                actor=actor.subject,
                entity_type="staff",
                entity_id=staff.id,
                before={"username": staff.username, "role": role, "domain": domain},
                after=None,
                domains=[domain],
            )
        await uow.commit()
        return staff


async def set_read_down(
    *, uow: UnitOfWork, actor: Principal, centre_code: str, allowed: bool
) -> Centre:
    """Grant or withhold a centre's read access down its chain (never supervision)."""
    async with uow:
        s = uow.session
        _require(uow, actor, "policy", centre_obj(centre_code), "manage", "centre")
        centre = await s.get(Centre, centre_code)
        if centre is None:
            raise NotFound("centre not found")
        rules = read_down_rules(centre_code)
        if allowed:
            n = await policy_store.add_rules(s, "p", rules)
        else:
            n = await policy_store.remove_rules(s, "p", rules)
        if n:
            uow.policy_changed = True
            await events.record(
                s,
                type="policy.read_down_granted" if allowed else "policy.read_down_withheld",
                actor=actor.subject,
                entity_type="centre",
                entity_id=centre_code,
                before={"readDown": not allowed},
                after={"readDown": allowed},
                domains=[centre_domain(centre_code)],
            )
        await uow.commit()
        return centre


async def _flush_unique(s: AsyncSession, field: str) -> None:
    """Flush; a unique violation that raced past the pre-check becomes a typed error."""
    try:
        await s.flush()
    except IntegrityError as exc:
        if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
            raise DuplicateName(f"{field} already exists", field=field) from None
        raise
