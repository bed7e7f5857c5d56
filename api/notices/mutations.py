"""Notice and accountability mutations: typed errors, optional idempotencyKey."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from api.context import Info
from api.errors import UserError
from api.mutations import Loaded, run
from api.notices.types import (
    AccountabilityGround,
    AccountabilityOutcome,
    AccountabilityReferral,
    Notice,
    NoticeKind,
)
from api.relay import int_key
from domain.assessment import accountability as acc
from domain.assessment import notice_models as m
from domain.assessment import notices as ns
from domain.assessment import ranking
from domain.uow import UnitOfWork

# What an idempotent replay of these mutations loads again by id.


@strawberry.type
class NoticePayload:
    notice: Notice | None
    errors: list[UserError]


@strawberry.type
class AccountabilityReferralPayload:
    referral: AccountabilityReferral | None
    errors: list[UserError]


def _notice(result: Loaded) -> NoticePayload:
    obj, errors = result
    return NoticePayload(notice=Notice.of(obj) if obj else None, errors=errors)


def _referral(result: Loaded) -> AccountabilityReferralPayload:
    obj, errors = result
    return AccountabilityReferralPayload(
        referral=AccountabilityReferral.of(obj) if obj else None, errors=errors
    )


@strawberry.input
class PublishNoticeInput:
    centre_code: str = strawberry.field(description="The publishing centre (yours).")
    kind: NoticeKind  # type: ignore[valid-type]
    title: str
    body: str
    ticket_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Typical cases: tickets your centre owns or dispatched.",
    )
    unit_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Units named: members of your centre (they will read the notice). "
        "MONTHLY_RANKING names at least one.",
    )
    idempotency_key: str | None = None


@strawberry.input(
    description="§7(3)1: announce the bottom of a published month (month given) or of the year "
    "(the mean of its published months)."
)
class PublishRankingNoticeInput:
    centre_code: str
    year: int
    month: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class ReferForAccountabilityInput:
    unit_id: strawberry.ID = strawberry.field(description="A member unit of your centre.")
    staff_id: strawberry.ID | None = strawberry.field(
        default=None, description="One of that unit's staff, when a person is referred."
    )
    grounds: list[AccountabilityGround] = strawberry.field(  # type: ignore[valid-type]
        description="One or more of the eleven situations of §7(3)."
    )
    ticket_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Linked tickets: your centre's own."
    )
    note: str = strawberry.field(description="The facts and the suggestion (§7(3) 提出相关建议).")
    idempotency_key: str | None = None


@strawberry.input
class RecordAccountabilityOutcomeInput:
    referral_id: strawberry.ID
    outcome: AccountabilityOutcome  # type: ignore[valid-type]
    note: str | None = strawberry.field(default=None, description="Required for OTHER.")
    idempotency_key: str | None = None


@strawberry.type
class NoticeMutation:
    @strawberry.mutation(
        description="通报 (§7(1)): publish a notice of your centre. Units or tickets that are not "
        "your centre's are answered as if they did not exist; nothing is published."
    )
    async def publish_notice(self, info: Info, input: PublishNoticeInput) -> NoticePayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[m.Notice]:
            return ns.publish_notice(
                uow=uow,
                actor=p,
                centre_code=input.centre_code,
                kind=m.NoticeKind(input.kind),
                title=input.title,
                body=input.body,
                ticket_ids=[int_key(t, "Ticket", "ticketIds") for t in input.ticket_ids],
                unit_ids=[int_key(u, "Unit", "unitIds") for u in input.unit_ids],
            )

        return _notice(await run(info, "publishNotice", input.idempotency_key, call))

    @strawberry.mutation(
        description="通报 (§7(3)1): a notice made from a published ranking, naming the units at "
        "the bottom (ties included). A month's ranking is MONTHLY_RANKING, the year's SPECIAL."
    )
    async def publish_ranking_notice(
        self, info: Info, input: PublishRankingNoticeInput
    ) -> NoticePayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[m.Notice]:
            return ranking.publish_ranking_notice(
                uow=uow, actor=p, centre_code=input.centre_code, year=input.year, month=input.month
            )

        return _notice(await run(info, "publishRankingNotice", input.idempotency_key, call))

    @strawberry.mutation(
        description="移送 (§7(2)(3)): refer a member unit of your centre (and optionally one of "
        "its staff) to the discipline commission."
    )
    async def refer_for_accountability(
        self, info: Info, input: ReferForAccountabilityInput
    ) -> AccountabilityReferralPayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[m.AccountabilityReferral]:
            return acc.refer_for_accountability(
                uow=uow,
                actor=p,
                unit_id=int_key(input.unit_id, "Unit", "unitId"),
                staff_id=(
                    int_key(input.staff_id, "Staff", "staffId")
                    if input.staff_id is not None
                    else None
                ),
                grounds=[m.AccountabilityGround(g) for g in input.grounds],
                ticket_ids=[int_key(t, "Ticket", "ticketIds") for t in input.ticket_ids],
                note=input.note,
            )

        return _referral(await run(info, "referForAccountability", input.idempotency_key, call))

    @strawberry.mutation(
        description="Record the discipline commission's outcome of a referral (once; the "
        "referring centre only)."
    )
    async def record_accountability_outcome(
        self, info: Info, input: RecordAccountabilityOutcomeInput
    ) -> AccountabilityReferralPayload:
        p = info.context.principal

        def call(uow: UnitOfWork) -> Awaitable[m.AccountabilityReferral]:
            return acc.record_accountability_outcome(
                uow=uow,
                actor=p,
                referral_id=int_key(input.referral_id, "AccountabilityReferral", "referralId"),
                outcome=m.AccountabilityOutcome(input.outcome),
                note=input.note,
            )

        return _referral(
            await run(info, "recordAccountabilityOutcome", input.idempotency_key, call)
        )
