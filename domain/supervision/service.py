"""Supervision cases (督办, regulation §5 and §7): open, respond, close, escalate, remind.

Each level supervises only its own members (§5 preamble, §7): opening a case asks Casbin
``("unit", "supervise")`` on every target unit, and the membership mirror (g2 ``unit:<id> →
centre:<code>/``) is what makes that true or false — no code here compares centre codes to
decide. A refusal is reported exactly like a unit that does not exist.

Who may do what afterwards:

* the target units' staff respond (``("supervision", "respond")`` on ``unit:<id>``);
* the supervisors of the case's centre close and escalate it (``("supervision", "manage")`` on
  ``centre:<code>``);
* after a special report (专报, §5(3)6) the centre above reads the case (``("supervision",
  "read")`` on ``centre:<parent>``) but may not act on it: manage is asked of the case's own
  centre, where the parent holds no role.

Someone who may read a case but not do this to it gets ``NotPermitted``; anyone else gets
``NotFound``, as for a case that does not exist. Every change is one transaction with its event
(entity type ``supervision``), tagged with the case centre's domain, each target unit's domain
and, once escalated, the domain of the centre reported to.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz import centre_domain, centre_obj, unit_domain, unit_obj
from domain import events
from domain.accounts import Principal
from domain.calendar import TZ
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.inputs import aware_now as _now
from domain.inputs import clean_text as _text
from domain.registry.models import Centre, Unit
from domain.registry.visibility import visibility
from domain.supervision.models import (
    CaseUnitRole,
    Grounds,
    SupervisionCase,
    SupervisionForm,
    SupervisionOutcome,
    SupervisionResponse,
    SupervisionStatus,
    SupervisionTicket,
    SupervisionUnit,
)
from domain.tickets.models import Ticket
from domain.tickets.queries import ticket_filter
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

__all__ = [
    "MAX_TARGETS",
    "MAX_TICKETS",
    "SWEEPER",
    "case_snapshot",
    "close_supervision",
    "escalate_supervision",
    "open_supervision",
    "respond_supervision",
    "sweep_supervision",
]

log = logging.getLogger(__name__)

MAX_TARGETS = 50
MAX_TICKETS = 50
FUTURE_TOLERANCE = timedelta(minutes=5)
SWEEPER = "system:sweeper"
ENTITY = "supervision"

St = SupervisionStatus


# ---- small helpers ---------------------------------------------------------------------------


def _local(t: datetime) -> str:
    return t.astimezone(TZ).isoformat()


def case_snapshot(c: SupervisionCase) -> dict[str, Any]:
    return {
        "id": c.id,
        "centre": c.centre_code,
        "grounds": list(c.grounds),
        "form": c.form.value,
        "deadline": _local(c.deadline),
        "status": c.status.value,
        "outcome": c.outcome.value if c.outcome else None,
        "escalatedTo": c.escalated_to,
    }


def _domains(c: SupervisionCase, unit_ids: Iterable[int]) -> list[str]:
    out = [centre_domain(c.centre_code), *(unit_domain(u) for u in unit_ids)]
    if c.escalated_to is not None:
        out.append(centre_domain(c.escalated_to))
    return out


async def _record(
    s: AsyncSession,
    actor: str,
    type_: str,
    c: SupervisionCase,
    unit_ids: Iterable[int],
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    await events.record(
        s,
        type=type_,
        actor=actor,
        entity_type=ENTITY,
        entity_id=c.id,
        before=before,
        after=after,
        domains=_domains(c, unit_ids),
    )


async def _case_for_update(s: AsyncSession, case_id: int) -> SupervisionCase:
    c = (
        await s.execute(
            select(SupervisionCase).where(SupervisionCase.id == case_id).with_for_update()
        )
    ).scalar_one_or_none()
    if c is None:
        raise NotFound("supervision case not found", field="caseId")
    return c


async def _targets(s: AsyncSession, case_id: int) -> dict[int, CaseUnitRole]:
    rows = await s.execute(
        select(SupervisionUnit.unit_id, SupervisionUnit.role)
        .where(SupervisionUnit.case_id == case_id)
        .order_by(SupervisionUnit.unit_id)
    )
    return {uid: role for uid, role in rows.all()}


def _may_read(uow: UnitOfWork, actor: Principal, c: SupervisionCase, units: Iterable[int]) -> bool:
    """The case's centre, the centre it was reported to, or a target unit's staff."""
    allowed = uow.enforcer.allowed
    sub = actor.subject
    if allowed(sub, "supervision", centre_obj(c.centre_code), "read"):
        return True
    if c.escalated_to is not None and allowed(
        sub, "supervision", centre_obj(c.escalated_to), "read"
    ):
        return True
    return any(allowed(sub, "supervision", unit_obj(u), "read") for u in units)


def _refuse(
    uow: UnitOfWork, actor: Principal, c: SupervisionCase, units: Iterable[int], what: str
) -> NotFound | NotPermitted:
    if _may_read(uow, actor, c, units):
        return NotPermitted(what)
    return NotFound("supervision case not found", field="caseId")


async def _managed_case(
    uow: UnitOfWork, actor: Principal, case_id: int, what: str
) -> tuple[SupervisionCase, dict[int, CaseUnitRole]]:
    """A case the actor's centre supervises (locked), with its target units."""
    s = uow.session
    c = await _case_for_update(s, case_id)
    targets = await _targets(s, c.id)
    if not uow.enforcer.allowed(actor.subject, "supervision", centre_obj(c.centre_code), "manage"):
        raise _refuse(uow, actor, c, targets, what)
    return c, targets


