"""Supervision read side: the principal's scope as one SQL filter, lists and batch loads.

Who sees a case (computed from the scope once per request, never one ``enforce`` per row):

* staff of a centre holding ``("supervision", "read")`` there (supervisors, dispatchers,
  leaders) see the cases of that centre, and the cases escalated to it (read-only);
* a unit's staff see the cases targeting their unit.

Reading down the chain (``tree read``) does not widen this: a county's cases reach the city only
by a special report (escalation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from authz import Scope
from domain.loading import by_key, grouped
from domain.pagination import Page, time_page
from domain.supervision.models import (
    CaseUnitRole,
    Grounds,
    SupervisionCase,
    SupervisionForm,
    SupervisionResponse,
    SupervisionStatus,
    SupervisionTicket,
    SupervisionUnit,
)

__all__ = [
    "SupervisionFilter",
    "case_filter",
    "cases_by_id",
    "cases_by_ticket",
    "cases_by_unit",
    "list_cases",
    "responses_by_case",
    "responses_by_id",
    "ticket_ids_by_case",
    "units_by_case",
]


def case_filter(scope: Scope) -> ColumnElement[bool]:
    centres = scope.centres_for("supervision", "read")
    units = scope.units_for("supervision", "read")
    conds: list[ColumnElement[bool]] = []
    if centres:
        conds.append(SupervisionCase.centre_code.in_(centres))
        conds.append(SupervisionCase.escalated_to.in_(centres))
    if units:
        # An alias: the filter also serves queries that select from supervision_unit itself.
        target = aliased(SupervisionUnit)
        conds.append(
            exists().where(target.case_id == SupervisionCase.id, target.unit_id.in_(units))
        )
    return or_(*conds) if conds else false()


@dataclass(frozen=True)
class SupervisionFilter:
    centre_code: str | None = None  # the supervising centre
    escalated_to: str | None = None  # the centre a case was reported to
    unit_id: int | None = None  # a target unit
    ticket_id: int | None = None  # a linked ticket
    form: SupervisionForm | None = None
    grounds: tuple[Grounds, ...] = ()  # any of these
    status: SupervisionStatus | None = None
    opened_from: datetime | None = None  # inclusive
    opened_to: datetime | None = None  # exclusive


async def list_cases(
    session: AsyncSession, scope: Scope, f: SupervisionFilter, first: int, after: str | None
) -> Page[SupervisionCase]:
    """Cases in the scope, newest first (opened_at, id), keyset-paged."""
    q = select(SupervisionCase).where(case_filter(scope))
    if f.centre_code is not None:
        q = q.where(SupervisionCase.centre_code == f.centre_code)
    if f.escalated_to is not None:
        q = q.where(SupervisionCase.escalated_to == f.escalated_to)
    if f.unit_id is not None:
        q = q.where(
            exists().where(
                SupervisionUnit.case_id == SupervisionCase.id, SupervisionUnit.unit_id == f.unit_id
            )
        )
    if f.ticket_id is not None:
        q = q.where(
            exists().where(
                SupervisionTicket.case_id == SupervisionCase.id,
                SupervisionTicket.ticket_id == f.ticket_id,
            )
        )
    if f.form is not None:
        q = q.where(SupervisionCase.form == f.form)
    if f.grounds:
        q = q.where(SupervisionCase.grounds.overlap([g.value for g in f.grounds]))
    if f.status is not None:
        q = q.where(SupervisionCase.status == f.status)
    if f.opened_from is not None:
        q = q.where(SupervisionCase.opened_at >= f.opened_from)
    if f.opened_to is not None:
        q = q.where(SupervisionCase.opened_at < f.opened_to)
    return await time_page(
        session,
        q,
        SupervisionCase.opened_at,
        SupervisionCase.id,
        first,
        after,
        time_of=lambda c: c.opened_at,
        descending=True,
    )


# ---- batch loads (dataloaders) ---------------------------------------------------------------
async def cases_by_id(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> list[SupervisionCase | None]:
    rows = await session.execute(
        select(SupervisionCase).where(SupervisionCase.id.in_(set(ids)), case_filter(scope))
    )
    return by_key(rows.scalars(), lambda c: c.id, ids)


def _newest_first() -> tuple[ColumnElement[datetime], ColumnElement[int]]:
    return SupervisionCase.opened_at.desc(), SupervisionCase.id.desc()


async def cases_by_unit(
    session: AsyncSession, scope: Scope, unit_ids: Sequence[int]
) -> list[list[SupervisionCase]]:
    """Cases in the scope that target each unit, newest first."""
    rows = await session.execute(
        select(SupervisionUnit.unit_id, SupervisionCase)
        .join(SupervisionCase, SupervisionCase.id == SupervisionUnit.case_id)
        .where(SupervisionUnit.unit_id.in_(set(unit_ids)), case_filter(scope))
        .order_by(*_newest_first())
    )
    groups: dict[int, list[SupervisionCase]] = defaultdict(list)
    for unit_id, c in rows:
        groups[unit_id].append(c)
    return [groups.get(i, []) for i in unit_ids]


async def cases_by_ticket(
    session: AsyncSession, scope: Scope, ticket_ids: Sequence[int]
) -> list[list[SupervisionCase]]:
    """Cases in the scope that name each ticket, newest first."""
    rows = await session.execute(
        select(SupervisionTicket.ticket_id, SupervisionCase)
        .join(SupervisionCase, SupervisionCase.id == SupervisionTicket.case_id)
        .where(SupervisionTicket.ticket_id.in_(set(ticket_ids)), case_filter(scope))
        .order_by(*_newest_first())
    )
    groups: dict[int, list[SupervisionCase]] = defaultdict(list)
    for ticket_id, c in rows:
        groups[ticket_id].append(c)
    return [groups.get(i, []) for i in ticket_ids]


# The parts of a case: only ever loaded for cases the viewer was already allowed to load.
async def units_by_case(
    session: AsyncSession, case_ids: Sequence[int]
) -> list[list[SupervisionUnit]]:
    """Target units of each case: the lead first, then co-units and plain targets by id."""
    rows = await session.execute(
        select(SupervisionUnit)
        .where(SupervisionUnit.case_id.in_(set(case_ids)))
        .order_by(SupervisionUnit.case_id, SupervisionUnit.unit_id)
    )
    result = grouped(rows.scalars(), lambda u: u.case_id, case_ids)
    for units in result:
        units.sort(key=lambda u: (u.role != CaseUnitRole.LEAD, u.unit_id))
    return result


async def ticket_ids_by_case(session: AsyncSession, case_ids: Sequence[int]) -> list[list[int]]:
    rows = await session.execute(
        select(SupervisionTicket.case_id, SupervisionTicket.ticket_id)
        .where(SupervisionTicket.case_id.in_(set(case_ids)))
        .order_by(SupervisionTicket.ticket_id)
    )
    groups: dict[int, list[int]] = defaultdict(list)
    for case_id, ticket_id in rows:
        groups[case_id].append(ticket_id)
    return [groups.get(i, []) for i in case_ids]


async def responses_by_case(
    session: AsyncSession, case_ids: Sequence[int]
) -> list[list[SupervisionResponse]]:
    rows = await session.execute(
        select(SupervisionResponse)
        .where(SupervisionResponse.case_id.in_(set(case_ids)))
        .order_by(SupervisionResponse.id)
    )
    return grouped(rows.scalars(), lambda r: r.case_id, case_ids)


async def responses_by_id(
    session: AsyncSession, scope: Scope, ids: Sequence[int]
) -> list[SupervisionResponse | None]:
    """Responses of cases in the scope."""
    rows = await session.execute(
        select(SupervisionResponse)
        .join(SupervisionCase, SupervisionCase.id == SupervisionResponse.case_id)
        .where(SupervisionResponse.id.in_(set(ids)), case_filter(scope))
    )
    return by_key(rows.scalars(), lambda r: r.id, ids)
