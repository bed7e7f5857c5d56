"""Ticket reference data for administrators: categories, routing rules and time limits.

Mutations are the city centre_admin's (anyone else gets NotFoundError); the queries are open
to every logged-in account, since the data is city-wide reference data (a rule's unit is shown
only when it is within your scope).
"""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import UserError
from api.mutations import run
from api.registry.types import Unit
from api.relay import Connection, connection, int_key, to_global_id
from api.tickets.types import Category, Channel, Urgency
from domain import calendar as cal
from domain.errors import InvalidInput
from domain.pagination import clamp_first
from domain.tickets import admin as ta
from domain.tickets import models as m
from domain.tickets import routing
from domain.uow import UnitOfWork

LimitUnit = strawberry.enum(
    cal.LimitUnit,
    description="MINUTES, HOURS and NATURAL_DAYS run on the clock; WORKING_DAYS skip rest days.",
)


# ---- types -------------------------------------------------------------------------------------
@strawberry.type(description="A time limit: an amount of a unit (e.g. 1 WORKING_DAYS).")
class TimeLimitValue:
    amount: int
    unit: LimitUnit  # type: ignore[valid-type]


@strawberry.type(description="The time limits of a channel and urgency (§4(1)), with their source.")
class TimeLimit:
    channel: Channel  # type: ignore[valid-type]
    urgency: Urgency  # type: ignore[valid-type]
    sign_for: TimeLimitValue
    handle: TimeLimitValue
    return_window: TimeLimitValue
    source: str

    @classmethod
    def of(cls, t: m.TimeLimitRule) -> TimeLimit:
        return cls(
            channel=t.channel,
            urgency=t.urgency,
            sign_for=TimeLimitValue(amount=t.sign_for_amount, unit=cal.LimitUnit(t.sign_for_unit)),
            handle=TimeLimitValue(amount=t.handle_amount, unit=cal.LimitUnit(t.handle_unit)),
            return_window=TimeLimitValue(
                amount=t.return_window_amount, unit=cal.LimitUnit(t.return_window_unit)
            ),
            source=t.source,
        )


@strawberry.type(
    description="Tickets of a category (and its subcategories), optionally in a division, are "
    "proposed to a unit. Removed rules stay, inactive."
)
class RoutingRule:
    id: strawberry.ID
    unit_pk: strawberry.Private[int]
    category_code: str
    division_prefix: str | None = strawberry.field(description="Null: the whole city.")
    priority: int = strawberry.field(description="Lower is preferred among equal specificity.")
    note: str | None
    active: bool
    specificity: int = strawberry.field(
        description="100 × category depth + division prefix length: the higher wins."
    )

    @classmethod
    def of(cls, r: m.RoutingRule) -> RoutingRule:
        return cls(
            id=to_global_id("RoutingRule", r.id),
            unit_pk=r.unit_id,
            category_code=r.category_code,
            division_prefix=r.division_prefix,
            priority=r.priority,
            note=r.note,
            active=r.active,
            specificity=routing.rule_score(
                routing.Rule(
                    rule_id=r.id,
                    category_code=r.category_code,
                    division_prefix=r.division_prefix,
                    unit_id=r.unit_id,
                    priority=r.priority,
                    note=r.note,
                )
            ),
        )

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        c = await info.context.loaders.category_by_code.load(self.category_code)
        return Category.of(c) if c else None

    @strawberry.field(description="Null when the unit is outside your scope.")
    async def unit(self, info: Info) -> Unit | None:
        u = await info.context.loaders.unit_by_id.load(self.unit_pk)
        return Unit.of(u) if u else None


# ---- payloads ----------------------------------------------------------------------------------
@strawberry.type
class CategoryPayload:
    category: Category | None
    active: bool | None = strawberry.field(description="Whether the category takes new tickets.")
    errors: list[UserError]


@strawberry.type
class RoutingRulePayload:
    routing_rule: RoutingRule | None
    errors: list[UserError]


@strawberry.type
class TimeLimitPayload:
    time_limit: TimeLimit | None
    errors: list[UserError]


# ---- inputs ------------------------------------------------------------------------------------
@strawberry.input
class CreateCategoryInput:
    code: str = strawberry.field(description="CM (top level) or CM.STREET_VENDING (under CM).")
    parent_code: str | None = None
    name_zh: str
    name_en: str


@strawberry.input
class UpdateCategoryInput:
    code: str
    name_zh: str | None = None
    name_en: str | None = None
    active: bool | None = None


@strawberry.input
class SetRoutingRuleInput:
    category_code: str
    division_prefix: str | None = strawberry.field(
        default=None, description="1–12 digits of a division code; empty or null: the whole city."
    )
    unit_id: strawberry.ID
    priority: int = 100
    note: str | None = None


@strawberry.input
class RemoveRoutingRuleInput:
    rule_id: strawberry.ID


@strawberry.input
class TimeLimitValueInput:
    amount: int
    unit: LimitUnit  # type: ignore[valid-type]


@strawberry.input
class SetTimeLimitInput:
    channel: Channel  # type: ignore[valid-type]
    urgency: Urgency  # type: ignore[valid-type]
    sign_for: TimeLimitValueInput
    handle: TimeLimitValueInput
    return_window: TimeLimitValueInput
    source: str = strawberry.field(description="Where these numbers come from (a clause, …).")