# ---- open (§5) -------------------------------------------------------------------------------
def _grounds(grounds: Sequence[Grounds]) -> list[Grounds]:
    chosen = set(grounds)
    if not chosen:
        raise InvalidInput("name at least one of the grounds of §5(2)", field="grounds")
    return [g for g in Grounds if g in chosen]  # the regulation's order, no repeats


def _roles(
    target_unit_ids: Sequence[int], lead_unit_id: int | None, co_unit_ids: Sequence[int]
) -> dict[int, tuple[CaseUnitRole, str]]:
    """unit id -> (role, the input field it came from). Multi-unit cases name one lead; every
    other unit is a co-unit (§5 preamble: 指定一个主办单位和协办单位)."""
    co = list(dict.fromkeys(co_unit_ids))
    if lead_unit_id is not None and lead_unit_id in co:
        raise InvalidInput("the lead unit cannot also be a co-unit", field="coUnitIds")
    fields: dict[int, str] = {}
    for uid in target_unit_ids:
        fields.setdefault(uid, "targetUnitIds")
    if lead_unit_id is not None:
        fields[lead_unit_id] = "leadUnitId"
    for uid in co:
        fields[uid] = "coUnitIds"
    if not fields:
        raise InvalidInput("name at least one target unit", field="targetUnitIds")
    if len(fields) > MAX_TARGETS:
        raise InvalidInput(f"at most {MAX_TARGETS} target units", field="targetUnitIds")
    if len(fields) == 1:
        (only,) = fields
        role = CaseUnitRole.LEAD if only == lead_unit_id else CaseUnitRole.TARGET
        return {only: (role, fields[only])}
    if lead_unit_id is None:
        raise InvalidInput(
            "a case with several units names one lead unit (§5: 主办单位)", field="leadUnitId"
        )
    return {
        uid: (CaseUnitRole.LEAD if uid == lead_unit_id else CaseUnitRole.CO, f)
        for uid, f in fields.items()
    }


