"""API clients: created, rotated and revoked by a centre's admins; authenticated by token.

A client acts as subject ``client:<id>`` with role ``partner`` (and, with READ_CENTRE_TICKETS,
``partner_reader``) in its centre's domain; the grouping rules are written in the same
transaction as the client. The token is shown once and stored only as its SHA-256: tokens are
long random secrets, so a fast hash is enough. Events never carry the token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import centre_domain, centre_obj, compute_scope
from authz import store as policy_store
from authz.enforcer import PolicyEnforcer
from domain import events
from domain.accounts import Principal
from domain.calendar import TZ
from domain.errors import Conflict, InvalidInput, NotFound
from domain.partners.models import ApiClient
from domain.registry.models import Centre
from domain.registry.service import clean_name
from domain.tickets.models import Channel
from domain.uow import UnitOfWork

TOKEN_PREFIX = "yw_"
CLIENT_PREFIX = "client:"
# Extra permissions a client may be given, each as the role it grants in the centre's domain.
PERMISSIONS: dict[str, str] = {"READ_CENTRE_TICKETS": "partner_reader"}
BASE_ROLE = "partner"
CLIENT_ROLES = (BASE_ROLE, *PERMISSIONS.values())


def client_subject(client_id: int) -> str:
    return f"{CLIENT_PREFIX}{client_id}"


def is_client_subject(subject: str) -> bool:
    return subject.startswith(CLIENT_PREFIX)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def client_snapshot(c: ApiClient) -> dict[str, Any]:
    # Never the token nor its hash: only the display prefix.
    return {
        "id": c.id,
        "name": c.name,
        "centreCode": c.centre_code,
        "channels": list(c.channels),
        "tokenPrefix": c.token_prefix,
        "active": c.active,
    }


def _clean_channels(channels: Sequence[str]) -> list[str]:
    out: list[str] = []
    for ch in channels:
        value = str(getattr(ch, "value", ch))
        if value not in Channel.__members__.values():
            raise InvalidInput(f"unknown channel {value}", field="channels")
        if value not in out:
            out.append(value)
    if not out:
        raise InvalidInput("give at least one channel", field="channels")
    return out


def _clean_permissions(permissions: Sequence[str]) -> list[str]:
    out = sorted(set(permissions))
    for p in out:
        if p not in PERMISSIONS:
            raise InvalidInput(
                f"unknown permission {p}; known: {', '.join(PERMISSIONS)}", field="permissions"
            )
    return out


def _may_administer(uow: UnitOfWork, actor: Principal, centre_code: str) -> bool:
    """The same check as granting a role in the centre: its centre admins."""
    return uow.enforcer.allowed(actor.subject, "role", centre_obj(centre_code), "grant")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(TZ)


async def create_api_client(
    *,
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    centre_code: str,
    channels: Sequence[str],
    permissions: Sequence[str] = (),
) -> tuple[ApiClient, str]:
    """A new client and its token; the token is returned here once and never again."""
    name = clean_name(name)
    chans = _clean_channels(channels)
    perms = _clean_permissions(permissions)
    async with uow:
        s = uow.session
        if not _may_administer(uow, actor, centre_code) or await s.get(Centre, centre_code) is None:
            raise NotFound("centre not found")
        token = new_token()
        client = ApiClient(
            name=name,
            centre_code=centre_code,
            channels=chans,
            token_hash=hash_token(token),
            token_prefix=token[:8],
            active=True,
            created_by=actor.subject,
        )
        s.add(client)
        await s.flush()
        domain = centre_domain(centre_code)
        roles = [BASE_ROLE, *(PERMISSIONS[p] for p in perms)]
        subject = client_subject(client.id)
        n = await policy_store.add_rules(s, "g", [[subject, r, domain] for r in roles])
        uow.policy_changed |= n > 0
        await events.record(
            s,
            type="api_client.created",
            actor=actor.subject,
            entity_type="api_client",
            entity_id=client.id,
            before=None,
            after={**client_snapshot(client), "permissions": perms, "roles": roles},
            domains=[domain],
        )
        await uow.commit()
        return client, token


async def _client_for_update(uow: UnitOfWork, actor: Principal, client_id: int) -> ApiClient:
    client = (
        await uow.session.execute(
            select(ApiClient).where(ApiClient.id == client_id).with_for_update()
        )
    ).scalar_one_or_none()
    if client is None or not _may_administer(uow, actor, client.centre_code):
        raise NotFound("api client not found")
    return client


async def rotate_api_client_token(
    *, uow: UnitOfWork, actor: Principal, client_id: int, now: datetime | None = None
) -> tuple[ApiClient, str]:
    """A new token; the old one stops working at once."""
    async with uow:
        client = await _client_for_update(uow, actor, client_id)
        if not client.active:
            raise Conflict("the api client is revoked")
        before = client_snapshot(client)
        token = new_token()
        client.token_hash = hash_token(token)
        client.token_prefix = token[:8]
        client.rotated_at = _now(now)
        await uow.session.flush()
        await events.record(
            uow.session,
            type="api_client.token_rotated",
            actor=actor.subject,
            entity_type="api_client",
            entity_id=client.id,
            before=before,
            after=client_snapshot(client),
            domains=[centre_domain(client.centre_code)],
        )
        await uow.commit()
        return client, token


async def revoke_api_client(
    *, uow: UnitOfWork, actor: Principal, client_id: int, now: datetime | None = None
) -> ApiClient:
    """Inactive for good; its roles are removed. Revoking a revoked client changes nothing."""
    async with uow:
        s = uow.session
        client = await _client_for_update(uow, actor, client_id)
        if not client.active:
            return client
        before = client_snapshot(client)
        client.active = False
        client.revoked_at = _now(now)
        domain = centre_domain(client.centre_code)
        subject = client_subject(client.id)
        n = await policy_store.remove_rules(s, "g", [[subject, r, domain] for r in CLIENT_ROLES])
        uow.policy_changed |= n > 0
        await s.flush()
        await events.record(
            s,
            type="api_client.revoked",
            actor=actor.subject,
            entity_type="api_client",
            entity_id=client.id,
            before=before,
            after=client_snapshot(client),
            domains=[domain],
        )
        await uow.commit()
        return client


async def list_api_clients(
    session: AsyncSession, enforcer: PolicyEnforcer, actor: Principal, centre_code: str
) -> list[ApiClient]:
    """A centre's clients, for its admins (anyone else sees none)."""
    if not enforcer.allowed(actor.subject, "role", centre_obj(centre_code), "grant"):
        return []
    rows = await session.execute(
        select(ApiClient).where(ApiClient.centre_code == centre_code).order_by(ApiClient.id)
    )
    return list(rows.scalars())


async def load_client_principal(
    session: AsyncSession, enforcer: PolicyEnforcer, token: str
) -> Principal | None:
    """The principal of an active client's token, or None (unknown, rotated away, revoked)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await session.execute(
            select(ApiClient.id, ApiClient.name).where(
                ApiClient.token_hash == hash_token(token), ApiClient.active.is_(True)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    subject = client_subject(row.id)
    scope = compute_scope(enforcer, subject)
    return Principal(username=subject, staff_id=None, display_name=row.name, scope=scope)


async def check_partner_channel(session: AsyncSession, subject: str, channel: Channel) -> None:
    """A client creates tickets only for its own channels (staff are not limited here)."""
    if not is_client_subject(subject):
        return
    key = subject[len(CLIENT_PREFIX) :]
    client = await session.get(ApiClient, int(key)) if key.isdigit() else None
    if client is None or not client.active or channel.value not in client.channels:
        raise InvalidInput(
            f"this client may not create tickets for channel {channel.value}", field="channel"
        )
