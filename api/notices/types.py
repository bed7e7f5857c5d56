"""GraphQL types of notices (通报, §7(1)) and accountability referrals (移送, §7(2)(3))."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.registry.types import Centre, Unit
from api.relay import Node, to_global_id
from api.tickets.types import Ticket
from domain.assessment import notice_models as m

NoticeKind = strawberry.enum(
    m.NoticeKind,
    description="§7(1) 周报 (WEEKLY) and 专报 (SPECIAL) of typical cases; MONTHLY_RANKING names "
    "the units of the month's ranking (§7(3)1).",
)
AccountabilityGround = strawberry.enum(
    m.AccountabilityGround,
    description="The eleven situations of §7(3), in the regulation's order: 1 BOTTOM_THREE_ANNUAL "
    "(年度考核排名后3位); 2 PASSIVE_OR_OVERDUE_AFTER_REMINDER (消极应付、经催办仍超时); "
    "3 MISCONDUCT_TOWARDS_PUBLIC (违反群众纪律、态度恶劣); 4 REPEATED_OR_ESCALATED_PETITIONS "
    "(致使重复/越级/非正常上访); 5 DERELICTION_OF_DUTY (不负责任、渎职失职); "
    "6 ABUSE_OF_POWER_FAVOURITISM (以权谋私、徇私舞弊); 7 LEAK_LEADING_TO_RETALIATION "
    "(失密泄密致群众受打击报复); 8 MEDIA_EXPOSURE (负面典型案例被媒体曝光); "
    "9 POLITICAL_ERROR_IN_REPLY (回复存在严重政治问题形成舆情); 10 CRITICISED_BY_LEADERS "
    "(被党委政府领导批评要求整改); 11 OTHER (其他需要问责或处分的情形).",
)
ReferralStatus = strawberry.enum(
    m.ReferralStatus,
    description="REFERRED to the discipline commission; CONCLUDED with its outcome.",
)
AccountabilityOutcome = strawberry.enum(
    m.AccountabilityOutcome, description="What the discipline commission decided."
)


async def _tickets(info: Info, ids: list[int]) -> list[Ticket]:
    rows = await info.context.loaders.ticket_by_id.load_many(ids)
    return [Ticket.of(t) for t in rows if t is not None]


async def _units(info: Info, ids: list[int]) -> list[Unit]:
    rows = await info.context.loaders.unit_by_id.load_many(ids)
    return [Unit.of(u) for u in rows if u is not None]


@strawberry.type(description="通报 (§7(1)): a centre's weekly or special report, or its ranking.")
class Notice(Node):
    notice_id: strawberry.Private[int]
    centre_code: str = strawberry.field(description="The publishing centre.")
    kind: NoticeKind  # type: ignore[valid-type]
    title: str
    body: str
    published_by: str
    published_at: datetime

    @classmethod
    def of(cls, n: m.Notice) -> Notice:
        return cls(
            id=to_global_id("Notice", n.id),
            notice_id=n.id,
            centre_code=n.centre_code,
            kind=n.kind,
            title=n.title,
            body=n.body,
            published_by=n.published_by,
            published_at=n.published_at,
        )

    @strawberry.field(description="The publishing centre.")
    async def centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="The tickets named (typical cases) that you may see.")
    async def tickets(self, info: Info) -> list[Ticket]:
        ids = await info.context.loaders.tickets_by_notice.load(self.notice_id)
        return await _tickets(info, ids)

    @strawberry.field(description="The units named that you may see.")
    async def units(self, info: Info) -> list[Unit]:
        ids = await info.context.loaders.units_by_notice.load(self.notice_id)
        return await _units(info, ids)


@strawberry.type(
    description="移送 (§7(2)): a member unit (and optionally one of its staff) referred to the "
    "discipline commission on grounds of §7(3), and the outcome. Seen by the referring centre "
    "and the city centre only; never by units."
)
class AccountabilityReferral(Node):
    referral_id: strawberry.Private[int]
    unit_pk: strawberry.Private[int]
    centre_code: str = strawberry.field(description="The referring centre.")
    unit_id: strawberry.ID = strawberry.field(description="The referred unit's global ID.")
    staff_id: strawberry.ID | None = strawberry.field(
        description="The referred staff member's global ID, if one was named."
    )
    grounds: list[AccountabilityGround]  # type: ignore[valid-type]
    note: str
    status: ReferralStatus  # type: ignore[valid-type]
    referred_by: str
    referred_at: datetime
    outcome: AccountabilityOutcome | None  # type: ignore[valid-type]
    outcome_note: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    version: int

    @classmethod
    def of(cls, r: m.AccountabilityReferral) -> AccountabilityReferral:
        return cls(
            id=to_global_id("AccountabilityReferral", r.id),
            referral_id=r.id,
            unit_pk=r.unit_id,
            centre_code=r.centre_code,
            unit_id=to_global_id("Unit", r.unit_id),
            staff_id=to_global_id("Staff", r.staff_id) if r.staff_id is not None else None,
            grounds=[m.AccountabilityGround(g) for g in r.grounds],
            note=r.note,
            status=r.status,
            referred_by=r.referred_by,
            referred_at=r.referred_at,
            outcome=r.outcome,
            outcome_note=r.outcome_note,
            outcome_by=r.outcome_by,
            outcome_at=r.outcome_at,
            version=r.version,
        )

    @strawberry.field(description="The referring centre.")
    async def centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="The referred unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None

    @strawberry.field(description="The linked tickets you may see.")
    async def tickets(self, info: Info) -> list[Ticket]:
        ids = await info.context.loaders.tickets_by_referral.load(self.referral_id)
        return await _tickets(info, ids)
