"""Login and the viewer (``me``)."""

from __future__ import annotations

import strawberry

from api.auth import issue_token
from api.context import Info
from api.errors import UnauthenticatedError, UserError
from api.registry.types import RoleGrant, Staff
from domain.accounts import authenticate
from domain.registry import queries as rq


@strawberry.type(description="What the viewer may see and do, by centre code and unit id.")
class ScopeSummary:
    member_centres: list[str] = strawberry.field(description="Centres whose members you may read.")
    units: list[int] = strawberry.field(description="Units you belong to (by internal id).")
    manages: list[str] = strawberry.field(description="Centres whose members you manage.")
    supervises: list[str] = strawberry.field(description="Centres whose members you supervise.")
    read_down_from: list[str] = strawberry.field(description="Centres read down their chain.")


@strawberry.type(description="The logged-in viewer.")
class Viewer:
    username: str
    display_name: str
    roles: list[RoleGrant]
    scope: ScopeSummary

    @strawberry.field
    async def staff(self, info: Info) -> Staff | None:
        async with info.context.sessions() as s:
            row = await rq.staff_by_username(s, self.username)
        return Staff.of(row) if row else None


async def viewer(info: Info) -> Viewer:
    ctx = info.context
    p = ctx.require_principal()
    vis = await ctx.visibility()
    sc = p.scope
    return Viewer(
        username=p.username,
        display_name=p.display_name,
        roles=[RoleGrant(role=r, domain=d) for d in sorted(sc.roles) for r in sorted(sc.roles[d])],
        scope=ScopeSummary(
            member_centres=sorted(vis.member_centres),
            units=sorted(vis.unit_ids),
            manages=sorted(sc.centres_for("unit", "manage")),
            supervises=sorted(sc.centres_for("unit", "supervise")),
            read_down_from=sorted(sc.read_down_from),
        ),
    )


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.type
class LoginPayload:
    token: str | None
    errors: list[UserError]


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Exchange username and password for a bearer token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        ctx = info.context
        async with ctx.sessions() as s:
            staff = await authenticate(s, input.username.strip().lower(), input.password)
        if staff is None:
            err = UnauthenticatedError(
                code="UNAUTHENTICATED", message="wrong username or password", field=None
            )
            return LoginPayload(token=None, errors=[err])
        return LoginPayload(token=issue_token(ctx.settings, staff.username), errors=[])
