"""Unit of work: one transaction per use case; repositories never commit on their own."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authz.enforcer import PolicyEnforcer
from domain.idempotency import remember


class UnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        enforcer: PolicyEnforcer,
        *,
        idempotency: tuple[str, str, str] | None = None,
    ) -> None:
        self._sessions = sessions
        self.enforcer = enforcer
        self.policy_changed = False
        # (subject, key, operation): remembered in the same transaction as the change.
        self.idempotency = idempotency
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use the unit of work inside 'async with'"
        return self._session

    def read_session(self) -> AsyncSession:
        """A separate session for what a use case reads before its own transaction."""
        return self._sessions()

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        await self._session.begin()
        self.policy_changed = False
        return self

    async def commit(self, result: tuple[str, int] | None = None) -> None:
        """Commit once. ``result`` (type, id) is what an idempotent replay will return."""
        if self.idempotency is not None and result is not None:
            subject, key, operation = self.idempotency
            await remember(self.session, subject, key, operation, result)
        await self.session.commit()
        if self.policy_changed:
            # This instance sees its own change at once; the others get the NOTIFY.
            await self.enforcer.load()
            self.policy_changed = False

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None
