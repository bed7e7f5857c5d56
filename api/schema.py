"""The schema: queries, mutations, protections (depth, aliases, tokens) and error masking."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from api.accounts import AccountMutation, Viewer, viewer
from api.analysis.mutations import AnalysisMutation
from api.analysis.queries import AnalysisQuery
from api.assessment.mutations import AssessmentMutation
from api.assessment.queries import AssessmentQuery
from api.context import Info
from api.errors import ERROR_TYPES
from api.meetings.mutations import MeetingMutation
from api.meetings.queries import MeetingQuery
from api.meetings.types import Meeting
from api.notices.mutations import NoticeMutation
from api.notices.queries import NoticeQuery
from api.notices.types import AccountabilityReferral, Notice
from api.partners.mutations import PartnerMutation
from api.partners.queries import PartnerQuery
from api.referral.mutations import ReferralMutation
from api.registry.mutations import RegistryMutation
from api.registry.queries import RegistryQuery
from api.registry.types import Centre, HistoryEntry, Staff, Unit
from api.relay import MAX_ID, Node, from_global_id
from api.subscriptions import Subscription
from api.supervision.mutations import SupervisionMutation
from api.supervision.queries import SupervisionQuery
from api.supervision.types import SupervisionCase, SupervisionResponse
from api.tickets.admin import TicketAdminMutation, TicketAdminQuery
from api.tickets.mutations import TicketMutation
from api.tickets.queries import TicketQuery
from api.tickets.types import Assignment, Ticket
from domain.assessment import accountability, notices
from domain.errors import DomainError, InvalidInput
from domain.registry import queries as rq
from domain.registry.models import Staff as StaffRow
from domain.settings import Settings


async def resolve_node(info: Info, gid: str) -> Node | None:
    ctx = info.context
    type_name, key = from_global_id(gid)
    if type_name == "Centre":
        c = await ctx.loaders.centre_by_code.load(key)
        return Centre.of(c) if c else None
    if not key.isdigit() or len(key) > 18:
        raise InvalidInput(f"malformed global ID: {gid[:40]!r}", field="id")
    if int(key) > MAX_ID.get(type_name, 2**63 - 1):
        return None
    if type_name == "Unit":
        u = await ctx.loaders.unit_by_id.load(int(key))
        return Unit.of(u) if u else None
    if type_name == "Ticket":
        t = await ctx.loaders.ticket_by_id.load(int(key))
        return Ticket.of(t) if t else None
    if type_name == "Assignment":
        a = await ctx.loaders.assignment_by_id.load(int(key))
        return Assignment.of(a) if a else None
    if type_name == "SupervisionCase":
        sc = await ctx.loaders.supervision_by_id.load(int(key))
        return SupervisionCase.of(sc) if sc else None
    if type_name == "SupervisionResponse":
        r = await ctx.loaders.supervision_response_by_id.load(int(key))
        if r is None:
            return None
        owner = await ctx.loaders.supervision_by_id.load(r.case_id)
        return SupervisionResponse.of(r, owner.deadline) if owner else None
    if type_name == "Meeting":
        mt = await ctx.loaders.meeting_by_id.load(int(key))
        return Meeting.of(mt) if mt else None
    if type_name in ("Notice", "AccountabilityReferral"):
        scope = ctx.require_principal().scope
        async with ctx.sessions() as s:
            if type_name == "Notice":
                (notice,) = await notices.notices_by_id(s, scope, [int(key)])
                return Notice.of(notice) if notice else None
            (referral,) = await accountability.referrals_by_id(s, scope, [int(key)])
            return AccountabilityReferral.of(referral) if referral else None
    if type_name == "Staff":
        vis = await ctx.visibility()
        async with ctx.sessions() as s:
            row = await s.get(StaffRow, int(key))
            if row is None:
                return None
            if row.unit_id is not None:
                unit = (await rq.units_by_id(s, vis, [row.unit_id]))[0]
                ok = unit is not None and vis.can_read_staff_of(unit)
            else:
                ok = row.centre_code in vis.staff_centres
        return Staff.of(row) if ok else None
    return None


@strawberry.type
class Query(
    RegistryQuery,
    TicketQuery,
    TicketAdminQuery,
    SupervisionQuery,
    MeetingQuery,
    PartnerQuery,
    AssessmentQuery,
    NoticeQuery,
    AnalysisQuery,
):
    @strawberry.field(description="Fetch any object by its global ID (Relay).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_principal()
        return await resolve_node(info, id)

    @strawberry.field(description="Fetch several objects by global ID, in order.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        info.context.require_principal()
        if len(ids) > info.context.settings.max_page_size:
            raise InvalidInput(f"at most {info.context.settings.max_page_size} ids", field="ids")
        return [await resolve_node(info, i) for i in ids]

    @strawberry.field(description="The viewer: roles per domain and scope summary.")
    async def me(self, info: Info) -> Viewer:
        return await viewer(info)


@strawberry.type
class Mutation(
    AccountMutation,
    RegistryMutation,
    TicketMutation,
    ReferralMutation,
    TicketAdminMutation,
    SupervisionMutation,
    MeetingMutation,
    PartnerMutation,
    AssessmentMutation,
    NoticeMutation,
    AnalysisMutation,
):
    pass


class PublicErrors(MaskErrors):
    """Mask unexpected errors; keep validation errors and domain errors readable, with a code."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for err in errors:
            orig = err.original_error
            if orig is None:  # parse and validation errors
                out.append(err)
            elif isinstance(orig, GraphQLError):  # bad variable values, coercion
                err.extensions = {**(err.extensions or {}), "code": "INVALID_INPUT"}
                out.append(err)
            elif isinstance(orig, DomainError):
                err.extensions = {**(err.extensions or {}), "code": orig.code}
                out.append(err)
            else:
                masked = self.anonymise_error(err)
                masked.extensions = {"code": "INTERNAL"}
                out.append(masked)
        return out


def _unexpected(err: GraphQLError) -> bool:
    orig = err.original_error
    return orig is not None and not isinstance(orig, DomainError | GraphQLError)


class YiwangSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log only unexpected errors (with their traceback); expected ones are data."""
        super().process_errors([e for e in errors if _unexpected(e)], execution_context)


def build_schema(settings: Settings) -> strawberry.Schema:
    return YiwangSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Centre, Unit, Staff, HistoryEntry, Ticket, Assignment, *ERROR_TYPES],
        extensions=[
            # Factories: each operation gets its own extension instance (they hold state).
            PublicErrors,
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )
