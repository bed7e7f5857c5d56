"""GraphQL types of joint and special meetings (联席会议, 专项会议, §5(3)4–5)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.registry.types import Centre, Unit
from api.relay import Node, to_global_id
from api.tickets.types import Ticket
from domain.supervision import models as m

MeetingKind = strawberry.enum(
    m.MeetingKind,
    description="JOINT: 联席会议, convened by the city centre (§5(3)5); SPECIAL: 专项会议, by any "
    "centre among its members (§5(3)4).",
)
Principle = strawberry.enum(
    m.Principle,
    description="How a meeting settles responsibility: WHO_ADMINISTERS 谁主管、谁负责, "
    "WHO_APPROVES 谁审批、谁负责, WHO_BENEFITS 谁受益、谁负责, STATUTORY 法定, NEGOTIATED 商定, "
    "DESIGNATED 指定.",
)


@strawberry.type(description="A unit taking part in a meeting or designated by its decision.")
class MeetingUnit:
    unit_pk: strawberry.Private[int]
    unit_id: strawberry.ID = strawberry.field(description="The unit's global ID.")
    name: str = strawberry.field(description="The unit's name (public registry data).")

    @classmethod
    def of(cls, unit_id: int, name: str | None) -> MeetingUnit:
        return cls(unit_pk=unit_id, unit_id=to_global_id("Unit", unit_id), name=name or "")

    @classmethod
    async def many(cls, info: Info, ids: list[int]) -> list[MeetingUnit]:
        names = await info.context.loaders.unit_name_by_id.load_many(ids)
        return [cls.of(i, n) for i, n in zip(ids, names, strict=True)]

    @strawberry.field(description="The unit; null when the registry keeps it from you.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None


@strawberry.type(
    description="A meeting's decision on a disputed ticket: by a principle, the lead and co-units "
    "receive it with the decided deadline and may not return it."
)
class MeetingDecision:
    decision_pk: strawberry.Private[int]
    meeting_pk: strawberry.Private[int]
    ticket_pk: strawberry.Private[int]
    lead_pk: strawberry.Private[int]
    co_pks: strawberry.Private[list[int]]
    id: strawberry.ID
    principle: Principle  # type: ignore[valid-type]
    deadline: datetime
    note: str | None
    decided_by: str
    decided_at: datetime

    @classmethod
    def of(cls, d: m.MeetingDecision) -> MeetingDecision:
        return cls(
            decision_pk=d.id,
            meeting_pk=d.meeting_id,
            ticket_pk=d.ticket_id,
            lead_pk=d.lead_unit_id,
            co_pks=list(d.co_unit_ids),
            id=to_global_id("MeetingDecision", d.id),
            principle=d.principle,
            deadline=d.deadline,
            note=d.note,
            decided_by=d.decided_by,
            decided_at=d.decided_at,
        )

    @strawberry.field(description="The meeting; null when you may not see it.")
    async def meeting(self, info: Info) -> Meeting | None:
        row = await info.context.loaders.meeting_by_id.load(self.meeting_pk)
        return Meeting.of(row) if row else None

    @strawberry.field(description="The ticket; null when you may not see it.")
    async def ticket(self, info: Info) -> Ticket | None:
        t = await info.context.loaders.ticket_by_id.load(self.ticket_pk)
        return Ticket.of(t) if t else None

    @strawberry.field(description="The designated lead unit (主办).")
    async def lead(self, info: Info) -> MeetingUnit:
        return (await MeetingUnit.many(info, [self.lead_pk]))[0]

    @strawberry.field(description="The designated co-units (协办).")
    async def co_units(self, info: Info) -> list[MeetingUnit]:
        return await MeetingUnit.many(info, self.co_pks)


@strawberry.type(description="联席会议 or 专项会议 (§5(3)4–5): participants, tickets, decisions.")
class Meeting(Node):
    meeting_pk: strawberry.Private[int]
    convened_by_code: str = strawberry.field(description="The code of the convening centre.")
    kind: MeetingKind  # type: ignore[valid-type]
    held_at: datetime
    agenda: str
    created_by: str
    demo: bool

    @classmethod
    def of(cls, row: m.Meeting) -> Meeting:
        return cls(
            id=to_global_id("Meeting", row.id),
            meeting_pk=row.id,
            convened_by_code=row.convened_by,
            kind=row.kind,
            held_at=row.held_at,
            agenda=row.agenda,
            created_by=row.created_by,
            demo=row.demo,
        )

    @strawberry.field(description="The convening centre; null when the registry keeps it from you.")
    async def convened_by(self, info: Info) -> Centre | None:
        c = await info.context.loaders.centre_by_code.load(self.convened_by_code)
        return Centre.of(c) if c else None

    @strawberry.field(description="The participating units (the defaults of its kind included).")
    async def participants(self, info: Info) -> list[MeetingUnit]:
        rows = await info.context.loaders.participants_by_meeting.load(self.meeting_pk)
        return [MeetingUnit.of(uid, name) for uid, name in rows]

    @strawberry.field(description="Its decisions, oldest first.")
    async def decisions(self, info: Info) -> list[MeetingDecision]:
        rows = await info.context.loaders.decisions_by_meeting.load(self.meeting_pk)
        return [MeetingDecision.of(d) for d in rows]

    @strawberry.field(
        description="The tickets it discussed (listed when scheduled) and decided; those you may "
        "see."
    )
    async def tickets(self, info: Info) -> list[Ticket]:
        ids = await info.context.loaders.tickets_by_meeting.load(self.meeting_pk)
        rows = await info.context.loaders.ticket_by_id.load_many(ids)
        return [Ticket.of(t) for t in rows if t is not None]
