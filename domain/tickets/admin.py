"""Ticket reference data administration: the category taxonomy, routing rules, time limits.

All three are city-wide reference data (issue #3: "Admins manage categories and rules"). Only
a holder of ``("routing", "manage")`` on the root (city) centre — the city's ``centre_admin``
— may change them; anyone else is told "not found", exactly as for a missing object.

Each use case validates its input (the pure checks first, the ones that need the database
after the authorization check, so a refusal never reveals what exists), changes one row,
records an event with before/after in the same transaction and commits once. Routing rules
are never deleted: removing one deactivates it, so the history of why a ticket was proposed
to a unit stays readable.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, centre_obj
from domain import events
from domain.accounts import Principal
from domain.calendar import LimitUnit, TimeLimit
from domain.errors import Conflict, DuplicateName, InvalidInput, NotFound
from domain.inputs import clean_text as _text
from domain.pagination import Page, key_page
from domain.registry.models import Centre, Unit
from domain.tickets.models import Category, Channel, RoutingRule, TimeLimitRule, Urgency
from domain.uow import UnitOfWork

__all__ = [
    "CATEGORY_CODE_RE",
    "DIVISION_PREFIX_RE",
    "LIMIT_CAPS",
    "MAX_PRIORITY",
    "category_snapshot",
    "create_category",
    "list_routing_rules",
    "list_time_limits",
    "remove_routing_rule",
    "rule_snapshot",
    "set_routing_rule",
    "set_time_limit",
    "time_limit_snapshot",
    "update_category",
]

# One segment: an upper-case ASCII word (``CM``, ``STREET_VENDING``); at most two segments.
_SEGMENT = r"[A-Z][A-Z0-9_]{0,29}"
CATEGORY_CODE_RE = re.compile(rf"^{_SEGMENT}(\.{_SEGMENT})?$")
# Division codes have at most 12 digits (routing.py relies on it for its scores).
DIVISION_PREFIX_RE = re.compile(r"^[0-9]{1,12}$")
MAX_PRIORITY = 1000
NAME_MAX = 100
NOTE_MAX = 200
SOURCE_MAX = 300


# ---- snapshots ---------------------------------------------------------------------------------
def category_snapshot(c: Category) -> dict[str, Any]:
    return {
        "code": c.code,
        "parentCode": c.parent_code,
        "nameZh": c.name_zh,
        "nameEn": c.name_en,
        "active": c.active,
    }


def rule_snapshot(r: RoutingRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "category": r.category_code,
        "divisionPrefix": r.division_prefix,
        "unitId": r.unit_id,
        "priority": r.priority,
        "note": r.note,
        "active": r.active,
    }


def _limit(amount: int, unit: str) -> dict[str, Any]:
    return {"amount": amount, "unit": unit}


def time_limit_snapshot(t: TimeLimitRule) -> dict[str, Any]:
    return {
        "channel": t.channel.value,
        "urgency": t.urgency.value,
        "signFor": _limit(t.sign_for_amount, t.sign_for_unit),
        "handle": _limit(t.handle_amount, t.handle_unit),
        "returnWindow": _limit(t.return_window_amount, t.return_window_unit),
        "source": t.source,
    }


# ---- helpers -----------------------------------------------------------------------------------


def _name(value: str, field: str) -> str:
    v = _text(value, field, NAME_MAX, required=True)
    assert v is not None
    return v


async def _root_if_admin(uow: UnitOfWork, actor: Principal, what: str) -> str:
    """The root centre's code when the actor manages the city's routing data (else: not found)."""
    root = (
        await uow.session.execute(select(Centre.code).where(Centre.parent_code.is_(None)))
    ).scalar_one()
    if not uow.enforcer.allowed(actor.subject, "routing", centre_obj(root), "manage"):
        raise NotFound(f"{what} not found")
    return root


async def _record(
    s: AsyncSession,
    *,
    actor: Principal,
    type_: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    root: str,
) -> None:
    await events.record(
        s,
        type=type_,
        actor=actor.subject,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        domains=[centre_domain(root)],
    )


async def _flush_or(s: AsyncSession, error: Exception) -> None:
    """Flush; a unique violation (a concurrent insert of the same key) becomes ``error``."""
    try:
        await s.flush()
    except IntegrityError:
        raise error from None


# ---- categories --------------------------------------------------------------------------------
async def create_category(
    *,
    uow: UnitOfWork,
    actor: Principal,
    code: str,
    parent_code: str | None,
    name_zh: str,
    name_en: str,
) -> Category:
    """Add a top-level category (``CM``) or a subcategory (``CM.STREET_VENDING`` under ``CM``)."""
    code = (code or "").strip()
    parent = (parent_code or "").strip() or None
    if not CATEGORY_CODE_RE.fullmatch(code) or len(code) > 64:
        raise InvalidInput(
            "code must be upper-case letters, digits and _ (e.g. CM or CM.STREET_VENDING), "
            "at most two levels",
            field="code",
        )
    head, dot, _ = code.partition(".")
    if dot and parent != head:
        raise InvalidInput(
            f"a subcategory's code starts with its parent's code: give parentCode {head}",
            field="parentCode",
        )
    if not dot and parent is not None:
        raise InvalidInput(
            f"a subcategory's code is its parent's code, a dot and a word: {parent}.{code}",
            field="code",
        )
    zh, en = _name(name_zh, "nameZh"), _name(name_en, "nameEn")
    async with uow:
        s = uow.session
        root = await _root_if_admin(uow, actor, "category")
        if parent is not None:
            p = await s.get(Category, parent, with_for_update={"read": True})
            if p is None:
                raise InvalidInput(f"unknown parent category {parent}", field="parentCode")
            if p.parent_code is not None:
                raise InvalidInput("categories have two levels at most", field="parentCode")
            if not p.active:
                raise InvalidInput(f"the parent category {parent} is inactive", field="parentCode")
        if await s.get(Category, code) is not None:
            raise DuplicateName(f"a category with code {code} already exists", field="code")
        await _check_name_free(s, parent, zh, except_code=None)
        category = Category(code=code, parent_code=parent, name_zh=zh, name_en=en, active=True)
        s.add(category)
        await _flush_or(
            s, DuplicateName(f"a category with code {code} already exists", field="code")
        )
        await _record(
            s,
            actor=actor,
            type_="category.created",
            entity_type="category",
            entity_id=code,
            before=None,
            after=category_snapshot(category),
            root=root,
        )
        await uow.commit()
        return category


async def _check_name_free(
    s: AsyncSession, parent: str | None, name_zh: str, *, except_code: str | None
) -> None:
    """Two categories under one parent (or two top-level ones) may not share a Chinese name."""
    q = select(func.count()).select_from(Category).where(Category.name_zh == name_zh)
    q = q.where(Category.parent_code == parent if parent else Category.parent_code.is_(None))
    if except_code is not None:
        q = q.where(Category.code != except_code)
    if (await s.execute(q)).scalar_one():
        where = f"under {parent}" if parent else "at the top level"
        raise DuplicateName(f"a category named {name_zh} already exists {where}", field="nameZh")


async def update_category(
    *,
    uow: UnitOfWork,
    actor: Principal,
    code: str,
    name_zh: str | None = None,
    name_en: str | None = None,
    active: bool | None = None,
) -> Category:
    """Rename a category or (de)activate it. An inactive category takes no new tickets; a
    top-level one is deactivated only after its subcategories, and a subcategory reactivated
    only under an active parent."""
    if name_zh is None and name_en is None and active is None:
        raise InvalidInput("give nameZh, nameEn or active", field="code")
    zh = _name(name_zh, "nameZh") if name_zh is not None else None
    en = _name(name_en, "nameEn") if name_en is not None else None
    async with uow:
        s = uow.session
        root = await _root_if_admin(uow, actor, "category")
        c = await s.get(Category, (code or "").strip(), with_for_update=True)
        if c is None:
            raise NotFound("category not found")
        before = category_snapshot(c)
        if zh is not None and zh != c.name_zh:
            await _check_name_free(s, c.parent_code, zh, except_code=c.code)
            c.name_zh = zh
        if en is not None:
            c.name_en = en
        if active is not None and active != c.active:
            if not active:
                children = (
                    await s.execute(
                        select(func.count())
                        .select_from(Category)
                        .where(Category.parent_code == c.code, Category.active)
                    )
                ).scalar_one()
                if children:
                    raise InvalidInput(
                        f"{c.code} has {children} active subcategories: deactivate them first",
                        field="active",
                    )
            elif c.parent_code is not None:
                parent = await s.get(Category, c.parent_code)
                if parent is None or not parent.active:
                    raise InvalidInput(
                        f"the parent category {c.parent_code} is inactive: reactivate it first",
                        field="active",
                    )
            c.active = active
        after = category_snapshot(c)
        if after != before:
            await s.flush()
            await _record(
                s,
                actor=actor,
                type_="category.updated",
                entity_type="category",
                entity_id=c.code,
                before=before,
                after=after,
                root=root,
            )
        await uow.commit()
        return c


# ---- routing rules -----------------------------------------------------------------------------
async def set_routing_rule(
    *,
    uow: UnitOfWork,
    actor: Principal,
    category_code: str,
    division_prefix: str | None,
    unit_id: int,
    priority: int,
    note: str | None = None,
) -> RoutingRule:
    """Create the rule (category, division prefix, unit), or update its priority and note
    (and reactivate it if it had been removed). An empty prefix means the whole city."""
    category_code = (category_code or "").strip()
    prefix = (division_prefix or "").strip() or None
    if prefix is not None and not DIVISION_PREFIX_RE.fullmatch(prefix):
        raise InvalidInput(
            "divisionPrefix must be 1–12 digits (or empty for the whole city)",
            field="divisionPrefix",
        )
    if isinstance(priority, bool) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be between 0 and {MAX_PRIORITY}", field="priority")
    note_ = _text(note, "note", NOTE_MAX, required=False)
    async with uow:
        s = uow.session
        root = await _root_if_admin(uow, actor, "routing rule")
        category = await s.get(Category, category_code, with_for_update={"read": True})
        if category is None or not category.active:
            raise InvalidInput(f"unknown category {category_code}", field="categoryCode")
        unit = await s.get(Unit, unit_id, with_for_update={"read": True})
        if unit is None:
            raise InvalidInput("unknown unit", field="unitId")
        if not unit.active:
            raise InvalidInput(f"{unit.name} is deactivated", field="unitId")
        prefix_cond = (
            RoutingRule.division_prefix == prefix
            if prefix is not None
            else RoutingRule.division_prefix.is_(None)
        )
        rule = (
            await s.execute(
                select(RoutingRule)
                .where(
                    RoutingRule.category_code == category_code,
                    prefix_cond,
                    RoutingRule.unit_id == unit_id,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        before = rule_snapshot(rule) if rule is not None else None
        if rule is None:
            rule = RoutingRule(
                category_code=category_code,
                division_prefix=prefix,
                unit_id=unit_id,
                priority=priority,
                note=note_,
                active=True,
            )
            s.add(rule)
        else:
            rule.priority = priority
            rule.note = note_
            rule.active = True
        await _flush_or(s, Conflict("someone else changed this rule at the same time; retry"))
        after = rule_snapshot(rule)
        if after != before:
            await _record(
                s,
                actor=actor,
                type_="routing_rule.created" if before is None else "routing_rule.updated",
                entity_type="routing_rule",
                entity_id=rule.id,
                before=before,
                after=after,
                root=root,
            )
        await uow.commit()
        return rule


async def remove_routing_rule(*, uow: UnitOfWork, actor: Principal, rule_id: int) -> RoutingRule:
    """Deactivate a rule: it stops proposing its unit; the row (and its history) stays."""
    async with uow:
        s = uow.session
        root = await _root_if_admin(uow, actor, "routing rule")
        rule = await s.get(RoutingRule, rule_id, with_for_update=True)
        if rule is None:
            raise NotFound("routing rule not found")
        if not rule.active:
            raise InvalidInput("the routing rule is already removed", field="ruleId")
        before = rule_snapshot(rule)
        rule.active = False
        await s.flush()
        await _record(
            s,
            actor=actor,
            type_="routing_rule.removed",
            entity_type="routing_rule",
            entity_id=rule.id,
            before=before,
            after=rule_snapshot(rule),
            root=root,
        )
        await uow.commit()
        return rule


async def list_routing_rules(
    session: AsyncSession,
    *,
    category_code: str | None,
    include_inactive: bool,
    first: int,
    after: str | None,
) -> Page[RoutingRule]:
    """Rules by id; a top-level category code includes its subcategories' rules."""
    q = select(RoutingRule)
    if category_code:
        code = category_code.strip()
        q = q.where(
            (RoutingRule.category_code == code)
            | RoutingRule.category_code.startswith(code + ".", autoescape=True)
        )
    if not include_inactive:
        q = q.where(RoutingRule.active)
    return await key_page(session, q, RoutingRule.id, first, after)


