"""GraphQL types of supervision cases (督办, §5)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.registry.types import Centre, HistoryEntry, Unit
from api.relay import Connection, Node, connection, to_global_id
from api.tickets.types import Ticket
from domain.calendar import TZ
from domain.pagination import clamp_first
from domain.registry import queries as rq
from domain.supervision import models as m
from domain.supervision.service import ENTITY

Grounds = strawberry.enum(m.Grounds, description="The eight situations of §5(2).")
SupervisionForm = strawberry.enum(m.SupervisionForm, description="The six forms of §5(3).")
SupervisionStatus = strawberry.enum(
    m.SupervisionStatus, description="OPEN; RESPONDED once every target unit has responded; CLOSED."
)
SupervisionOutcome = strawberry.enum(m.SupervisionOutcome)
CaseUnitRole = strawberry.enum(
    m.CaseUnitRole,
    description="主办 (LEAD) and 协办 (CO) in a multi-unit case; TARGET for a single unit.",
)


@strawberry.type(description="A unit under supervision in a case.")
class SupervisedUnit:
    unit_pk: strawberry.Private[int]
    unit_id: strawberry.ID = strawberry.field(description="The unit's global ID.")
    role: CaseUnitRole  # type: ignore[valid-type]
    responded: bool

    @strawberry.field(description="The unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None


@strawberry.type(description="What a target unit did about a case, and when.")
class SupervisionResponse(Node):
    response_id: strawberry.Private[int]
    case_pk: strawberry.Private[int]
    unit_pk: strawberry.Private[int]
    content: str
    done_at: datetime
    responded_by: str
    responded_at: datetime
    late: bool = strawberry.field(description="Responded after the case's deadline.")
    unit_id: strawberry.ID = strawberry.field(description="The responding unit's global ID.")

    @classmethod
    def of(cls, r: m.SupervisionResponse, deadline: datetime) -> SupervisionResponse:
        return cls(
            id=to_global_id("SupervisionResponse", r.id),
            response_id=r.id,
            case_pk=r.case_id,
            unit_pk=r.unit_id,
            content=r.content,
            done_at=r.done_at,
            responded_by=r.responded_by,
            responded_at=r.responded_at,
            late=r.responded_at > deadline,
            unit_id=to_global_id("Unit", r.unit_id),
        )

    @strawberry.field(description="The responding unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None

    @strawberry.field(description="The case responded to.")
    async def supervision_case(self, info: Info) -> SupervisionCase | None:
        c = await info.context.loaders.supervision_by_id.load(self.case_pk)
        return SupervisionCase.of(c) if c else None


@strawberry.type(
    description="督办: a centre supervising its own member units (§5), with responses and outcome."
)
class SupervisionCase(Node):
    case_id: strawberry.Private[int]
    centre_code: str = strawberry.field(description="The supervising centre.")
    escalated_to_code: str | None = strawberry.field(
        description="The centre above the case was reported to, if any."
    )
    grounds: list[Grounds]  # type: ignore[valid-type]
    form: SupervisionForm  # type: ignore[valid-type]
    deadline: datetime
    note: str | None
    status: SupervisionStatus  # type: ignore[valid-type]
    outcome: SupervisionOutcome | None  # type: ignore[valid-type]
    outcome_note: str | None
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    escalated_at: datetime | None = strawberry.field(
        description="When the case was reported to the centre above (专报, §5(3)6)."
    )
    reminded_at: datetime | None = strawberry.field(
        description="When the sweeper reminded the units that had not responded by the deadline."
    )
    overdue: bool = strawberry.field(description="Open and past its deadline.")
    version: int

    @classmethod
    def of(cls, c: m.SupervisionCase) -> SupervisionCase:
        return cls(
            id=to_global_id("SupervisionCase", c.id),
            case_id=c.id,
            escalated_to_code=c.escalated_to,
            centre_code=c.centre_code,
            grounds=[m.Grounds(g) for g in c.grounds],
            form=c.form,
            deadline=c.deadline,
            note=c.note,
            status=c.status,
            outcome=c.outcome,
            outcome_note=c.outcome_note,
            opened_by=c.opened_by,
            opened_at=c.opened_at,
            closed_by=c.closed_by,
            closed_at=c.closed_at,
            escalated_at=c.escalated_at,
            reminded_at=c.reminded_at,
            overdue=c.status == m.SupervisionStatus.OPEN and c.deadline < datetime.now(TZ),
            version=c.version,
        )

    @strawberry.field(description="The supervising centre.")
    async def centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="The centre above the case was reported to (read-only there).")
    async def escalated_to(self, info: Info) -> Centre | None:
        if self.escalated_to_code is None:
            return None
        c = await info.context.loaders.centre_by_code.load(self.escalated_to_code)
        return Centre.of(c) if c else None

    @strawberry.field(
        description="True when the case is closed, or you may neither manage nor respond to it "
        "(for example a case reported to your centre). A hint for clients; every mutation "
        "checks again."
    )
    async def read_only(self, info: Info) -> bool:
        scope = info.context.require_principal().scope
        if self.status == m.SupervisionStatus.CLOSED:
            return True
        if self.centre_code in scope.centres_for("supervision", "manage"):
            return False
        mine = scope.units_for("supervision", "respond")
        if not mine:
            return True
        units = await info.context.loaders.supervision_units_by_case.load(self.case_id)
        return not any(u.unit_id in mine for u in units)

    @strawberry.field(description="The units under supervision: the lead first.")
    async def units(self, info: Info) -> list[SupervisedUnit]:
        loaders = info.context.loaders
        units = await loaders.supervision_units_by_case.load(self.case_id)
        responses = await loaders.supervision_responses_by_case.load(self.case_id)
        answered = {r.unit_id for r in responses}
        return [
            SupervisedUnit(
                unit_pk=u.unit_id,
                unit_id=to_global_id("Unit", u.unit_id),
                role=u.role,
                responded=u.unit_id in answered,
            )
            for u in units
        ]

    @strawberry.field(description="Linked tickets you may see.")
    async def tickets(self, info: Info) -> list[Ticket]:
        loaders = info.context.loaders
        ids = await loaders.supervision_tickets_by_case.load(self.case_id)
        rows = await loaders.ticket_by_id.load_many(ids)
        return [Ticket.of(t) for t in rows if t is not None]

    @strawberry.field(description="Responses of the target units, oldest first.")
    async def responses(self, info: Info) -> list[SupervisionResponse]:
        rows = await info.context.loaders.supervision_responses_by_case.load(self.case_id)
        return [SupervisionResponse.of(r, self.deadline) for r in rows]

    @strawberry.field(description="The case's history: every change, newest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[HistoryEntry]:
        ctx = info.context
        n = clamp_first(first, ctx.settings.max_page_size, default=50)
        async with ctx.sessions() as s:
            page = await rq.history(s, ENTITY, str(self.case_id), n, after)
        return connection(page, HistoryEntry.of)  # type: ignore[arg-type]
