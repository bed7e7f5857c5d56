"""Registry mutations: one ``input`` each, a payload with the object and typed ``errors``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from api.context import Info
from api.errors import UserError, to_user_error
from api.registry.types import Centre, CentreKind, Staff, Unit, UnitCategory
from api.relay import int_key
from domain.errors import DomainError
from domain.registry import service

T = TypeVar("T")


async def attempt(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a use case; expected failures come back as typed errors (nothing was changed)."""
    try:
        return await call(), []
    except DomainError as exc:
        return None, [to_user_error(exc)]


# ---- inputs --------------------------------------------------------------------------------
@strawberry.input
class CreateCentreInput:
    code: str
    name: str
    kind: CentreKind  # type: ignore[valid-type]
    parent_code: str
    division_code: str | None = None


@strawberry.input
class MoveCentreInput:
    code: str
    new_parent_code: str


@strawberry.input
class CreateUnitInput:
    name: str
    category: UnitCategory  # type: ignore[valid-type]
    member_of: str = strawberry.field(description="Code of the centre the unit joins.")
    short_name: str | None = None
    represents: str | None = strawberry.field(
        default=None, description="Code of a centre directly below, which this unit stands for."
    )


@strawberry.input
class UpdateUnitInput:
    unit_id: strawberry.ID
    name: str | None = None
    short_name: str | None = None
    category: UnitCategory | None = None  # type: ignore[valid-type]
    expected_version: int | None = None


@strawberry.input
class MoveUnitInput:
    unit_id: strawberry.ID
    to_centre: str


@strawberry.input
class UnitIdInput:
    unit_id: strawberry.ID


@strawberry.input
class CreateStaffInput:
    username: str
    display_name: str
    password: str
    phone: str | None = None
    centre_code: str | None = strawberry.field(default=None, description="For centre staff.")
    unit_id: strawberry.ID | None = strawberry.field(default=None, description="For unit staff.")
    roles: list[str] | None = None


@strawberry.input
class RoleInput:
    username: str
    role: str
    domain: str = strawberry.field(description="centre:<code>/ or unit:<id>/")


@strawberry.input
class SetReadDownInput:
    centre_code: str
    allowed: bool


# ---- payloads ------------------------------------------------------------------------------
@strawberry.type
class CentrePayload:
    centre: Centre | None
    errors: list[UserError]


@strawberry.type
class UnitPayload:
    unit: Unit | None
    errors: list[UserError]


@strawberry.type
class StaffPayload:
    staff: Staff | None
    errors: list[UserError]


def _centre(obj: Any, errors: list[UserError]) -> CentrePayload:
    return CentrePayload(centre=Centre.of(obj) if obj else None, errors=errors)


def _unit(obj: Any, errors: list[UserError]) -> UnitPayload:
    return UnitPayload(unit=Unit.of(obj) if obj else None, errors=errors)


def _staff(obj: Any, errors: list[UserError]) -> StaffPayload:
    return StaffPayload(staff=Staff.of(obj) if obj else None, errors=errors)


async def _set_active(info: Info, input: UnitIdInput, *, active: bool) -> UnitPayload:
    ctx = info.context
    return _unit(
        *await attempt(
            lambda: service.set_unit_active(
                uow=ctx.uow(),
                actor=ctx.require_principal(),
                unit_id=int_key(input.unit_id, "Unit", "unitId"),
                active=active,
            )
        )
    )


@strawberry.type
class RegistryMutation:
    @strawberry.mutation(description="Create a centre below a parent (the city's registry admin).")
    async def create_centre(self, info: Info, input: CreateCentreInput) -> CentrePayload:
        ctx = info.context
        return _centre(
            *await attempt(
                lambda: service.create_centre(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    code=input.code,
                    name=input.name,
                    kind=input.kind,
                    parent_code=input.parent_code,
                    division_code=input.division_code,
                )
            )
        )

    @strawberry.mutation(description="Move a centre under another parent; history is kept.")
    async def move_centre(self, info: Info, input: MoveCentreInput) -> CentrePayload:
        ctx = info.context
        return _centre(
            *await attempt(
                lambda: service.move_centre(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    code=input.code,
                    new_parent_code=input.new_parent_code,
                )
            )
        )

    @strawberry.mutation(description="Add a member unit to a centre you manage.")
    async def create_unit(self, info: Info, input: CreateUnitInput) -> UnitPayload:
        ctx = info.context
        return _unit(
            *await attempt(
                lambda: service.create_unit(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    name=input.name,
                    category=input.category,
                    member_of=input.member_of,
                    short_name=input.short_name,
                    represents=input.represents,
                )
            )
        )

    @strawberry.mutation(description="Rename a unit or change its category.")
    async def update_unit(self, info: Info, input: UpdateUnitInput) -> UnitPayload:
        ctx = info.context
        return _unit(
            *await attempt(
                lambda: service.update_unit(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    unit_id=int_key(input.unit_id, "Unit", "unitId"),
                    name=input.name,
                    short_name=input.short_name,
                    category=input.category,
                    expected_version=input.expected_version,
                )
            )
        )

    @strawberry.mutation(description="Move a unit to another centre (you must manage both).")
    async def move_unit(self, info: Info, input: MoveUnitInput) -> UnitPayload:
        ctx = info.context
        return _unit(
            *await attempt(
                lambda: service.move_unit(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    unit_id=int_key(input.unit_id, "Unit", "unitId"),
                    to_centre=input.to_centre,
                )
            )
        )

    @strawberry.mutation(description="Deactivate a unit: it stays in the registry and history.")
    async def deactivate_unit(self, info: Info, input: UnitIdInput) -> UnitPayload:
        return await _set_active(info, input, active=False)

    @strawberry.mutation(description="Reactivate a deactivated unit.")
    async def reactivate_unit(self, info: Info, input: UnitIdInput) -> UnitPayload:
        return await _set_active(info, input, active=True)

    @strawberry.mutation(description="Create an account for a centre's or a unit's staff.")
    async def create_staff(self, info: Info, input: CreateStaffInput) -> StaffPayload:
        ctx = info.context
        return _staff(
            *await attempt(
                lambda: service.create_staff(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    username=input.username,
                    display_name=input.display_name,
                    password=input.password,
                    phone=input.phone,
                    centre_code=input.centre_code,
                    unit_id=(int_key(input.unit_id, "Unit", "unitId") if input.unit_id else None),
                    roles=input.roles,
                )
            )
        )

    @strawberry.mutation(description="Grant a role in a domain (audited; all instances at once).")
    async def grant_role(self, info: Info, input: RoleInput) -> StaffPayload:
        ctx = info.context
        return _staff(
            *await attempt(
                lambda: service.grant_role(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    username=input.username,
                    role=input.role,
                    domain=input.domain,
                )
            )
        )

    @strawberry.mutation(description="Revoke a role in a domain (audited).")
    async def revoke_role(self, info: Info, input: RoleInput) -> StaffPayload:
        ctx = info.context
        return _staff(
            *await attempt(
                lambda: service.revoke_role(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    username=input.username,
                    role=input.role,
                    domain=input.domain,
                )
            )
        )

    @strawberry.mutation(
        description="Grant or withhold a centre's read access down its chain (never supervision)."
    )
    async def set_read_down(self, info: Info, input: SetReadDownInput) -> CentrePayload:
        ctx = info.context
        return _centre(
            *await attempt(
                lambda: service.set_read_down(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    centre_code=input.centre_code,
                    allowed=input.allowed,
                )
            )
        )
