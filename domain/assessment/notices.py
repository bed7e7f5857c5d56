"""Notices (通报, regulation §7(1) and §7(3)): publish, and the scoped read side.

§7(1): the centre reports typical cases (重大、复杂、疑难和涉及敏感的典型案例) by weekly and
special reports (周报、专报); §7(3)1 names the units at the bottom of the ranking. A notice is
published by the supervisors or administrators of one centre (Casbin ``("notice", "publish")`` on
``centre:<code>``) and may name only that centre's own things: units that are its members, and
tickets it owns or dispatched. Anything else is answered as if it did not exist, and nothing is
written.

Who reads a notice (computed once per request from the scope, as one SQL filter):

* the staff of the publishing centre holding ``("notice", "read")`` there;
* the staff of a unit the notice names (``("notice", "read")`` in the unit's domain) — a unit
  sees the notices that name it, not the others of its centre.

Reading down the chain does not widen this: a county's notices are the county's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from authz import Scope, centre_domain, centre_obj, unit_domain
from domain import events
from domain.accounts import Principal
from domain.assessment.notice_models import Notice, NoticeKind, NoticeTicket, NoticeUnit
from domain.calendar import TZ
from domain.errors import InvalidInput, NotFound
from domain.inputs import aware_now, clean_text
from domain.loading import by_key
from domain.pagination import Page, time_page
from domain.registry.models import Centre, Unit
from domain.tickets.models import Assignment, Ticket
from domain.uow import UnitOfWork

__all__ = [
    "ENTITY",
    "MAX_TICKETS",
    "MAX_UNITS",
    "NoticeFilter",
    "aware_now",
    "centre_tickets",
    "clean_text",
    "distinct_ids",
    "list_notices",
    "notice_filter",
    "notices_by_id",
    "publish_notice",
    "ticket_ids_by_notice",
    "unit_ids_by_notice",
]

ENTITY = "notice"
MAX_TICKETS = 100
MAX_UNITS = 200


def distinct_ids(ids: Sequence[int], limit: int, field_name: str) -> list[int]:
    out = list(dict.fromkeys(ids))
    if len(out) > limit:
        raise InvalidInput(f"at most {limit} ids", field=field_name)
    return out


async def centre_tickets(s: AsyncSession, centre_code: str, ticket_ids: Sequence[int]) -> set[int]:
    """Of ``ticket_ids``, those that are the centre's own: it owns them or dispatched on them
    (a referral it received and dispatched to its members)."""
    if not ticket_ids:
        return set()
    rows = await s.execute(
        select(Ticket.id).where(
            Ticket.id.in_(set(ticket_ids)),
            or_(
                Ticket.centre_code == centre_code,
                exists().where(
                    Assignment.ticket_id == Ticket.id, Assignment.centre_code == centre_code
                ),
            ),
        )
    )
    return set(rows.scalars())


def snapshot(n: Notice) -> dict[str, Any]:
    return {
        "id": n.id,
        "centre": n.centre_code,
        "kind": n.kind.value,
        "title": n.title,
        "publishedAt": n.published_at.astimezone(TZ).isoformat(),
    }


# ---- publish -----------------------------------------------------------------------------------
async def publish_notice(
    *,
    uow: UnitOfWork,
    actor: Principal,
    centre_code: str,
    kind: NoticeKind,
    title: str,
    body: str,
    ticket_ids: Sequence[int] = (),
    unit_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> Notice:
    """通报: a centre's supervisor or administrator publishes a notice naming its own units and
    tickets."""
    now = aware_now(now)
    title_ = clean_text(title, "title", 200, required=True)
    body_ = clean_text(body, "body", 20000, required=True)
    assert title_ is not None and body_ is not None
    tickets = distinct_ids(ticket_ids, MAX_TICKETS, "ticketIds")
    units = distinct_ids(unit_ids, MAX_UNITS, "unitIds")
    if kind == NoticeKind.MONTHLY_RANKING and not units:
        raise InvalidInput("a ranking notice names the units it ranks", field="unitIds")
    async with uow:
        s = uow.session
        centre = await s.get(Centre, centre_code)
        if centre is None or not uow.enforcer.allowed(
            actor.subject, "notice", centre_obj(centre_code), "publish"
        ):
            raise NotFound("centre not found", field="centreCode")
        if units:
            members = set(
                (
                    await s.execute(
                        select(Unit.id).where(Unit.id.in_(units), Unit.member_of == centre_code)
                    )
                ).scalars()
            )
            if any(u not in members for u in units):
                raise NotFound("unit not found", field="unitIds")
        if tickets:
            own = await centre_tickets(s, centre_code, tickets)
            if any(t not in own for t in tickets):
                raise NotFound("ticket not found", field="ticketIds")
        n = Notice(
            centre_code=centre_code,
            kind=kind,
            title=title_,
            body=body_,
            published_by=actor.subject,
            published_at=now,
        )
        s.add(n)
        await s.flush()
        s.add_all(NoticeTicket(notice_id=n.id, ticket_id=t) for t in tickets)
        s.add_all(NoticeUnit(notice_id=n.id, unit_id=u) for u in units)
        await s.flush()
        await events.record(
            s,
            type="notice.published",
            actor=actor.subject,
            entity_type=ENTITY,
            entity_id=n.id,
            before=None,
            after={**snapshot(n), "ticketIds": tickets, "unitIds": units},
            domains=[centre_domain(centre_code), *(unit_domain(u) for u in units)],
        )
        await uow.commit(result=("Notice", n.id))
        return n


# ---- read side ---------------------------------------------------------------------------------
def notice_filter(scope: Scope) -> ColumnElement[bool]:
    centres = scope.centres_for("notice", "read")
    units = scope.units_for("notice", "read")
    conds: list[ColumnElement[bool]] = []
    if centres:
        conds.append(Notice.centre_code.in_(centres))
    if units:
        named = aliased(NoticeUnit)
        conds.append(exists().where(named.notice_id == Notice.id, named.unit_id.in_(units)))
    return or_(*conds) if conds else false()


@dataclass(frozen=True)
class NoticeFilter:
    centre_code: str | None = None
    kind: NoticeKind | None = None
    published_from: datetime | None = None  # inclusive
    published_to: datetime | None = None  # exclusive
    unit_id: int | None = None  # notices naming this unit


async def list_notices(
    session: AsyncSession, scope: Scope, f: NoticeFilter, first: int, after: str | None
) -> Page[Notice]:
    """Notices in the scope, newest first (published_at, id), keyset-paged."""
    q = select(Notice).where(notice_filter(scope))
    if f.centre_code is not None:
        q = q.where(Notice.centre_code == f.centre_code)
    if f.kind is not None:
        q = q.where(Notice.kind == f.kind)
    if f.published_from is not None:
        q = q.where(Notice.published_at >= f.published_from)
    if f.published_to is not None:
        q = q.where(Notice.published_at < f.published_to)
    if f.unit_id is not None:
        q = q.where(
            exists().where(NoticeUnit.notice_id == Notice.id, NoticeUnit.unit_id == f.unit_id)
        )
    return await time_page(
        session,
        q,
        Notice.published_at,
        Notice.id,
        first,
        after,
        time_of=lambda n: n.published_at,
        descending=True,
    )


async def notices_by_id(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> list[Notice | None]:
    rows = await session.execute(
        select(Notice).where(Notice.id.in_(set(ids)), notice_filter(scope))
    )
    return by_key(rows.scalars(), lambda n: n.id, ids)


# The parts of a notice: only ever loaded for notices the viewer was allowed to load.
async def ticket_ids_by_notice(session: AsyncSession, notice_ids: Sequence[int]) -> list[list[int]]:
    rows = await session.execute(
        select(NoticeTicket.notice_id, NoticeTicket.ticket_id)
        .where(NoticeTicket.notice_id.in_(set(notice_ids)))
        .order_by(NoticeTicket.ticket_id)
    )
    groups: dict[int, list[int]] = {}
    for nid, tid in rows:
        groups.setdefault(nid, []).append(tid)
    return [groups.get(i, []) for i in notice_ids]


async def unit_ids_by_notice(session: AsyncSession, notice_ids: Sequence[int]) -> list[list[int]]:
    rows = await session.execute(
        select(NoticeUnit.notice_id, NoticeUnit.unit_id)
        .where(NoticeUnit.notice_id.in_(set(notice_ids)))
        .order_by(NoticeUnit.unit_id)
    )
    groups: dict[int, list[int]] = {}
    for nid, uid in rows:
        groups.setdefault(nid, []).append(uid)
    return [groups.get(i, []) for i in notice_ids]
