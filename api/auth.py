"""Bearer tokens for staff: JWT (HS256) signed with the instance's secret."""

from __future__ import annotations

import time
from typing import Any

import jwt

from domain.settings import Settings


def issue_token(settings: Settings, username: str, *, ttl: int | None = None) -> str:
    now = int(time.time())
    claims = {
        "sub": username,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + (ttl if ttl is not None else settings.jwt_ttl_seconds),
        "typ": "staff",
    }
    return jwt.encode(claims, settings.resolved_jwt_secret(), algorithm="HS256")


def decode_token(settings: Settings, token: str) -> dict[str, Any] | None:
    """The claims of a valid token, or None (expired, forged, malformed)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.resolved_jwt_secret(),
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    return claims


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
