"""GraphQL types of the registry: Centre, Unit, Staff and their history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.relay import Connection, Node, connection, to_global_id
from authz import centre_domain, unit_domain, user_subject
from domain import events as domain_events
from domain.pagination import clamp_first
from domain.registry import models as m
from domain.registry import queries as rq

if TYPE_CHECKING:
    from api.assessment.types import UnitScore
    from api.supervision.types import SupervisionCase

CentreLevel = strawberry.enum(m.CentreLevel, description="Level of a command centre.")
CentreKind = strawberry.enum(
    m.CentreKind, description="Administrative area, or functional zone (开发区/新区/园区)."
)
UnitCategory = strawberry.enum(
    m.UnitCategory,
    description=(
        "The appendix's five categories (县区, 党群类, 政府类, 垂管类, 其他), "
        "plus DEPARTMENT for members of lower centres."
    ),
)


@strawberry.type(description="A role held in a domain (centre:<code>/ or unit:<id>/).")
class RoleGrant:
    role: str
    domain: str


@strawberry.type(description="One change in the audit trail: who, when, what before and after.")
class HistoryEntry(Node):
    event_id: strawberry.Private[int]
    at: datetime
    type: str
    actor: str
    entity_type: str
    entity_id: str
    before: JSON | None
    after: JSON | None

    @classmethod
    def of(cls, e: domain_events.Event) -> HistoryEntry:
        return cls(
            id=to_global_id("HistoryEntry", e.id),
            event_id=e.id,
            at=e.at,
            type=e.type,
            actor=e.actor,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            before=cast(JSON, e.before),
            after=cast(JSON, e.after),
        )


async def _history(
    info: Info,
    centre_code: str,
    entity_type: str,
    entity_id: str,
    first: int | None,
    after: str | None,
) -> Connection[HistoryEntry] | None:
    ctx = info.context
    vis = await ctx.visibility()
    if centre_code not in vis.history_centres:
        return None
    n = clamp_first(first, ctx.settings.max_page_size)
    async with ctx.sessions() as s:
        page = await rq.history(s, entity_type, entity_id, n, after)
    return connection(page, HistoryEntry.of)  # type: ignore[arg-type]


@strawberry.type(description="A person who logs in: centre staff, or a unit's leader or handler.")
class Staff(Node):
    staff_id: strawberry.Private[int]
    username: str
    display_name: str
    phone: str | None
    active: bool

    @classmethod
    def of(cls, s: m.Staff) -> Staff:
        return cls(
            id=to_global_id("Staff", s.id),
            staff_id=s.id,
            username=s.username,
            display_name=s.display_name,
            phone=s.phone,
            active=s.active,
        )

    @strawberry.field(description="Roles this person holds, per domain.")
    def roles(self, info: Info) -> list[RoleGrant]:
        by_dom = info.context.enforcer.roles_by_domain(user_subject(self.username))
        return [RoleGrant(role=r, domain=d) for d in sorted(by_dom) for r in sorted(by_dom[d])]


@strawberry.input
class UnitFilter:
    category: UnitCategory | None = None  # type: ignore[valid-type]
    member_of: str | None = strawberry.field(default=None, description="Centre code.")
    search: str | None = None
    active: bool | None = None

    def to_domain(self) -> rq.UnitFilter:
        return rq.UnitFilter(
            category=self.category, member_of=self.member_of, search=self.search, active=self.active
        )


@strawberry.input
class CentreFilter:
    level: CentreLevel | None = None  # type: ignore[valid-type]
    parent_code: str | None = None
    search: str | None = None

    def to_domain(self) -> rq.CentreFilter:
        return rq.CentreFilter(level=self.level, parent_code=self.parent_code, search=self.search)


async def list_units(
    info: Info, f: UnitFilter | None, first: int | None, after: str | None
) -> Connection[Unit]:
    ctx = info.context
    vis = await ctx.visibility()
    n = clamp_first(first, ctx.settings.max_page_size)
    async with ctx.sessions() as s:
        page = await rq.list_units(s, vis, (f or UnitFilter()).to_domain(), n, after)
    return connection(page, Unit.of)  # type: ignore[arg-type]


@strawberry.type(description="承办单位: a handling unit, member of exactly one centre at a time.")
class Unit(Node):
    unit_id: strawberry.Private[int]
    member_code: strawberry.Private[str]
    represents_code: strawberry.Private[str | None]
    name: str
    short_name: str | None
    category: UnitCategory  # type: ignore[valid-type]
    active: bool
    demo: bool
    version: int = strawberry.field(description="Pass as expectedVersion to updateUnit.")

    @classmethod
    def of(cls, u: m.Unit) -> Unit:
        return cls(
            id=to_global_id("Unit", u.id),
            unit_id=u.id,
            member_code=u.member_of,
            represents_code=u.represents,
            name=u.name,
            short_name=u.short_name,
            category=u.category,
            active=u.active,
            demo=u.demo,
            version=u.version,
        )

    @strawberry.field(description="Casbin domain of this unit's own staff.")
    def domain(self) -> str:
        return unit_domain(self.unit_id)

    @strawberry.field(description="The centre this unit is a member of.")
    async def member_of(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.member_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="The lower centre this unit stands for (dispatch = referral).")
    async def represents(self, info: Info) -> Centre | None:
        if self.represents_code is None:
            return None
        c = await info.context.loaders.centre_by_code.load(self.represents_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="Leader and designated handlers; null outside your scope.")
    async def staff(self, info: Info) -> list[Staff] | None:
        vis = await info.context.visibility()
        if self.member_code not in vis.staff_centres and self.unit_id not in vis.staff_units:
            return None
        rows = await info.context.loaders.staff_by_unit_id.load(self.unit_id)
        return [Staff.of(s) for s in rows]

    @strawberry.field(description="Registry changes to this unit, newest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[HistoryEntry] | None:
        return await _history(info, self.member_code, "unit", str(self.unit_id), first, after)

    @strawberry.field(description="Supervision cases targeting this unit that you may see.")
    async def supervisions(
        self, info: Info
    ) -> list[Annotated[SupervisionCase, strawberry.lazy("api.supervision.types")]]:
        from api.supervision.types import SupervisionCase

        rows = await info.context.loaders.supervisions_by_unit.load(self.unit_id)
        return [SupervisionCase.of(c) for c in rows]

    @strawberry.field(
        description="The unit's monthly scores (§6) from month `from` to month `to` (e.g. "
        "2026-01, inclusive) that you may see: your centre's (drafts included), or your own unit's "
        "published months."
    )
    async def scores(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
    ) -> list[Annotated[UnitScore, strawberry.lazy("api.assessment.types")]]:
        from api.assessment.types import UnitScore
        from domain.assessment import queries as aq
        from domain.assessment.service import parse_month

        ctx = info.context
        first, last = parse_month(from_, "from"), parse_month(to, "to")
        async with ctx.sessions() as s:
            rows = await aq.unit_scores(
                s, ctx.enforcer, ctx.require_principal(), self.unit_id, first, last
            )
        return [UnitScore.of(r.run, r.score) for r in rows]


@strawberry.type(description="指挥中心: the city, county-level and township command centres.")
class Centre(Node):
    code: str
    name: str
    level: CentreLevel  # type: ignore[valid-type]
    kind: CentreKind  # type: ignore[valid-type]
    division_code: str | None = strawberry.field(
        description="Official statistical division code (NBS 2023), null for functional zones."
    )
    parent_code: strawberry.Private[str | None]

    @classmethod
    def of(cls, c: m.Centre) -> Centre:
        return cls(
            id=to_global_id("Centre", c.code),
            code=c.code,
            name=c.name,
            level=c.level,
            kind=c.kind,
            division_code=c.division_code,
            parent_code=c.parent_code,
        )

    @strawberry.field(description="Casbin domain of this centre.")
    def domain(self) -> str:
        return centre_domain(self.code)

    @strawberry.field
    async def parent(self, info: Info) -> Centre | None:
        if self.parent_code is None:
            return None
        c = await info.context.loaders.centre_by_code.load(self.parent_code)
        return Centre.of(c) if c else None

    @strawberry.field
    async def children(self, info: Info) -> list[Centre]:
        rows = await info.context.loaders.children_by_centre.load(self.code)
        return [Centre.of(c) for c in rows]

    @strawberry.field(description="Member units; empty outside your scope.")
    async def members(
        self,
        info: Info,
        filter: UnitFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Unit]:
        f = filter or UnitFilter()
        f = UnitFilter(category=f.category, member_of=self.code, search=f.search, active=f.active)
        return await list_units(info, f, first, after)

    @strawberry.field(
        description="The unit that stands for this centre among its parent's members."
    )
    async def represented_by(self, info: Info) -> Unit | None:
        u = await info.context.loaders.represented_by.load(self.code)
        return Unit.of(u) if u else None

    @strawberry.field(description="Changes to this centre, newest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[HistoryEntry] | None:
        return await _history(info, self.code, "centre", self.code, first, after)
