"""GraphQL types for API clients (integration partners)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError
from api.relay import to_global_id
from api.tickets.types import Channel
from domain.partners import models as m
from domain.tickets.models import Channel as ChannelValue


@strawberry.type(description="接入方: a partner system acting as role partner in one centre.")
class ApiClient:
    id: strawberry.ID
    name: str
    centre_code: str
    channels: list[Channel]  # type: ignore[valid-type]
    token_prefix: str = strawberry.field(description="The token's first 8 characters.")
    active: bool
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, c: m.ApiClient) -> ApiClient:
        return cls(
            id=to_global_id("ApiClient", c.id),
            name=c.name,
            centre_code=c.centre_code,
            channels=[ChannelValue(ch) for ch in c.channels],
            token_prefix=c.token_prefix,
            active=c.active,
            created_at=c.created_at,
            rotated_at=c.rotated_at,
            revoked_at=c.revoked_at,
        )


@strawberry.type
class ApiClientTokenPayload:
    client: ApiClient | None
    token: str | None = strawberry.field(
        description="The bearer token: shown here once, stored only as its hash."
    )
    errors: list[UserError]


@strawberry.type
class ApiClientPayload:
    client: ApiClient | None
    errors: list[UserError]