async def open_supervision(
    *,
    uow: UnitOfWork,
    actor: Principal,
    target_unit_ids: Sequence[int],
    grounds: Sequence[Grounds],
    form: SupervisionForm,
    deadline: datetime,
    ticket_ids: Sequence[int] = (),
    lead_unit_id: int | None = None,
    co_unit_ids: Sequence[int] = (),
    note: str | None = None,
    now: datetime | None = None,
) -> SupervisionCase:
    """督办: a supervisor opens a case over members of its own centre."""
    now = _now(now)
    chosen = _grounds(grounds)
    # §5(2)8 其他需要督办的事项: say which.
    note_ = _text(note, "note", 2000, required=Grounds.OTHER in chosen)
    if deadline.tzinfo is None:
        raise InvalidInput("deadline must carry a time zone", field="deadline")
    if deadline <= now:
        raise InvalidInput("deadline must be in the future", field="deadline")
    roles = _roles(target_unit_ids, lead_unit_id, co_unit_ids)
    tickets = list(dict.fromkeys(ticket_ids))
    if len(tickets) > MAX_TICKETS:
        raise InvalidInput(f"at most {MAX_TICKETS} linked tickets", field="ticketIds")
    async with uow:
        s = uow.session
        rows = await s.execute(select(Unit).where(Unit.id.in_(set(roles))))
        units = {u.id: u for u in rows.scalars()}
        for uid, (_role, field_name) in roles.items():
            # Casbin decides (the membership mirror): only the centre the unit is a member of.
            # A refusal and a missing unit are the same answer.
            if uid not in units or not uow.enforcer.allowed(
                actor.subject, "unit", unit_obj(uid), "supervise"
            ):
                raise NotFound("unit not found", field=field_name)
        centres = {units[uid].member_of for uid in roles}
        if len(centres) != 1:
            # Only reachable by someone who supervises several centres.
            raise InvalidInput(
                "the target units must all be members of one centre", field="targetUnitIds"
            )
        (centre_code,) = centres
        for uid, (_role, field_name) in roles.items():
            if not units[uid].active:
                raise InvalidInput(f"{units[uid].name} is deactivated", field=field_name)
        if tickets:
            vis = await visibility(s, actor.scope)
            seen = set(
                (
                    await s.execute(
                        select(Ticket.id).where(Ticket.id.in_(tickets), ticket_filter(vis))
                    )
                ).scalars()
            )
            if any(t not in seen for t in tickets):
                raise NotFound("ticket not found", field="ticketIds")
        c = SupervisionCase(
            centre_code=centre_code,
            grounds=[g.value for g in chosen],
            form=form,
            deadline=deadline,
            note=note_,
            status=St.OPEN,
            opened_by=actor.subject,
            opened_at=now,
        )
        s.add(c)
        await s.flush()
        s.add_all(SupervisionUnit(case_id=c.id, unit_id=u, role=r) for u, (r, _f) in roles.items())
        s.add_all(SupervisionTicket(case_id=c.id, ticket_id=t) for t in tickets)
        await s.flush()
        after = {
            **case_snapshot(c),
            "units": [{"unitId": u, "role": r.value} for u, (r, _f) in roles.items()],
            "ticketIds": tickets,
            "note": note_,
        }
        await _record(s, actor.subject, "supervision.opened", c, roles, before=None, after=after)
        await uow.commit(result=("SupervisionCase", c.id))
        return c


# ---- respond ---------------------------------------------------------------------------------
async def respond_supervision(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    unit_id: int,
    content: str,
    done_at: datetime,
    now: datetime | None = None,
) -> SupervisionResponse:
    """A target unit says what it did and when; when every target has responded, RESPONDED."""
    now = _now(now)
    content_ = _text(content, "content", 5000, required=True)
    assert content_ is not None
    if done_at.tzinfo is None:
        raise InvalidInput("doneAt must carry a time zone", field="doneAt")
    if done_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("doneAt is in the future", field="doneAt")
    async with uow:
        s = uow.session
        c = await _case_for_update(s, case_id)
        targets = await _targets(s, c.id)
        if unit_id not in targets:
            if _may_read(uow, actor, c, targets):
                raise InvalidInput("that unit is not a target of this case", field="unitId")
            raise NotFound("supervision case not found", field="caseId")
        if not uow.enforcer.allowed(actor.subject, "supervision", unit_obj(unit_id), "respond"):
            raise _refuse(uow, actor, c, targets, "only the target unit's staff may respond")
        if c.status == St.CLOSED:
            raise InvalidTransition("the supervision case is closed")
        before = case_snapshot(c)
        r = SupervisionResponse(
            case_id=c.id,
            unit_id=unit_id,
            content=content_,
            done_at=done_at,
            responded_by=actor.subject,
            responded_at=now,
        )
        s.add(r)
        await s.flush()
        responded = set(
            (
                await s.execute(
                    select(SupervisionResponse.unit_id)
                    .where(SupervisionResponse.case_id == c.id)
                    .distinct()
                )
            ).scalars()
        )
        if c.status == St.OPEN and responded >= set(targets):
            c.status = St.RESPONDED
        await s.flush()
        after = {
            **case_snapshot(c),
            "responseId": r.id,
            "unitId": unit_id,
            "doneAt": _local(done_at),
            "late": now > c.deadline,
        }
        await _record(
            s, actor.subject, "supervision.responded", c, targets, before=before, after=after
        )
        await uow.commit(result=("SupervisionResponse", r.id))
        return r


