"""API client mutations: create, rotate the token, revoke (a centre's admins)."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from api.context import Info
from api.errors import UserError
from api.partners.types import ApiClient, ApiClientPayload, ApiClientTokenPayload
from api.registry.mutations import attempt
from api.relay import int_key
from api.tickets.types import Channel
from domain.partners import service


@strawberry.enum(description="Extra permissions of an API client.")
class ApiClientPermission(enum.StrEnum):
    READ_CENTRE_TICKETS = "READ_CENTRE_TICKETS"


@strawberry.input
class CreateApiClientInput:
    name: str
    centre_code: str
    channels: list[Channel]  # type: ignore[valid-type]
    permissions: list[ApiClientPermission] = strawberry.field(default_factory=list)


@strawberry.input
class ApiClientIdInput:
    client_id: strawberry.ID


def _with_token(result: Any, errors: list[UserError]) -> ApiClientTokenPayload:
    if result is None:
        return ApiClientTokenPayload(client=None, token=None, errors=errors)
    client, token = result
    return ApiClientTokenPayload(client=ApiClient.of(client), token=token, errors=errors)


@strawberry.type
class PartnerMutation:
    @strawberry.mutation(
        description="Create an API client for a centre (its admins); the token is shown once."
    )
    async def create_api_client(
        self, info: Info, input: CreateApiClientInput
    ) -> ApiClientTokenPayload:
        ctx = info.context
        return _with_token(
            *await attempt(
                lambda: service.create_api_client(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    name=input.name,
                    centre_code=input.centre_code,
                    channels=[str(c) for c in input.channels],
                    permissions=[p.value for p in input.permissions],
                )
            )
        )

    @strawberry.mutation(description="A new token for an API client; the old one stops working.")
    async def rotate_api_client_token(
        self, info: Info, input: ApiClientIdInput
    ) -> ApiClientTokenPayload:
        ctx = info.context
        return _with_token(
            *await attempt(
                lambda: service.rotate_api_client_token(
                    uow=ctx.uow(),
                    actor=ctx.require_principal(),
                    client_id=int_key(input.client_id, "ApiClient", "clientId"),
                )
            )
        )

    @strawberry.mutation(description="Revoke an API client: its token and roles stop at once.")
    async def revoke_api_client(self, info: Info, input: ApiClientIdInput) -> ApiClientPayload:
        ctx = info.context
        client, errors = await attempt(
            lambda: service.revoke_api_client(
                uow=ctx.uow(),
                actor=ctx.require_principal(),
                client_id=int_key(input.client_id, "ApiClient", "clientId"),
            )
        )
        return ApiClientPayload(client=ApiClient.of(client) if client else None, errors=errors)
