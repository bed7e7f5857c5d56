"""Accountability referrals (移送, regulation §7(2) and §7(3)): refer, record the outcome, read.

§7(3) lists eleven situations in which a unit or its staff are named by the centre and, where
discipline or law is broken, "移交纪检监察机关依纪依法追究责任"; §7(2) sets up the transfer of
such clues (问题线索) to the discipline commission. Here a centre's supervisor refers one of the
centre's **own member units** (and optionally one of that unit's staff) on one or more of the
§7(3) grounds (``AccountabilityGround``), with the linked tickets, and later records the
commission's outcome.

Who may:

* refer: ``("accountability", "refer")`` on ``unit:<id>`` — the membership mirror makes that true
  only in the centre the unit is a member of (each level supervises only its own members, §7);
* record the outcome: ``("accountability", "manage")`` on the referring centre;
* read: ``("accountability", "read")`` in the referring centre, or in the city (root) centre,
  which reads every centre's referrals (the city centre answers to the city leadership for the
  whole network, §7 preamble, §7(1)).

Never the unit's peers, and not the unit itself: the regulation makes the *notice* (通报) the
public act and the referral a transfer of clues to the discipline commission, which informs the
people concerned itself; nothing in §7 has the centre disclose the referral to the unit. So no
unit role holds ``("accountability", "read")``, and the events of a referral are tagged only
with the referring centre's and the city's domains (subscriptions of units never carry them).

A unit the caller may not refer, a staff member not of that unit, or a ticket not the centre's
own, is answered as if it did not exist, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope, centre_domain, centre_obj, unit_obj
from domain import events
from domain.accounts import Principal
from domain.assessment.notice_models import (
    AccountabilityGround,
    AccountabilityOutcome,
    AccountabilityReferral,
    ReferralStatus,
    ReferralTicket,
)
from domain.assessment.notices import aware_now, centre_tickets, clean_text, distinct_ids
from domain.calendar import TZ
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.loading import by_key
from domain.pagination import Page, time_page
from domain.registry.models import Centre, Staff, Unit
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

__all__ = [
    "ENTITY",
    "MAX_TICKETS",
    "ReferralFilter",
    "list_referrals",
    "record_accountability_outcome",
    "refer_for_accountability",
    "referral_filter",
    "referrals_by_id",
    "ticket_ids_by_referral",
]

ENTITY = "accountability"
MAX_TICKETS = 100


def ordered_grounds(grounds: Sequence[AccountabilityGround]) -> list[AccountabilityGround]:
    """The grounds in the regulation's order, without repeats; at least one."""
    chosen = set(grounds)
    if not chosen:
        raise InvalidInput("name at least one of the grounds of §7(3)", field="grounds")
    return [g for g in AccountabilityGround if g in chosen]


def snapshot(r: AccountabilityReferral) -> dict[str, Any]:
    return {
        "id": r.id,
        "centre": r.centre_code,
        "unitId": r.unit_id,
        "staffId": r.staff_id,
        "grounds": list(r.grounds),
        "status": r.status.value,
        "outcome": r.outcome.value if r.outcome else None,
        "referredAt": r.referred_at.astimezone(TZ).isoformat(),
    }


async def _root_codes(s: AsyncSession) -> list[str]:
    rows = await s.execute(select(Centre.code).where(Centre.parent_code.is_(None)))
    return list(rows.scalars())


