"""Accounts: password hashing (argon2 through pwdlib) and authentication."""

from __future__ import annotations

from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope, compute_scope, user_subject
from authz.enforcer import PolicyEnforcer
from domain.registry.models import Staff

_hasher = PasswordHash.recommended()
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("yiwang-no-such-user")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return bool(_hasher.verify(password, password_hash))


@dataclass(frozen=True)
class Principal:
    """Who is acting: a staff member (or, later, an API client) with its scope."""

    username: str
    staff_id: int | None
    display_name: str
    scope: Scope

    @property
    def subject(self) -> str:
        return self.scope.subject


ANONYMOUS = Principal(username="", staff_id=None, display_name="", scope=Scope(subject=""))


async def authenticate(session: AsyncSession, username: str, password: str) -> Staff | None:
    staff = (
        await session.execute(select(Staff).where(Staff.username == username))
    ).scalar_one_or_none()
    if staff is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not staff.active or not verify_password(password, staff.password_hash):
        return None
    return staff


async def load_principal(
    session: AsyncSession, enforcer: PolicyEnforcer, username: str
) -> Principal | None:
    """The principal for an authenticated username, or None when the account is gone/inactive."""
    row = (
        await session.execute(
            select(Staff.id, Staff.display_name, Staff.active).where(Staff.username == username)
        )
    ).one_or_none()
    if row is None or not row.active:
        return None
    scope = compute_scope(enforcer, user_subject(username))
    return Principal(username=username, staff_id=row.id, display_name=row.display_name, scope=scope)