# ---- time limits -------------------------------------------------------------------------------
# The longest limit an administrator may set, as (working days, natural time): a longer one is
# almost certainly a typo (minutes for hours, ...). The return window of §3(4) is 1 working day;
# it may be configured up to 10.
LIMIT_CAPS: dict[str, tuple[int, timedelta]] = {
    "signFor": (5, timedelta(days=7)),
    "handle": (60, timedelta(days=90)),
    "returnWindow": (10, timedelta(days=14)),
}

_NATURAL = {
    LimitUnit.MINUTES: timedelta(minutes=1),
    LimitUnit.HOURS: timedelta(hours=1),
    LimitUnit.NATURAL_DAYS: timedelta(days=1),
    # Only for comparing two limits: a working day lasts at least a natural day.
    LimitUnit.WORKING_DAYS: timedelta(days=1),
}


def _check_limit(limit: TimeLimit, field: str, *, positive: bool) -> None:
    if not isinstance(limit, TimeLimit):
        raise InvalidInput(f"{field} must be a time limit", field=field)
    if limit.amount < 0 or (positive and limit.amount == 0):
        raise InvalidInput(
            f"{field} must be {'greater than 0' if positive else 'at least 0'}",
            field=f"{field}.amount",
        )
    max_days, max_natural = LIMIT_CAPS[field]
    if limit.unit == LimitUnit.WORKING_DAYS:
        too_long = limit.amount > max_days
    else:
        too_long = limit.amount * _NATURAL[limit.unit] > max_natural
    if too_long:
        raise InvalidInput(
            f"{field} may be at most {max_days} working days ({max_natural.days} natural days)",
            field=f"{field}.amount",
        )


