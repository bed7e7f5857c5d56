"""Notice and accountability-referral queries: scoped lists and one by ID."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.notices.types import (
    AccountabilityGround,
    AccountabilityReferral,
    Notice,
    NoticeKind,
    ReferralStatus,
)
from api.relay import Connection, connection, int_key
from domain.assessment import accountability as acc
from domain.assessment import notice_models as m
from domain.assessment import notices as nq
from domain.pagination import clamp_first


@strawberry.input
class NoticeFilter:
    centre_code: str | None = strawberry.field(default=None, description="The publishing centre.")
    kind: NoticeKind | None = None  # type: ignore[valid-type]
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Notices naming this unit."
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Published at or after (inclusive)."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Published before (exclusive)."
    )

    def to_domain(self) -> nq.NoticeFilter:
        return nq.NoticeFilter(
            centre_code=self.centre_code,
            kind=m.NoticeKind(self.kind) if self.kind else None,
            unit_id=int_key(self.unit_id, "Unit", "unitId") if self.unit_id else None,
            published_from=self.from_,
            published_to=self.to,
        )


@strawberry.input
class AccountabilityReferralFilter:
    centre_code: str | None = strawberry.field(default=None, description="The referring centre.")
    unit_id: strawberry.ID | None = strawberry.field(default=None, description="The referred unit.")
    status: ReferralStatus | None = None  # type: ignore[valid-type]
    grounds: list[AccountabilityGround] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Referrals on any of these grounds."
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Referred at or after (inclusive)."
    )
    to: datetime | None = strawberry.field(default=None, description="Referred before (exclusive).")

    def to_domain(self) -> acc.ReferralFilter:
        return acc.ReferralFilter(
            centre_code=self.centre_code,
            unit_id=int_key(self.unit_id, "Unit", "unitId") if self.unit_id else None,
            status=m.ReferralStatus(self.status) if self.status else None,
            grounds=tuple(m.AccountabilityGround(g) for g in self.grounds or ()),
            referred_from=self.from_,
            referred_to=self.to,
        )


@strawberry.type
class NoticeQuery:
    @strawberry.field(
        description="Notices you may read, newest first: your centres' own, and those naming "
        "your unit."
    )
    async def notices(
        self,
        info: Info,
        filter: NoticeFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Notice]:
        ctx = info.context
        scope = ctx.require_principal().scope
        f = (filter or NoticeFilter()).to_domain()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await nq.list_notices(s, scope, f, n, after)
        return connection(page, Notice.of)  # type: ignore[arg-type]

    @strawberry.field(description="A notice by global ID; null when missing or not yours.")
    async def notice(self, info: Info, id: strawberry.ID) -> Notice | None:
        ctx = info.context
        scope = ctx.require_principal().scope
        async with ctx.sessions() as s:
            (row,) = await nq.notices_by_id(s, scope, [int_key(id, "Notice")])
        return Notice.of(row) if row else None

    @strawberry.field(
        description="Referrals to the discipline commission, newest first: your centre's own; "
        "the city centre reads every centre's. Units never see them."
    )
    async def accountability_referrals(
        self,
        info: Info,
        filter: AccountabilityReferralFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AccountabilityReferral]:
        ctx = info.context
        scope = ctx.require_principal().scope
        f = (filter or AccountabilityReferralFilter()).to_domain()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await acc.list_referrals(s, scope, f, n, after)
        return connection(page, AccountabilityReferral.of)  # type: ignore[arg-type]

    @strawberry.field(description="A referral by global ID; null when missing or not yours.")
    async def accountability_referral(
        self, info: Info, id: strawberry.ID
    ) -> AccountabilityReferral | None:
        ctx = info.context
        scope = ctx.require_principal().scope
        async with ctx.sessions() as s:
            (row,) = await acc.referrals_by_id(s, scope, [int_key(id, "AccountabilityReferral")])
        return AccountabilityReferral.of(row) if row else None
