"""API client queries."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.partners.types import ApiClient
from domain.partners import service


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="A centre's API clients (for its admins; others see none).")
    async def api_clients(self, info: Info, centre_code: str) -> list[ApiClient]:
        ctx = info.context
        actor = ctx.require_principal()
        async with ctx.sessions() as s:
            rows = await service.list_api_clients(s, ctx.enforcer, actor, centre_code)
        return [ApiClient.of(c) for c in rows]
