"""The per-request context: principal, scope, session factory, enforcer and dataloaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from authz.enforcer import PolicyEnforcer
from domain.accounts import ANONYMOUS, Principal
from domain.analysis import linking as al
from domain.assessment import accountability as acc
from domain.assessment import notices as nq
from domain.errors import Unauthenticated
from domain.eventstream import EventHub
from domain.registry import queries as rq
from domain.registry.models import Centre, Staff, Unit
from domain.registry.visibility import Visibility, visibility
from domain.settings import Settings
from domain.supervision import meetings as mq
from domain.supervision import models as sm
from domain.supervision import queries as sq
from domain.tickets import models as tm
from domain.tickets import queries as tq
from domain.uow import UnitOfWork


@dataclass
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    principal: Principal = ANONYMOUS
    request: Any = None
    response: Any = None
    # Websocket connections: the hub of this instance, the connection_init payload, the token
    # the connection authenticated with, and how to turn a token into a principal again.
    hub: EventHub | None = None
    connection_params: dict[str, Any] | None = None
    token: str | None = None
    # The subject this connection is counted under (per-principal limit), as it connected.
    counted_as: str | None = None
    authenticate: Callable[[str | None], Awaitable[Principal | None]] | None = None
    _vis: Visibility | None = None
    _vis_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self)

    def require_principal(self) -> Principal:
        if not self.principal.username:
            raise Unauthenticated("log in first: send Authorization: Bearer <token>")
        return self.principal

    async def visibility(self) -> Visibility:
        """The principal's scope as SQL filters: computed once per request."""
        if self._vis is None:
            async with self._vis_lock:
                if self._vis is None:
                    async with self.sessions() as s:
                        self._vis = await visibility(s, self.require_principal().scope)
        return self._vis

    async def refresh_principal(self) -> None:
        """Scope the connection's principal again (after a policy change); refuse if gone."""
        principal = await self.authenticate(self.token) if self.authenticate else None
        self._vis = None
        if principal is None:
            self.principal = ANONYMOUS
            await self.close_connection(4403, "Forbidden: access revoked")
            raise Unauthenticated("access revoked")
        self.principal = principal

    async def close_connection(self, code: int, reason: str) -> None:
        """Close this websocket with a code and reason (no-op for plain HTTP requests)."""
        close = getattr(self.request, "close", None)
        if close is not None and getattr(self.request, "scope", {}).get("type") == "websocket":
            try:
                await close(code=code, reason=reason)
            except RuntimeError:  # already closed
                pass

    def uow(self, idempotency: tuple[str, str, str] | None = None) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer, idempotency=idempotency)


Info = strawberry.Info[Context, None]