# ---- close -----------------------------------------------------------------------------------
async def close_supervision(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    outcome: SupervisionOutcome,
    note: str | None = None,
    now: datetime | None = None,
) -> SupervisionCase:
    """The supervising centre closes the case: resolved, escalated, or referred for
    accountability (§7(2) 移送, §7(3)). The last two must say why."""
    now = _now(now)
    note_ = _text(note, "note", 2000, required=outcome != SupervisionOutcome.RESOLVED)
    async with uow:
        s = uow.session
        c, targets = await _managed_case(
            uow, actor, case_id, "only the supervising centre may close this case"
        )
        if c.status == St.CLOSED:
            raise InvalidTransition("the supervision case is already closed")
        before = case_snapshot(c)
        c.status = St.CLOSED
        c.outcome = outcome
        c.outcome_note = note_
        c.closed_by = actor.subject
        c.closed_at = now
        await s.flush()
        after = {**case_snapshot(c), "note": note_}
        await _record(
            s, actor.subject, "supervision.closed", c, targets, before=before, after=after
        )
        await uow.commit(result=("SupervisionCase", c.id))
        return c


# ---- escalate (§5(3)6 专报) --------------------------------------------------------------------
async def escalate_supervision(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    note: str,
    now: datetime | None = None,
) -> SupervisionCase:
    """A special report to the centre above, which from then on reads the case (read-only)."""
    now = _now(now)
    note_ = _text(note, "note", 2000, required=True)
    async with uow:
        s = uow.session
        c, targets = await _managed_case(
            uow, actor, case_id, "only the supervising centre may escalate this case"
        )
        if c.status == St.CLOSED:
            raise InvalidTransition("a closed supervision case cannot be escalated")
        if c.escalated_to is not None:
            raise InvalidTransition("the supervision case was already reported to the centre above")
        parent = (
            await s.execute(select(Centre.parent_code).where(Centre.code == c.centre_code))
        ).scalar_one_or_none()
        if parent is None:
            raise InvalidTransition("the city centre has no centre above to report to")
        before = case_snapshot(c)
        c.escalated_to = parent
        c.escalated_at = now
        await s.flush()
        after = {**case_snapshot(c), "note": note_, "clause": "§5(3)6"}
        await _record(
            s, actor.subject, "supervision.escalated", c, targets, before=before, after=after
        )
        await uow.commit(result=("SupervisionCase", c.id))
        return c


# ---- reminders (the deadline sweeper) ---------------------------------------------------------
async def _remind_batch(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, after_id: int, batch: int
) -> tuple[int, int | None]:
    reminded = 0
    last: int | None = None
    async with sessions() as s, s.begin():
        cases = list(
            (
                await s.execute(
                    select(SupervisionCase)
                    .where(
                        SupervisionCase.id > after_id,
                        SupervisionCase.status == St.OPEN,
                        SupervisionCase.deadline < now,
                        SupervisionCase.reminded_at.is_(None),
                    )
                    .order_by(SupervisionCase.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        if not cases:
            return 0, None
        ids = [c.id for c in cases]
        targets: dict[int, list[int]] = defaultdict(list)
        for case_id, unit_id in await s.execute(
            select(SupervisionUnit.case_id, SupervisionUnit.unit_id)
            .where(SupervisionUnit.case_id.in_(ids))
            .order_by(SupervisionUnit.unit_id)
        ):
            targets[case_id].append(unit_id)
        responded: dict[int, set[int]] = defaultdict(set)
        for case_id, unit_id in await s.execute(
            select(SupervisionResponse.case_id, SupervisionResponse.unit_id).where(
                SupervisionResponse.case_id.in_(ids)
            )
        ):
            responded[case_id].add(unit_id)
        for c in cases:
            last = c.id
            missing = [u for u in targets[c.id] if u not in responded[c.id]]
            if not missing:
                continue  # an OPEN case always lacks one; nothing to remind otherwise
            snap = case_snapshot(c)
            c.reminded_at = now
            await s.flush()
            late = int((now - c.deadline).total_seconds())
            after = {**snap, "at": _local(now), "missingUnitIds": missing, "lateSeconds": late}
            await _record(
                s, SWEEPER, "supervision.reminded", c, targets[c.id], before=snap, after=after
            )
            reminded += 1
    return reminded, last


async def sweep_supervision(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, batch: int = 200
) -> int:
    """Remind every OPEN case past its deadline that some target has not answered: one
    ``supervision.reminded`` event per case, ever (``reminded_at``). Rows are locked with
    ``FOR UPDATE SKIP LOCKED``, so several sweepers never remind a case twice."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if batch < 1:
        raise ValueError("batch must be at least 1")
    total = 0
    after_id = 0
    while True:
        n, last = await _remind_batch(sessions, now=now, after_id=after_id, batch=batch)
        total += n
        if last is None:
            return total
        after_id = last
