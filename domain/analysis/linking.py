"""Repeat-complaint use cases (§4(5)6): link a new ticket to earlier ones on the same matter,
let a dispatcher correct the links, and read a ticket's related tickets.

* ``link_new_ticket`` runs inside ``create_ticket``'s transaction, so the links exist the
  moment the ticket does (the dispatcher sees the history before dispatching).
* ``link_tickets`` / ``unlink_tickets``: a dispatcher (``("ticket", "link")`` on the centre of
  either ticket) who can see both tickets links them by hand or removes every link between
  them. A ticket the caller cannot see is answered exactly as one that does not exist. An
  unlinked pair keeps its rows (``removed_at``), so the automatic rules never link it again.
* ``related_by_ticket`` (the dataloader's query): the related tickets the viewer may see,
  with the same visibility filter as ``tickets(...)``. Links to tickets the viewer may not
  see are left out entirely — not even counted — as if they did not exist.

Events name tickets by id and the reasons — never a phone, a name or any content — and belong
to no ticket's history or stream (``ticket_id`` is null): whoever may read one ticket (a unit
it was dispatched to, a county it was referred to) must not learn of the other through its
events. A link within one centre is tagged with that centre's domain (its own staff, who read
both tickets, see it in the centre's history); a link across centres is recorded untagged,
audit only, so no centre learns of another's ticket. At intake, one ``ticket.related`` event
(entity ``ticket``, the new ticket's id) lists the links within its centre and, if any, a
second one those across centres. A dispatcher's change is one ``ticket.linked`` /
``ticket.unlinked`` event (entity ``ticket_link``, id ``<later>:<earlier>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz import centre_domain, centre_obj
from domain import events
from domain.accounts import Principal
from domain.analysis.models import LinkReason, TicketLink, TicketMatchKey
from domain.analysis.related import (
    DEFAULT_POLICY,
    Facts,
    Match,
    MatchPolicy,
    candidate_facts,
    candidate_ids,
    evidence,
    facts_of,
    match_keys,
    matches,
)
from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.inputs import aware_now as _now
from domain.registry.visibility import Visibility, visibility
from domain.tickets.models import Ticket
from domain.tickets.queries import ticket_filter
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

__all__ = [
    "SYSTEM",
    "Relation",
    "backfill_match_keys",
    "link_new_ticket",
    "link_tickets",
    "related_by_ticket",
    "unlink_tickets",
]

SYSTEM = "system:related"
ENTITY = "ticket_link"


def _pair_key(a: int, b: int) -> tuple[int, int]:
    """(later, earlier): the order a pair is stored in."""
    return (a, b) if a > b else (b, a)


async def _record(
    s: AsyncSession,
    *,
    type_: str,
    actor: str,
    pair: tuple[int, int],
    centres: tuple[str | None, str | None],
    after: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
) -> None:
    hi, lo = pair
    same = centres[0] is not None and centres[0] == centres[1]
    await events.record(
        s,
        type=type_,
        actor=actor,
        entity_type=ENTITY,
        entity_id=f"{hi}:{lo}",
        before=before,
        after=after,
        # Across centres: audit only (untagged), so no centre learns of the other's ticket.
        domains=[centre_domain(centres[0])] if same and centres[0] else [],
        ticket_id=None,  # in no ticket's history: see the module's docstring
    )


# ---- automatic linking at intake -----------------------------------------------------------------
async def link_new_ticket(
    s: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime,
    policy: MatchPolicy = DEFAULT_POLICY,
) -> list[TicketLink]:
    """Link a just-created (flushed) ticket to the earlier tickets on the same matter, and
    store its match keys. Runs in the caller's transaction (``create_ticket``'s); records at
    most two events (see the module's docstring). At most ``policy.max_links`` related
    tickets, the most recently received first."""
    f = facts_of(ticket)
    keys = match_keys(f, policy)
    found: list[tuple[Facts, list[Match]]] = []
    ids = await candidate_ids(s, f, keys, policy)
    for c in await candidate_facts(s, ids, policy):
        ms = matches(f, c, policy)
        if ms:
            found.append((c, ms))
    found = found[: policy.max_links]  # the most recent first
    links: list[TicketLink] = []
    for c, ms in found:
        hi, lo = _pair_key(f.ticket_id, c.ticket_id)
        links += [
            TicketLink(
                ticket_id=hi,
                related_id=lo,
                reason=m.reason,
                score=m.score,
                evidence=evidence(m, policy),
                created_at=now,
                created_by=SYSTEM,
            )
            for m in ms
        ]
    s.add_all(links)
    s.add_all(
        TicketMatchKey(ticket_id=f.ticket_id, kind=kind, key=key, received_at=f.received_at)
        for kind, key in keys
    )
    await s.flush()
    # One event for the links within the ticket's centre (in its history), one untagged audit
    # event for those across centres: at most two statements, however many links.
    own = [(c, ms) for c, ms in found if c.centre_code == ticket.centre_code]
    other = [(c, ms) for c, ms in found if c.centre_code != ticket.centre_code]
    for group, same in ((own, True), (other, False)):
        if group:
            await events.record(
                s,
                type="ticket.related",
                actor=actor,
                entity_type="ticket",
                entity_id=ticket.id,
                before=None,
                after={
                    "ticketId": ticket.id,
                    "related": [
                        {
                            "ticketId": c.ticket_id,
                            "reasons": [{"reason": m.reason.value, "score": m.score} for m in ms],
                        }
                        for c, ms in group
                    ],
                    "automatic": True,
                },
                domains=[centre_domain(ticket.centre_code)] if same else [],
                ticket_id=None,  # in no ticket's history: see the module's docstring
            )
    return links


async def backfill_match_keys(
    sessions: async_sessionmaker[AsyncSession],
    *,
    batch: int = 1_000,
    policy: MatchPolicy = DEFAULT_POLICY,
) -> int:
    """Store the match keys of tickets that have none (tickets taken in before this feature,
    or bulk-loaded), so new tickets are linked to them; returns how many got keys. Creates no
    links and no events (it changes no ticket: the keys are an index). One transaction per
    batch; re-runnable (a ticket no rule applies to simply gets no keys)."""
    if batch < 1:
        raise ValueError("batch must be positive")
    done, last = 0, 0
    while True:
        async with sessions() as s, s.begin():
            ids = list(
                (
                    await s.execute(
                        select(Ticket.id)
                        .where(
                            Ticket.id > last,
                            ~exists().where(TicketMatchKey.ticket_id == Ticket.id),
                        )
                        .order_by(Ticket.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            if not ids:
                return done
            rows = [
                {"ticket_id": f.ticket_id, "kind": k, "key": v, "received_at": f.received_at}
                for f in await candidate_facts(s, ids, policy)
                for k, v in match_keys(f, policy)
            ]
            if rows:
                await s.execute(insert(TicketMatchKey).on_conflict_do_nothing(), rows)
            done += len({r["ticket_id"] for r in rows})
            last = ids[-1]


# ---- a dispatcher's corrections ------------------------------------------------------------------
def _note(value: str | None, *, required: bool) -> str | None:
    v = (value or "").strip()
    if not v:
        if required:
            raise InvalidInput("note must not be empty: say why", field="note")
        return None
    if len(v) > 500:
        raise InvalidInput("note is longer than 500 characters", field="note")
    return v


async def _visible_pair(
    uow: UnitOfWork, actor: Principal, ticket_id: int, related_id: int
) -> tuple[Ticket, Ticket]:
    """Both tickets, if the actor can see them and may link on either one's centre."""
    if ticket_id == related_id:
        raise InvalidInput("a ticket is not related to itself", field="relatedTicketId")
    s = uow.session
    vis = await visibility(s, actor.scope)
    rows = {
        t.id: t
        for t in (
            await s.execute(
                select(Ticket).where(Ticket.id.in_((ticket_id, related_id)), ticket_filter(vis))
            )
        ).scalars()
    }
    if ticket_id not in rows:
        raise NotFound("ticket not found", field="ticketId")
    if related_id not in rows:
        raise NotFound("ticket not found", field="relatedTicketId")
    a, b = rows[ticket_id], rows[related_id]
    if not any(
        uow.enforcer.allowed(actor.subject, "ticket", centre_obj(t.centre_code), "link")
        for t in (a, b)
    ):
        raise NotPermitted("your role may not link or unlink tickets")
    return a, b


async def link_tickets(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    related_id: int,
    note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Link two tickets by hand (reason MANUAL); the first ticket is returned."""
    now = _now(now)
    text = _note(note, required=False)
    async with uow:
        s = uow.session
        a, b = await _visible_pair(uow, actor, ticket_id, related_id)
        hi, lo = _pair_key(a.id, b.id)
        values = {
            "created_at": now,
            "created_by": actor.subject,
            "note": text,
            "removed_at": None,
            "removed_by": None,
            "removed_note": None,
        }
        stmt = insert(TicketLink).values(
            ticket_id=hi,
            related_id=lo,
            reason=LinkReason.MANUAL,
            score=1.0,
            evidence={"rule": LinkReason.MANUAL.value},
            **values,
        )
        # A manual link removed earlier comes back; one in force is an error.
        upsert = stmt.on_conflict_do_update(
            index_elements=["ticket_id", "related_id", "reason"],
            set_=values,
            where=TicketLink.removed_at.is_not(None),
        ).returning(TicketLink.id)
        if (await s.execute(upsert)).scalar_one_or_none() is None:
            raise InvalidTransition("these tickets are already linked by hand")
        await _record(
            s,
            type_="ticket.linked",
            actor=actor.subject,
            pair=(hi, lo),
            centres=(a.centre_code, b.centre_code),
            after={
                "ticketId": hi,
                "relatedId": lo,
                "reasons": [{"reason": LinkReason.MANUAL.value, "score": 1.0}],
                "automatic": False,
            },
        )
        await uow.commit(result=("Ticket", a.id))
        return a


async def unlink_tickets(
    *,
    uow: UnitOfWork,
    actor: Principal,
    ticket_id: int,
    related_id: int,
    note: str,
    now: datetime | None = None,
) -> Ticket:
    """Remove every link in force between two tickets (automatic or manual), with the reason;
    the rules will not link the pair again. The first ticket is returned."""
    now = _now(now)
    text = _note(note, required=True)
    async with uow:
        s = uow.session
        a, b = await _visible_pair(uow, actor, ticket_id, related_id)
        hi, lo = _pair_key(a.id, b.id)
        removed = (
            (
                await s.execute(
                    update(TicketLink)
                    .where(
                        TicketLink.ticket_id == hi,
                        TicketLink.related_id == lo,
                        TicketLink.removed_at.is_(None),
                    )
                    .values(removed_at=now, removed_by=actor.subject, removed_note=text)
                    .returning(TicketLink.reason)
                )
            )
            .scalars()
            .all()
        )
        if not removed:
            raise InvalidTransition("these tickets are not linked")
        await _record(
            s,
            type_="ticket.unlinked",
            actor=actor.subject,
            pair=(hi, lo),
            centres=(a.centre_code, b.centre_code),
            before={
                "ticketId": hi,
                "relatedId": lo,
                "reasons": sorted(LinkReason(r).value for r in removed),
            },
            after=None,
        )
        await uow.commit(result=("Ticket", a.id))
        return a


# ---- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Relation:
    """A related ticket the viewer may see, and the links in force between the two."""

    ticket: Ticket
    links: tuple[TicketLink, ...]


async def related_by_ticket(
    session: AsyncSession, vis: Visibility, ticket_ids: Sequence[int]
) -> list[list[Relation]]:
    """For each ticket, its related tickets the viewer may see (``ticket_filter``), most
    recently received first. Two queries for the whole batch (one per direction)."""
    keys = set(ticket_ids)
    found: dict[int, dict[int, tuple[Ticket, list[TicketLink]]]] = defaultdict(dict)
    for mine, theirs in (
        (TicketLink.ticket_id, TicketLink.related_id),
        (TicketLink.related_id, TicketLink.ticket_id),
    ):
        rows = await session.execute(
            select(TicketLink, Ticket)
            .join(Ticket, Ticket.id == theirs)
            .where(mine.in_(keys), TicketLink.removed_at.is_(None), ticket_filter(vis))
            .order_by(TicketLink.created_at, TicketLink.id)
        )
        for link, other in rows:
            base = link.ticket_id if other.id == link.related_id else link.related_id
            found[base].setdefault(other.id, (other, []))[1].append(link)
    out: list[list[Relation]] = []
    for tid in ticket_ids:
        rels = [Relation(t, tuple(ls)) for t, ls in found.get(tid, {}).values()]
        rels.sort(key=lambda r: (r.ticket.received_at, r.ticket.id), reverse=True)
        out.append(rels)
    return out