def _span(value: TimeLimitValueInput, field: str) -> cal.TimeLimit:
    try:
        return cal.TimeLimit(value.amount, cal.LimitUnit(value.unit))
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be at least 0", field=f"{field}.amount") from None


def _category(result: tuple[m.Category | None, list[UserError]]) -> CategoryPayload:
    obj, errors = result
    return CategoryPayload(
        category=Category.of(obj) if obj else None,
        active=obj.active if obj else None,
        errors=errors,
    )


def _rule(result: tuple[m.RoutingRule | None, list[UserError]]) -> RoutingRulePayload:
    obj, errors = result
    return RoutingRulePayload(routing_rule=RoutingRule.of(obj) if obj else None, errors=errors)


def _limit(result: tuple[m.TimeLimitRule | None, list[UserError]]) -> TimeLimitPayload:
    obj, errors = result
    return TimeLimitPayload(time_limit=TimeLimit.of(obj) if obj else None, errors=errors)


# ---- mutations ---------------------------------------------------------------------------------
@strawberry.type
class TicketAdminMutation:
    @strawberry.mutation(description="Add a category to the taxonomy (the city's centre admin).")
    async def create_category(self, info: Info, input: CreateCategoryInput) -> CategoryPayload:
        p = info.context.principal
        return _category(
            await run(
                info,
                "createCategory",
                None,
                lambda uow: ta.create_category(
                    uow=uow,
                    actor=p,
                    code=input.code,
                    parent_code=input.parent_code,
                    name_zh=input.name_zh,
                    name_en=input.name_en,
                ),
            )
        )

    @strawberry.mutation(description="Rename a category or (de)activate it; null = unchanged.")
    async def update_category(self, info: Info, input: UpdateCategoryInput) -> CategoryPayload:
        p = info.context.principal
        return _category(
            await run(
                info,
                "updateCategory",
                None,
                lambda uow: ta.update_category(
                    uow=uow,
                    actor=p,
                    code=input.code,
                    name_zh=input.name_zh,
                    name_en=input.name_en,
                    active=input.active,
                ),
            )
        )

    @strawberry.mutation(
        description="Create the rule (category, division prefix, unit) or update its priority and "
        "note; a removed rule comes back."
    )
    async def set_routing_rule(self, info: Info, input: SetRoutingRuleInput) -> RoutingRulePayload:
        p = info.context.principal
        return _rule(
            await run(
                info,
                "setRoutingRule",
                None,
                lambda uow: ta.set_routing_rule(
                    uow=uow,
                    actor=p,
                    category_code=input.category_code,
                    division_prefix=input.division_prefix,
                    unit_id=int_key(input.unit_id, "Unit", "unitId"),
                    priority=input.priority,
                    note=input.note,
                ),
            )
        )

    @strawberry.mutation(description="Deactivate a routing rule (it is kept, for the history).")
    async def remove_routing_rule(
        self, info: Info, input: RemoveRoutingRuleInput
    ) -> RoutingRulePayload:
        p = info.context.principal
        return _rule(
            await run(
                info,
                "removeRoutingRule",
                None,
                lambda uow: ta.remove_routing_rule(
                    uow=uow, actor=p, rule_id=int_key(input.rule_id, "RoutingRule", "ruleId")
                ),
            )
        )

    @strawberry.mutation(
        description="Set a channel's time limits for an urgency (§4(1)); the next dispatch uses "
        "them, existing assignments keep their deadlines."
    )
    async def set_time_limit(self, info: Info, input: SetTimeLimitInput) -> TimeLimitPayload:
        p = info.context.principal

        async def call(uow: UnitOfWork) -> m.TimeLimitRule:
            return await ta.set_time_limit(
                uow=uow,
                actor=p,
                channel=m.Channel(input.channel),
                urgency=m.Urgency(input.urgency),
                sign_for=_span(input.sign_for, "signFor"),
                handle=_span(input.handle, "handle"),
                return_window=_span(input.return_window, "returnWindow"),
                source=input.source,
            )

        return _limit(await run(info, "setTimeLimit", None, call))


# ---- queries -----------------------------------------------------------------------------------
@strawberry.type
class TicketAdminQuery:
    @strawberry.field(
        description="Routing rules by id; a top-level category code includes its subcategories."
    )
    async def routing_rules(
        self,
        info: Info,
        category_code: str | None = None,
        include_inactive: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RoutingRule]:
        ctx = info.context
        ctx.require_principal()
        n = clamp_first(first, ctx.settings.max_page_size)
        async with ctx.sessions() as s:
            page = await ta.list_routing_rules(
                s,
                category_code=category_code,
                include_inactive=include_inactive,
                first=n,
                after=after,
            )
        return connection(page, RoutingRule.of)  # type: ignore[arg-type]

    @strawberry.field(description="The time limits of every channel and urgency.")
    async def time_limits(self, info: Info) -> list[TimeLimit]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.sessions() as s:
            rows = await ta.list_time_limits(s)
        return [TimeLimit.of(r) for r in rows]
