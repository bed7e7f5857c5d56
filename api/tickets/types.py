"""GraphQL types of the ticket workflow."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.registry.types import Centre, HistoryEntry, Unit
from api.relay import Connection, Node, connection, to_global_id
from domain.calendar import TZ
from domain.pagination import clamp_first
from domain.tickets import models as m
from domain.tickets import queries as tq
from domain.tickets import reply_rules as rr
from domain.tickets import workflow as wf

if TYPE_CHECKING:
    from api.analysis.related_types import RelatedTicket
    from api.meetings.types import MeetingDecision
    from api.supervision.types import SupervisionCase

Channel = strawberry.enum(m.Channel, description="Where a ticket came from (§3(1)).")
OriginLevel = strawberry.enum(
    m.OriginLevel, description="Province or city ticket: scored separately (§6)."
)
Urgency = strawberry.enum(m.Urgency)
TicketStatus = strawberry.enum(m.TicketStatus)
AssignmentRole = strawberry.enum(m.AssignmentRole, description="主办 (LEAD) or 协办 (CO).")
AssignmentStatus = strawberry.enum(m.AssignmentStatus)
ReplyStatus = strawberry.enum(m.ReplyStatus)
Decision = strawberry.enum(m.Decision)
Outcome = strawberry.enum(rr.Outcome, description="Outcome classes of §4(4).")
Satisfaction = strawberry.enum(rr.Satisfaction, description="Callback result (§3(8)).")
BreachRisk = strawberry.enum(wf.BreachRisk)
TicketOrder = strawberry.enum(tq.TicketOrder)
WorkKind = strawberry.enum(tq.WorkKind)
QueueKind = strawberry.enum(tq.QueueKind)


def _now() -> datetime:
    return datetime.now(TZ)


@strawberry.type(description="Deadlines and how close they are.")
class Deadlines:
    sign_by: datetime | None
    return_by: datetime | None
    due_at: datetime | None
    remaining: int | None = strawberry.field(description="Seconds until dueAt (negative: late).")
    breach_risk: BreachRisk  # type: ignore[valid-type]


def _deadlines(
    sign_by: datetime | None,
    return_by: datetime | None,
    start: datetime,
    due: datetime | None,
    finished: bool,
) -> Deadlines:
    view = wf.deadline_view(now=_now(), start=start, due=due, finished=finished)
    return Deadlines(
        sign_by=sign_by,
        return_by=return_by,
        due_at=due,
        remaining=view.remaining_seconds,
        breach_risk=view.risk,
    )


@strawberry.type(description="A category of the two-level taxonomy.")
class Category:
    code: str
    name: str
    name_en: str
    parent_code: str | None

    @classmethod
    def of(cls, c: m.Category) -> Category:
        return cls(code=c.code, name=c.name_zh, name_en=c.name_en, parent_code=c.parent_code)


@strawberry.type(description="The complainant; name and phone masked unless your role needs them.")
class Complainant:
    name: str | None
    phone: str | None
    anonymous: bool
    masked: bool


@strawberry.type
class LintFinding:
    rule: str
    phrase: str
    clause: str


@strawberry.type(description="答复: drafted, approved by the leader, submitted, reviewed.")
class Reply(Node):
    status: ReplyStatus  # type: ignore[valid-type]
    handler_name: str
    handler_phone: str | None
    contacted_at: datetime | None
    communication: str
    citizen_satisfied: bool | None
    unsatisfied_reasons: str | None
    documents: list[str]
    handling: str
    outcome: Outcome  # type: ignore[valid-type]
    text: str
    lint_findings: list[LintFinding]
    missing_elements: list[str]
    drafted_by: str
    drafted_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None

    @classmethod
    def of(cls, r: m.Reply, *, anonymous: bool) -> Reply:
        from domain.tickets.service import _content

        return cls(
            id=to_global_id("Reply", r.id),
            status=r.status,
            handler_name=r.handler_name,
            handler_phone=r.handler_phone,
            contacted_at=r.contacted_at,
            communication=r.communication,
            citizen_satisfied=r.citizen_satisfied,
            unsatisfied_reasons=r.unsatisfied_reasons,
            documents=list(r.documents),
            handling=r.handling,
            outcome=rr.Outcome(r.outcome),
            text=r.text,
            lint_findings=[LintFinding(**f) for f in r.lint],
            missing_elements=rr.missing_elements(_content(r), anonymous=anonymous),
            drafted_by=r.drafted_by,
            drafted_at=r.drafted_at,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            submitted_at=r.submitted_at,
            reviewed_by=r.reviewed_by,
            reviewed_at=r.reviewed_at,
            review_note=r.review_note,
        )


@strawberry.type(description="退回申请 (§3(4)).")
class ReturnRequest:
    reason: str
    basis: str
    suggested_unit: str
    verifier_name: str
    verifier_phone: str
    requested_by: str
    requested_at: datetime
    decision: Decision | None  # type: ignore[valid-type]
    decision_note: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, r: m.ReturnRequest) -> ReturnRequest:
        return cls(
            reason=r.reason,
            basis=r.basis,
            suggested_unit=r.suggested_unit,
            verifier_name=r.verifier_name,
            verifier_phone=r.verifier_phone,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            decision=r.decision,
            decision_note=r.decision_note,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )


@strawberry.type(description="延期申请 (§3(4)).")
class ExtensionRequest:
    reason: str
    proposed_due: datetime
    requested_by: str
    requested_at: datetime
    decision: Decision | None  # type: ignore[valid-type]
    new_due: datetime | None
    decision_note: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, r: m.ExtensionRequest) -> ExtensionRequest:
        return cls(
            reason=r.reason,
            proposed_due=r.proposed_due,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            decision=r.decision,
            new_due=r.new_due,
            decision_note=r.decision_note,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )


@strawberry.type(description="回访 (§3(8)).")
class CallbackRecord:
    satisfaction: Satisfaction  # type: ignore[valid-type]
    actually_resolved: bool
    note: str | None
    recorded_by: str
    recorded_at: datetime


@strawberry.type(description="A ticket given to one unit as lead or co-unit.")
class Assignment(Node):
    assignment_id: strawberry.Private[int]
    ticket_pk: strawberry.Private[int]
    unit_pk: strawberry.Private[int]
    centre_pk: strawberry.Private[str]
    parent_pk: strawberry.Private[int | None]
    role: AssignmentRole  # type: ignore[valid-type]
    status: AssignmentStatus  # type: ignore[valid-type]
    dispatched_at: datetime
    dispatched_by: str
    note: str | None
    signed_at: datetime | None
    signed_late: bool
    deemed_accepted: bool
    return_locked: bool = strawberry.field(
        description="Dispatched again after a rejected return: may not be returned again."
    )
    return_count: int
    extension_count: int
    sent_back_count: int
    redo_count: int
    overdue: bool
    replied_at: datetime | None
    accepted_at: datetime | None
    deadlines: Deadlines
    version: int

    @classmethod
    def of(cls, a: m.Assignment) -> Assignment:
        finished = a.status in (
            m.AssignmentStatus.ACCEPTED,
            m.AssignmentStatus.CLOSED,
            m.AssignmentStatus.RETURNED,
            m.AssignmentStatus.REPLY_SUBMITTED,
        )
        return cls(
            id=to_global_id("Assignment", a.id),
            assignment_id=a.id,
            ticket_pk=a.ticket_id,
            unit_pk=a.unit_id,
            centre_pk=a.centre_code,
            parent_pk=a.parent_id,
            role=a.role,
            status=a.status,
            dispatched_at=a.dispatched_at,
            dispatched_by=a.dispatched_by,
            note=a.note,
            signed_at=a.signed_at,
            signed_late=a.signed_late,
            deemed_accepted=a.deemed_accepted,
            return_locked=a.return_locked,
            return_count=a.return_count,
            extension_count=a.extension_count,
            sent_back_count=a.sent_back_count,
            redo_count=a.redo_count,
            overdue=a.overdue,
            replied_at=a.replied_at,
            accepted_at=a.accepted_at,
            deadlines=_deadlines(a.sign_by, a.return_by, a.dispatched_at, a.due_at, finished),
            version=a.version,
        )

    @strawberry.field
    async def ticket(self, info: Info) -> Ticket | None:
        t = await info.context.loaders.ticket_by_id.load(self.ticket_pk)
        return Ticket.of(t) if t else None

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None

    @strawberry.field(description="The latest reply (draft, approved, submitted or reviewed).")
    async def reply(self, info: Info) -> Reply | None:
        r = await info.context.loaders.reply_by_assignment.load(self.assignment_id)
        if r is None:
            return None
        t = await info.context.loaders.ticket_by_id.load(self.ticket_pk)
        return Reply.of(r, anonymous=bool(t and t.anonymous))

    @strawberry.field(description="The centre that dispatched this assignment and reviews it.")
    async def from_centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_pk)
        return Centre.of(c) if c else None

    @strawberry.field(
        description="For a referral (转办/下派): the lower centre its unit stands for; else null."
    )
    async def to_centre(self, info: Info) -> Centre | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        if u is None or u.represents is None:
            return None
        c = await info.context.loaders.centre_by_code.load(u.represents)
        return Centre.of(c) if c else None

    @strawberry.field(description="The referral one level up that this assignment serves.")
    async def parent(self, info: Info) -> Assignment | None:
        if self.parent_pk is None:
            return None
        a = await info.context.loaders.assignment_by_id.load(self.parent_pk)
        return Assignment.of(a) if a else None

    @strawberry.field
    async def return_requests(self, info: Info) -> list[ReturnRequest]:
        rows = await info.context.loaders.returns_by_assignment.load(self.assignment_id)
        return [ReturnRequest.of(r) for r in rows]

    @strawberry.field
    async def extension_requests(self, info: Info) -> list[ExtensionRequest]:
        rows = await info.context.loaders.extensions_by_assignment.load(self.assignment_id)
        return [ExtensionRequest.of(r) for r in rows]


@strawberry.type(description="事件/工单: a request or complaint from intake to archive.")
class Ticket(Node):
    ticket_id: strawberry.Private[int]
    centre_code: strawberry.Private[str]
    category_code: strawberry.Private[str]
    row: strawberry.Private[m.Ticket]
    number: str
    channel: Channel  # type: ignore[valid-type]
    origin_level: OriginLevel  # type: ignore[valid-type]
    title: str
    content: str
    address: str | None
    division_code: str | None
    latitude: float | None
    longitude: float | None
    urgency: Urgency  # type: ignore[valid-type]
    received_at: datetime
    status: TicketStatus  # type: ignore[valid-type]
    due_at: datetime | None
    redo_count: int
    satisfaction: Satisfaction | None  # type: ignore[valid-type]
    actually_resolved: bool | None
    closed_at: datetime | None
    archived_at: datetime | None
    demo: bool
    version: int

    @classmethod
    def of(cls, t: m.Ticket) -> Ticket:
        return cls(
            id=to_global_id("Ticket", t.id),
            ticket_id=t.id,
            centre_code=t.centre_code,
            category_code=t.category_code,
            row=t,
            number=t.number,
            channel=t.channel,
            origin_level=t.origin_level,
            title=t.title,
            content=t.content,
            address=t.address,
            division_code=t.division_code,
            latitude=t.latitude,
            longitude=t.longitude,
            urgency=t.urgency,
            received_at=t.received_at,
            status=t.status,
            due_at=t.due_at,
            redo_count=t.redo_count,
            satisfaction=rr.Satisfaction(t.satisfaction) if t.satisfaction else None,
            actually_resolved=t.actually_resolved,
            closed_at=t.closed_at,
            archived_at=t.archived_at,
            demo=t.demo,
            version=t.version,
        )

    @strawberry.field
    async def centre(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.centre_code)
        return Centre.of(c) if c else None

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        c = await info.context.loaders.category_by_code.load(self.category_code)
        return Category.of(c) if c else None

    @strawberry.field(
        description="Name and phone in clear for centre dispatchers and, unless anonymous, the "
        "assigned units' staff; masked (138****1234) for everyone else. Each clear read is logged."
    )
    async def complainant(self, info: Info) -> Complainant:
        t = self.row
        ctx = info.context
        vis = await ctx.visibility()
        clear = t.centre_code in vis.pii_centres
        if not clear and not t.anonymous and (vis.pii_units or vis.pii_centres):
            # The assigned units' staff, and the dispatchers of a centre the ticket was referred
            # to (they act for the unit that stands for their centre); a unit whose return was
            # approved no longer holds the ticket.
            for a in await ctx.loaders.assignments_by_ticket.load(t.id):
                if a.status == m.AssignmentStatus.RETURNED:
                    continue
                if a.unit_id in vis.pii_units or a.centre_code in vis.pii_centres:
                    clear = True
                    break
                unit = await ctx.loaders.unit_by_id.load(a.unit_id)
                if unit is not None and unit.represents in vis.pii_centres:
                    clear = True
                    break
        if clear and (t.complainant_name or t.complainant_phone):
            await ctx.loaders.pii_read.load(t.id)
            return Complainant(
                name=t.complainant_name,
                phone=t.complainant_phone,
                anonymous=t.anonymous,
                masked=False,
            )
        return Complainant(
            name=wf.mask_name(t.complainant_name),
            phone=wf.mask_phone(t.complainant_phone),
            anonymous=t.anonymous,
            masked=bool(t.complainant_name or t.complainant_phone),
        )

    @strawberry.field(description="Assignments you may see (the centre: all; a unit: its own).")
    async def assignments(self, info: Info) -> list[Assignment]:
        rows = await info.context.loaders.assignments_by_ticket.load(self.ticket_id)
        return [Assignment.of(a) for a in rows]

    @strawberry.field(
        description="Every hop of the referral chain you may see: assignments to units that "
        "stand for a lower centre, top first. A township sees its own hop and the one that "
        "reached it; a county from its hop down; the city down only where read-down is granted."
    )
    async def referral_chain(self, info: Info) -> list[Assignment]:
        rows = await info.context.loaders.assignments_by_ticket.load(self.ticket_id)
        units = await info.context.loaders.unit_by_id.load_many([a.unit_id for a in rows])
        hops = [a for a, u in zip(rows, units, strict=True) if u is not None and u.represents]
        return [Assignment.of(a) for a in hops]

    @strawberry.field(description="The lead assignment's deadlines.")
    async def deadlines(self, info: Info) -> Deadlines:
        rows = await info.context.loaders.assignments_by_ticket.load(self.ticket_id)
        active = [a for a in rows if a.status in wf.ACTIVE and a.parent_id is None]
        lead = next((a for a in active if a.role == m.AssignmentRole.LEAD), None)
        finished = self.status not in (m.TicketStatus.NEW, m.TicketStatus.IN_PROGRESS)
        if lead is None:
            return _deadlines(None, None, self.received_at, self.due_at, finished)
        return _deadlines(lead.sign_by, lead.return_by, lead.dispatched_at, lead.due_at, finished)

    @strawberry.field
    async def callbacks(self, info: Info) -> list[CallbackRecord]:
        rows = await info.context.loaders.callbacks_by_ticket.load(self.ticket_id)
        return [
            CallbackRecord(
                satisfaction=rr.Satisfaction(c.satisfaction),
                actually_resolved=c.actually_resolved,
                note=c.note,
                recorded_by=c.recorded_by,
                recorded_at=c.recorded_at,
            )
            for c in rows
        ]

    @strawberry.field(description="Supervision cases naming this ticket that you may see.")
    async def supervisions(
        self, info: Info
    ) -> list[Annotated[SupervisionCase, strawberry.lazy("api.supervision.types")]]:
        from api.supervision.types import SupervisionCase

        rows = await info.context.loaders.supervisions_by_ticket.load(self.ticket_id)
        return [SupervisionCase.of(c) for c in rows]

    @strawberry.field(
        description="Meeting decisions on this ticket (§5(3)4–5): who was designated, by which "
        "principle, with which deadline; oldest first."
    )
    async def meeting_decisions(
        self, info: Info
    ) -> list[Annotated[MeetingDecision, strawberry.lazy("api.meetings.types")]]:
        from api.meetings.types import MeetingDecision

        rows = await info.context.loaders.decisions_by_ticket.load(self.ticket_id)
        return [MeetingDecision.of(d) for d in rows]

    @strawberry.field(
        description="Tickets on the same matter (§4(5)6 避免市民重复反映), linked automatically "
        "at intake (same complainant phone, same address and category, near-identical text) or "
        "by a dispatcher; most recently received first, with the reason of each link. Only "
        "related tickets you may open are listed (the visibility of tickets(...)); links to "
        "tickets you may not see are neither listed nor counted, as if they did not exist."
    )
    async def related(
        self, info: Info, first: int | None = None
    ) -> list[Annotated[RelatedTicket, strawberry.lazy("api.analysis.related_types")]]:
        from api.analysis.related_types import RelatedTicket

        n = clamp_first(first, info.context.settings.max_page_size, default=20)
        rows = await info.context.loaders.related_by_ticket.load(self.ticket_id)
        return [
            RelatedTicket.of(r, base_received_at=self.received_at, base_id=self.ticket_id)
            for r in rows[:n]
        ]

    @strawberry.field(
        description="How many related tickets you may see were received before this one: "
        "0 for a first complaint; the same visibility rule as related."
    )
    async def repeat_count(self, info: Info) -> int:
        rows = await info.context.loaders.related_by_ticket.load(self.ticket_id)
        me = (self.received_at, self.ticket_id)
        return sum(1 for r in rows if (r.ticket.received_at, r.ticket.id) < me)

    @strawberry.field(description="The ticket's history: every change, oldest first.")
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[HistoryEntry]:
        ctx = info.context
        n = clamp_first(first, ctx.settings.max_page_size, default=50)
        async with ctx.sessions() as s:
            page = await tq.ticket_events(s, self.ticket_id, n, after)
        return connection(page, HistoryEntry.of)  # type: ignore[arg-type]


@strawberry.type(description="An item of a centre's work queue.")
class QueueItem:
    ticket: Ticket
    assignment: Assignment | None


@strawberry.type(description="A unit a ticket may go to, with the routing rule that proposes it.")
class UnitSuggestion:
    unit: Unit
    score: int
    rule_category: str
    rule_division_prefix: str | None
    rule_priority: int
    rule_note: str | None
