"""Supervision queries: the scoped list and one case by ID."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.relay import Connection, connection, int_key
from api.supervision.types import Grounds, SupervisionCase, SupervisionForm, SupervisionStatus
from domain.pagination import clamp_first
from domain.supervision import models as m
from domain.supervision import queries as sq


@strawberry.input
class SupervisionFilter:
    centre_code: str | None = strawberry.field(default=None, description="The supervising centre.")
    escalated_to: str | None = strawberry.field(
        default=None, description="The centre above a case was reported to."
    )
    unit_id: strawberry.ID | None = strawberry.field(default=None, description="A target unit.")
    ticket_id: strawberry.ID | None = strawberry.field(default=None, description="A linked ticket.")
    form: SupervisionForm | None = None  # type: ignore[valid-type]
    grounds: list[Grounds] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Cases with any of these grounds."
    )
    status: SupervisionStatus | None = None  # type: ignore[valid-type]
    opened_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    opened_to: datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_domain(self) -> sq.SupervisionFilter:
        return sq.SupervisionFilter(
            centre_code=self.centre_code,
            escalated_to=self.escalated_to,
            unit_id=int_key(self.unit_id, "Unit", "unitId") if self.unit_id else None,
            ticket_id=int_key(self.ticket_id, "Ticket", "ticketId") if self.ticket_id else None,
            form=m.SupervisionForm(self.form) if self.form else None,
            grounds=tuple(m.Grounds(g) for g in self.grounds or ()),
            status=m.SupervisionStatus(self.status) if self.status else None,
            opened_from=self.opened_from,
            opened_to=self.opened_to,
        )


@strawberry.type
class SupervisionQuery:
    @strawberry.field(
        description="Supervision cases in your scope, newest first: your centres' own and those "
        "reported to them (read-only), or those targeting your units."
    )
    async def supervisions(
        self,
        info: Info,
        filter: SupervisionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SupervisionCase]:
        ctx = info.context
        scope = ctx.require_principal().scope
        f = (filter or SupervisionFilter()).to_domain()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await sq.list_cases(s, scope, f, n, after)
        return connection(page, SupervisionCase.of)  # type: ignore[arg-type]

    @strawberry.field(
        description="A supervision case by global ID; null when missing or not yours."
    )
    async def supervision_case(self, info: Info, id: strawberry.ID) -> SupervisionCase | None:
        c = await info.context.loaders.supervision_by_id.load(int_key(id, "SupervisionCase"))
        return SupervisionCase.of(c) if c else None
