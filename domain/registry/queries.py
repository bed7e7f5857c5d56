"""Registry read side: scoped, keyset-paginated list queries and batch loaders' queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import Event
from domain.loading import by_key, grouped
from domain.pagination import Page, key_page
from domain.registry.models import Centre, CentreLevel, Staff, Unit, UnitCategory
from domain.registry.visibility import Visibility


@dataclass(frozen=True)
class CentreFilter:
    level: CentreLevel | None = None
    parent_code: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class UnitFilter:
    category: UnitCategory | None = None
    member_of: str | None = None
    search: str | None = None
    active: bool | None = None


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_centres(
    session: AsyncSession, vis: Visibility, f: CentreFilter, first: int, after: str | None
) -> Page[Centre]:
    q = select(Centre).where(vis.centre_filter())
    if f.level is not None:
        q = q.where(Centre.level == f.level)
    if f.parent_code is not None:
        q = q.where(Centre.parent_code == f.parent_code)
    if f.search:
        q = q.where(or_(Centre.name.ilike(_like(f.search)), Centre.code.startswith(f.search)))
    return await key_page(
        session, q, Centre.code, first, after, key_of=lambda c: c.code, key_type=str
    )


async def list_units(
    session: AsyncSession, vis: Visibility, f: UnitFilter, first: int, after: str | None
) -> Page[Unit]:
    q = select(Unit).where(vis.unit_filter())
    if f.category is not None:
        q = q.where(Unit.category == f.category)
    if f.member_of is not None:
        q = q.where(Unit.member_of == f.member_of)
    if f.active is not None:
        q = q.where(Unit.active.is_(f.active))
    if f.search:
        pattern = _like(f.search)
        q = q.where(or_(Unit.name.ilike(pattern), Unit.short_name.ilike(pattern)))
    return await key_page(session, q, Unit.id, first, after)


async def centres_by_code(
    session: AsyncSession, vis: Visibility, codes: Sequence[str]
) -> list[Centre | None]:
    rows = await session.execute(
        select(Centre).where(Centre.code.in_(set(codes)), vis.centre_filter())
    )
    return by_key(rows.scalars(), lambda c: c.code, codes)


async def units_by_id(
    session: AsyncSession, vis: Visibility, ids: Sequence[int]
) -> list[Unit | None]:
    rows = await session.execute(select(Unit).where(Unit.id.in_(set(ids)), vis.unit_filter()))
    return by_key(rows.scalars(), lambda u: u.id, ids)


async def children_by_parent(
    session: AsyncSession, vis: Visibility, codes: Sequence[str]
) -> list[list[Centre]]:
    rows = await session.execute(
        select(Centre)
        .where(Centre.parent_code.in_(set(codes)), vis.centre_filter())
        .order_by(Centre.code)
    )
    return grouped(rows.scalars(), lambda c: c.parent_code or "", codes)


async def represented_by(
    session: AsyncSession, vis: Visibility, codes: Sequence[str]
) -> list[Unit | None]:
    rows = await session.execute(
        select(Unit).where(Unit.represents.in_(set(codes)), vis.unit_filter())
    )
    keys: Sequence[str | None] = codes  # ``represents`` is nullable
    return by_key(rows.scalars(), lambda u: u.represents, keys)


async def staff_by_unit(session: AsyncSession, unit_ids: Sequence[int]) -> list[list[Staff]]:
    """Staff of the given units (the caller has checked the viewer may see them)."""
    rows = await session.execute(
        select(Staff).where(Staff.unit_id.in_(set(unit_ids))).order_by(Staff.id)
    )
    return grouped(rows.scalars(), lambda s: s.unit_id or 0, unit_ids)


async def history(
    session: AsyncSession, entity_type: str, entity_id: str, first: int, after: str | None
) -> Page[Event]:
    q = select(Event).where(Event.entity_type == entity_type, Event.entity_id == entity_id)
    return await key_page(session, q, Event.id, first, after, descending=True)


async def audit_trail(
    session: AsyncSession, domain_tag: str, first: int, after: str | None
) -> Page[Event]:
    """Every event tagged with a domain (e.g. ``centre:321322/``), newest first."""
    q = select(Event).where(Event.domains.contains([domain_tag]))
    return await key_page(session, q, Event.id, first, after, descending=True)


async def staff_by_username(session: AsyncSession, username: str) -> Staff | None:
    return (
        await session.execute(select(Staff).where(Staff.username == username))
    ).scalar_one_or_none()
