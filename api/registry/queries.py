"""Registry queries: thin resolvers over scoped domain queries."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.registry.types import (
    Centre,
    CentreFilter,
    HistoryEntry,
    Unit,
    UnitFilter,
    list_units,
)
from api.relay import Connection, connection, int_key
from authz import centre_domain
from domain.pagination import clamp_first
from domain.registry import queries as rq


@strawberry.type
class RegistryQuery:
    @strawberry.field(description="Centres in your scope, ordered by code.")
    async def centres(
        self,
        info: Info,
        filter: CentreFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Centre]:
        ctx = info.context
        vis = await ctx.visibility()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await rq.list_centres(s, vis, (filter or CentreFilter()).to_domain(), n, after)
        return connection(page, Centre.of)  # type: ignore[arg-type]

    @strawberry.field(description="A centre by its code; null when missing or outside your scope.")
    async def centre(self, info: Info, code: str) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(code)
        return Centre.of(c) if c else None

    @strawberry.field(description="Units in your scope, ordered by id.")
    async def units(
        self,
        info: Info,
        filter: UnitFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Unit]:
        return await list_units(info, filter, first, after)

    @strawberry.field(description="A unit by global ID; null when missing or outside your scope.")
    async def unit(self, info: Info, id: strawberry.ID) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(int_key(id, "Unit"))
        return Unit.of(u) if u else None

    @strawberry.field(
        description=(
            "The audit trail of a centre: registry, role and policy changes tagged with its "
            "domain, newest first. Null unless you may read that centre's history."
        )
    )
    async def audit_trail(
        self, info: Info, centre_code: str, first: int | None = None, after: str | None = None
    ) -> Connection[HistoryEntry] | None:
        ctx = info.context
        vis = await ctx.visibility()
        if centre_code not in vis.history_centres:
            return None
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await rq.audit_trail(s, centre_domain(centre_code), n, after)
        return connection(page, HistoryEntry.of)  # type: ignore[arg-type]