async def _record(
    s: AsyncSession,
    actor: str,
    type_: str,
    r: AccountabilityReferral,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    # Never the unit's domain: units do not see referrals (module docstring).
    domains = [centre_domain(r.centre_code), *(centre_domain(c) for c in await _root_codes(s))]
    await events.record(
        s,
        type=type_,
        actor=actor,
        entity_type=ENTITY,
        entity_id=r.id,
        before=before,
        after=after,
        domains=domains,
    )


# ---- refer -------------------------------------------------------------------------------------
async def refer_for_accountability(
    *,
    uow: UnitOfWork,
    actor: Principal,
    unit_id: int,
    grounds: Sequence[AccountabilityGround],
    note: str,
    staff_id: int | None = None,
    ticket_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> AccountabilityReferral:
    """移送: refer a member unit (and optionally one of its staff) to the discipline commission."""
    now = aware_now(now)
    chosen = ordered_grounds(grounds)
    note_ = clean_text(note, "note", 5000, required=True)
    assert note_ is not None
    tickets = distinct_ids(ticket_ids, MAX_TICKETS, "ticketIds")
    async with uow:
        s = uow.session
        unit = await s.get(Unit, unit_id)
        if unit is None or not uow.enforcer.allowed(
            actor.subject, "accountability", unit_obj(unit_id), "refer"
        ):
            raise NotFound("unit not found", field="unitId")
        centre_code = unit.member_of
        if staff_id is not None:
            staff = await s.get(Staff, staff_id)
            if staff is None or staff.unit_id != unit_id:
                raise NotFound("staff not found", field="staffId")
        if tickets:
            own = await centre_tickets(s, centre_code, tickets)
            if any(t not in own for t in tickets):
                raise NotFound("ticket not found", field="ticketIds")
        r = AccountabilityReferral(
            centre_code=centre_code,
            unit_id=unit_id,
            staff_id=staff_id,
            grounds=[g.value for g in chosen],
            note=note_,
            status=ReferralStatus.REFERRED,
            referred_by=actor.subject,
            referred_at=now,
        )
        s.add(r)
        await s.flush()
        s.add_all(ReferralTicket(referral_id=r.id, ticket_id=t) for t in tickets)
        await s.flush()
        await _record(
            s,
            actor.subject,
            "accountability.referred",
            r,
            before=None,
            after={**snapshot(r), "ticketIds": tickets},
        )
        await uow.commit(result=("AccountabilityReferral", r.id))
        return r


# ---- the outcome -------------------------------------------------------------------------------
def _may_read(
    uow: UnitOfWork, actor: Principal, r: AccountabilityReferral, roots: list[str]
) -> bool:
    allowed = uow.enforcer.allowed
    return any(
        allowed(actor.subject, "accountability", centre_obj(c), "read")
        for c in (r.centre_code, *roots)
    )


async def record_accountability_outcome(
    *,
    uow: UnitOfWork,
    actor: Principal,
    referral_id: int,
    outcome: AccountabilityOutcome,
    note: str | None = None,
    now: datetime | None = None,
) -> AccountabilityReferral:
    """The discipline commission's outcome, recorded once by the referring centre."""
    now = aware_now(now)
    note_ = clean_text(note, "note", 5000, required=outcome == AccountabilityOutcome.OTHER)
    async with uow:
        s = uow.session
        r = (
            await s.execute(
                select(AccountabilityReferral)
                .where(AccountabilityReferral.id == referral_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if r is None:
            raise NotFound("referral not found", field="referralId")
        if not uow.enforcer.allowed(
            actor.subject, "accountability", centre_obj(r.centre_code), "manage"
        ):
            if _may_read(uow, actor, r, await _root_codes(s)):
                raise NotPermitted("only the referring centre records the outcome")
            raise NotFound("referral not found", field="referralId")
        if r.status != ReferralStatus.REFERRED:
            raise InvalidTransition("the outcome of this referral is already recorded")
        before = snapshot(r)
        r.status = ReferralStatus.CONCLUDED
        r.outcome = outcome
        r.outcome_note = note_
        r.outcome_by = actor.subject
        r.outcome_at = now
        await s.flush()
        await _record(
            s,
            actor.subject,
            "accountability.concluded",
            r,
            before=before,
            after={**snapshot(r), "note": note_},
        )
        await uow.commit(result=("AccountabilityReferral", r.id))
        return r


# ---- read side ---------------------------------------------------------------------------------
def referral_filter(scope: Scope) -> ColumnElement[bool]:
    """The referring centre's readers, and the city's (a root centre reads them all)."""
    centres = scope.centres_for("accountability", "read")
    if not centres:
        return false()
    return or_(
        AccountabilityReferral.centre_code.in_(centres),
        exists().where(Centre.code.in_(centres), Centre.parent_code.is_(None)),
    )


@dataclass(frozen=True)
class ReferralFilter:
    centre_code: str | None = None
    unit_id: int | None = None
    status: ReferralStatus | None = None
    grounds: tuple[AccountabilityGround, ...] = ()  # any of these
    referred_from: datetime | None = None  # inclusive
    referred_to: datetime | None = None  # exclusive


async def list_referrals(
    session: AsyncSession, scope: Scope, f: ReferralFilter, first: int, after: str | None
) -> Page[AccountabilityReferral]:
    """Referrals in the scope, newest first (referred_at, id), keyset-paged."""
    q = select(AccountabilityReferral).where(referral_filter(scope))
    if f.centre_code is not None:
        q = q.where(AccountabilityReferral.centre_code == f.centre_code)
    if f.unit_id is not None:
        q = q.where(AccountabilityReferral.unit_id == f.unit_id)
    if f.status is not None:
        q = q.where(AccountabilityReferral.status == f.status)
    if f.grounds:
        q = q.where(AccountabilityReferral.grounds.overlap([g.value for g in f.grounds]))
    if f.referred_from is not None:
        q = q.where(AccountabilityReferral.referred_at >= f.referred_from)
    if f.referred_to is not None:
        q = q.where(AccountabilityReferral.referred_at < f.referred_to)
    return await time_page(
        session,
        q,
        AccountabilityReferral.referred_at,
        AccountabilityReferral.id,
        first,
        after,
        time_of=lambda r: r.referred_at,
        descending=True,
    )


async def referrals_by_id(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> list[AccountabilityReferral | None]:
    rows = await session.execute(
        select(AccountabilityReferral).where(
            AccountabilityReferral.id.in_(set(ids)), referral_filter(scope)
        )
    )
    return by_key(rows.scalars(), lambda r: r.id, ids)


async def ticket_ids_by_referral(
    session: AsyncSession, referral_ids: Sequence[int]
) -> list[list[int]]:
    rows = await session.execute(
        select(ReferralTicket.referral_id, ReferralTicket.ticket_id)
        .where(ReferralTicket.referral_id.in_(set(referral_ids)))
        .order_by(ReferralTicket.ticket_id)
    )
    groups: dict[int, list[int]] = {}
    for rid, tid in rows:
        groups.setdefault(rid, []).append(tid)
    return [groups.get(i, []) for i in referral_ids]