class Loaders:
    """DataLoaders made per request (never module-level: they would cache across users)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.centre_by_code = DataLoader[str, Centre | None](load_fn=self._centres)
        self.unit_by_id = DataLoader[int, Unit | None](load_fn=self._units)
        self.children_by_centre = DataLoader[str, list[Centre]](load_fn=self._children)
        self.represented_by = DataLoader[str, Unit | None](load_fn=self._represented)
        self.staff_by_unit_id = DataLoader[int, list[Staff]](load_fn=self._staff)
        self.ticket_by_id = DataLoader[int, tm.Ticket | None](load_fn=self._tickets)
        self.assignment_by_id = DataLoader[int, tm.Assignment | None](load_fn=self._assignments)
        self.assignments_by_ticket = DataLoader[int, list[tm.Assignment]](
            load_fn=self._assignments_by_ticket
        )
        self.reply_by_assignment = DataLoader[int, tm.Reply | None](load_fn=self._replies)
        self.returns_by_assignment = DataLoader[int, list[tm.ReturnRequest]](load_fn=self._returns)
        self.extensions_by_assignment = DataLoader[int, list[tm.ExtensionRequest]](
            load_fn=self._extensions
        )
        self.callbacks_by_ticket = DataLoader[int, list[tm.Callback]](load_fn=self._callbacks)
        self.category_by_code = DataLoader[str, tm.Category | None](load_fn=self._categories)
        # Records clear reads of complainant data: one insert per request batch.
        self.pii_read = DataLoader[int, bool](load_fn=self._pii_read)
        # Meetings (scoped by the principal's meeting read) and their parts.
        self.meeting_by_id = DataLoader[int, sm.Meeting | None](load_fn=self._meetings)
        self.participants_by_meeting = DataLoader[int, list[tuple[int, str]]](
            load_fn=self._participants
        )
        self.decisions_by_meeting = DataLoader[int, list[sm.MeetingDecision]](
            load_fn=self._decisions_by_meeting
        )
        self.decisions_by_ticket = DataLoader[int, list[sm.MeetingDecision]](
            load_fn=self._decisions_by_ticket
        )
        self.tickets_by_meeting = DataLoader[int, list[int]](load_fn=self._meeting_tickets)
        self.unit_name_by_id = DataLoader[int, str | None](load_fn=self._unit_names)
        # Supervision cases (scoped by the principal's supervision read) and their parts.
        self.supervision_by_id = DataLoader[int, sm.SupervisionCase | None](
            load_fn=self._supervisions
        )
        self.supervisions_by_unit = DataLoader[int, list[sm.SupervisionCase]](
            load_fn=self._supervisions_by_unit
        )
        self.supervisions_by_ticket = DataLoader[int, list[sm.SupervisionCase]](
            load_fn=self._supervisions_by_ticket
        )
        self.supervision_units_by_case = DataLoader[int, list[sm.SupervisionUnit]](
            load_fn=self._supervision_units
        )
        self.supervision_tickets_by_case = DataLoader[int, list[int]](
            load_fn=self._supervision_tickets
        )
        self.supervision_responses_by_case = DataLoader[int, list[sm.SupervisionResponse]](
            load_fn=self._supervision_responses
        )
        self.supervision_response_by_id = DataLoader[int, sm.SupervisionResponse | None](
            load_fn=self._supervision_response
        )
        # Notices and accountability referrals (§7): the tickets and units they name (the
        # caller has already checked the notice or referral itself is visible).
        self.tickets_by_notice = DataLoader[int, list[int]](load_fn=self._notice_tickets)
        self.units_by_notice = DataLoader[int, list[int]](load_fn=self._notice_units)
        self.tickets_by_referral = DataLoader[int, list[int]](load_fn=self._referral_tickets)
        # Repeat complaints (§4(5)6): the related tickets the viewer may see, per ticket.
        self.related_by_ticket = DataLoader[int, list[al.Relation]](load_fn=self._related)

    async def _notice_tickets(self, ids: list[int]) -> list[list[int]]:
        async with self._ctx.sessions() as s:
            return await nq.ticket_ids_by_notice(s, ids)

    async def _notice_units(self, ids: list[int]) -> list[list[int]]:
        async with self._ctx.sessions() as s:
            return await nq.unit_ids_by_notice(s, ids)

    async def _referral_tickets(self, ids: list[int]) -> list[list[int]]:
        async with self._ctx.sessions() as s:
            return await acc.ticket_ids_by_referral(s, ids)

    async def _centres(self, codes: list[str]) -> list[Centre | None]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await rq.centres_by_code(s, vis, codes)

    async def _units(self, ids: list[int]) -> list[Unit | None]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await rq.units_by_id(s, vis, ids)

    async def _children(self, codes: list[str]) -> list[list[Centre]]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await rq.children_by_parent(s, vis, codes)

    async def _represented(self, codes: list[str]) -> list[Unit | None]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await rq.represented_by(s, vis, codes)

    async def _staff(self, unit_ids: list[int]) -> list[list[Staff]]:
        async with self._ctx.sessions() as s:
            return await rq.staff_by_unit(s, unit_ids)

    async def _tickets(self, ids: list[int]) -> list[tm.Ticket | None]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await tq.tickets_by_id(s, vis, ids)

    async def _assignments(self, ids: list[int]) -> list[tm.Assignment | None]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await tq.assignments_by_id(s, vis, ids)

    async def _assignments_by_ticket(self, ids: list[int]) -> list[list[tm.Assignment]]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await tq.assignments_by_ticket(s, vis, ids)

    async def _replies(self, ids: list[int]) -> list[tm.Reply | None]:
        async with self._ctx.sessions() as s:
            return await tq.latest_replies(s, ids)

    async def _returns(self, ids: list[int]) -> list[list[tm.ReturnRequest]]:
        async with self._ctx.sessions() as s:
            return await tq.return_requests(s, ids)

    async def _extensions(self, ids: list[int]) -> list[list[tm.ExtensionRequest]]:
        async with self._ctx.sessions() as s:
            return await tq.extension_requests(s, ids)

    async def _callbacks(self, ids: list[int]) -> list[list[tm.Callback]]:
        async with self._ctx.sessions() as s:
            return await tq.callbacks_by_ticket(s, ids)

    async def _categories(self, codes: list[str]) -> list[tm.Category | None]:
        async with self._ctx.sessions() as s:
            rows = await s.execute(select(tm.Category).where(tm.Category.code.in_(set(codes))))
            found = {c.code: c for c in rows.scalars()}
        return [found.get(c) for c in codes]

    async def _pii_read(self, ticket_ids: list[int]) -> list[bool]:
        async with self._ctx.sessions() as s:
            await tq.log_pii_reads(s, self._ctx.principal.subject, ticket_ids)
        return [True for _ in ticket_ids]

    async def _meetings(self, ids: list[int]) -> list[sm.Meeting | None]:
        ms = mq.meeting_scope(self._ctx.require_principal().scope)
        async with self._ctx.sessions() as s:
            return await mq.meetings_by_id(s, ms, ids)

    async def _participants(self, ids: list[int]) -> list[list[tuple[int, str]]]:
        async with self._ctx.sessions() as s:
            return await mq.participants_by_meeting(s, ids)

    async def _decisions_by_meeting(self, ids: list[int]) -> list[list[sm.MeetingDecision]]:
        async with self._ctx.sessions() as s:
            return await mq.decisions_by_meeting(s, ids)

    async def _decisions_by_ticket(self, ids: list[int]) -> list[list[sm.MeetingDecision]]:
        async with self._ctx.sessions() as s:
            return await mq.decisions_by_ticket(s, ids)

    async def _meeting_tickets(self, ids: list[int]) -> list[list[int]]:
        async with self._ctx.sessions() as s:
            return await mq.agenda_tickets(s, ids)

    async def _unit_names(self, ids: list[int]) -> list[str | None]:
        async with self._ctx.sessions() as s:
            return await mq.unit_names(s, ids)

    async def _supervisions(self, ids: list[int]) -> list[sm.SupervisionCase | None]:
        scope = self._ctx.require_principal().scope
        async with self._ctx.sessions() as s:
            return await sq.cases_by_id(s, scope, ids)

    async def _supervisions_by_unit(self, ids: list[int]) -> list[list[sm.SupervisionCase]]:
        scope = self._ctx.require_principal().scope
        async with self._ctx.sessions() as s:
            return await sq.cases_by_unit(s, scope, ids)

    async def _supervisions_by_ticket(self, ids: list[int]) -> list[list[sm.SupervisionCase]]:
        scope = self._ctx.require_principal().scope
        async with self._ctx.sessions() as s:
            return await sq.cases_by_ticket(s, scope, ids)

    async def _supervision_units(self, ids: list[int]) -> list[list[sm.SupervisionUnit]]:
        async with self._ctx.sessions() as s:
            return await sq.units_by_case(s, ids)

    async def _supervision_tickets(self, ids: list[int]) -> list[list[int]]:
        async with self._ctx.sessions() as s:
            return await sq.ticket_ids_by_case(s, ids)

    async def _supervision_responses(self, ids: list[int]) -> list[list[sm.SupervisionResponse]]:
        async with self._ctx.sessions() as s:
            return await sq.responses_by_case(s, ids)

    async def _supervision_response(self, ids: list[int]) -> list[sm.SupervisionResponse | None]:
        scope = self._ctx.require_principal().scope
        async with self._ctx.sessions() as s:
            return await sq.responses_by_id(s, scope, ids)

    async def _related(self, ids: list[int]) -> list[list[al.Relation]]:
        vis = await self._ctx.visibility()
        async with self._ctx.sessions() as s:
            return await al.related_by_ticket(s, vis, ids)