def _approx(limit: TimeLimit) -> timedelta:
    return limit.amount * _NATURAL[limit.unit]


async def set_time_limit(
    *,
    uow: UnitOfWork,
    actor: Principal,
    channel: Channel,
    urgency: Urgency,
    sign_for: TimeLimit,
    handle: TimeLimit,
    return_window: TimeLimit,
    source: str,
) -> TimeLimitRule:
    """Set the limits of one channel and urgency (§4(1)); ``source`` says where they come from.

    Applies to the next dispatch: assignments already made keep their deadlines.
    """
    try:
        channel, urgency = Channel(channel), Urgency(urgency)
    except ValueError:
        raise InvalidInput("unknown channel or urgency", field="channel") from None
    _check_limit(sign_for, "signFor", positive=True)
    _check_limit(handle, "handle", positive=True)
    _check_limit(return_window, "returnWindow", positive=False)
    if _approx(sign_for) > _approx(handle):
        raise InvalidInput("signFor may not be longer than handle", field="signFor")
    source_ = _text(source, "source", SOURCE_MAX, required=True)
    assert source_ is not None
    async with uow:
        s = uow.session
        root = await _root_if_admin(uow, actor, "time limit")
        row = await s.get(TimeLimitRule, (channel, urgency), with_for_update=True)
        before = time_limit_snapshot(row) if row is not None else None
        if row is None:
            row = TimeLimitRule(channel=channel, urgency=urgency)
            s.add(row)
        row.sign_for_amount, row.sign_for_unit = sign_for.amount, sign_for.unit.value
        row.handle_amount, row.handle_unit = handle.amount, handle.unit.value
        row.return_window_amount = return_window.amount
        row.return_window_unit = return_window.unit.value
        row.source = source_
        await _flush_or(s, Conflict("someone else set these limits at the same time; retry"))
        after = time_limit_snapshot(row)
        if after != before:
            await _record(
                s,
                actor=actor,
                type_="time_limit.created" if before is None else "time_limit.updated",
                entity_type="time_limit",
                entity_id=f"{channel.value}/{urgency.value}",
                before=before,
                after=after,
                root=root,
            )
        await uow.commit()
        return row


async def list_time_limits(session: AsyncSession) -> list[TimeLimitRule]:
    """Every configured limit, in the enums' order (channel, then urgency)."""
    rows = list((await session.execute(select(TimeLimitRule))).scalars())
    channels, urgencies = list(Channel), list(Urgency)
    rows.sort(key=lambda r: (channels.index(r.channel), urgencies.index(r.urgency)))
    return rows
