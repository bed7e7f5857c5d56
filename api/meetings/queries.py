"""Meeting queries: scoped lists, one meeting, the default participants of a kind."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.meetings.types import Meeting, MeetingKind, MeetingUnit
from api.relay import Connection, connection, int_key
from domain.pagination import clamp_first
from domain.supervision import meetings as mq
from domain.supervision import models as m


@strawberry.input
class MeetingFilter:
    kind: MeetingKind | None = None  # type: ignore[valid-type]
    convened_by: str | None = strawberry.field(default=None, description="A centre code.")
    held_from: datetime | None = None
    held_to: datetime | None = strawberry.field(default=None, description="Exclusive.")
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Meetings this unit took part in or was designated by."
    )


@strawberry.type
class MeetingQuery:
    @strawberry.field(
        description="Meetings convened by centres whose meetings you read, or that one of your "
        "units takes part in or is designated by; latest held first."
    )
    async def meetings(
        self,
        info: Info,
        filter: MeetingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Meeting]:
        ctx = info.context
        ms = mq.meeting_scope(ctx.require_principal().scope)
        f = filter or MeetingFilter()
        n = clamp_first(first, ctx.settings.max_page_size)
        domain_filter = mq.MeetingFilter(
            kind=m.MeetingKind(f.kind) if f.kind else None,
            convened_by=f.convened_by,
            held_from=f.held_from,
            held_to=f.held_to,
            unit_id=int_key(f.unit_id, "Unit", "unitId") if f.unit_id else None,
        )
        async with ctx.sessions() as s:
            page = await mq.list_meetings(s, ms, domain_filter, n, after)
        return connection(page, Meeting.of)  # type: ignore[arg-type]

    @strawberry.field(description="A meeting by global ID; null when missing or not yours.")
    async def meeting(self, info: Info, id: strawberry.ID) -> Meeting | None:
        info.context.require_principal()
        row = await info.context.loaders.meeting_by_id.load(int_key(id, "Meeting"))
        return Meeting.of(row) if row else None

    @strawberry.field(description="The units invited to every meeting of a kind by default.")
    async def meeting_defaults(
        self,
        info: Info,
        kind: MeetingKind,  # type: ignore[valid-type]
    ) -> list[MeetingUnit]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.sessions() as s:
            ids = await mq.default_participants(s, m.MeetingKind(kind))
        return await MeetingUnit.many(info, ids)
