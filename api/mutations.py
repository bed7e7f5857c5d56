"""The one way a mutation runs a use case: typed errors and idempotent replays."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from api.context import Context, Info
from api.errors import UserError, to_user_error
from domain import idempotency as idem
from domain.assessment import models as am
from domain.assessment import notice_models as nm
from domain.errors import DomainError
from domain.supervision import models as sm
from domain.tickets import models as tm
from domain.uow import UnitOfWork

Loaded = tuple[Any, list[UserError]]

# What a use case may name as its result (type, id); a replay loads it again by id.
RESULT_MODELS: dict[str, type[Any]] = {
    "Ticket": tm.Ticket,
    "Assignment": tm.Assignment,
    "Reply": tm.Reply,
    "SupervisionCase": sm.SupervisionCase,
    "SupervisionResponse": sm.SupervisionResponse,
    "Meeting": sm.Meeting,
    "MeetingDecision": sm.MeetingDecision,
    "Notice": nm.Notice,
    "AccountabilityReferral": nm.AccountabilityReferral,
    "AssessmentRun": am.AssessmentRun,
    "AttentionScore": am.AttentionScore,
    "ScoringScheme": am.ScoringScheme,
}


async def _load(ctx: Context, result: tuple[str, int]) -> Any:
    kind, pk = result
    async with ctx.sessions() as s:
        return await s.get(RESULT_MODELS[kind], pk)


async def run(
    info: Info,
    operation: str,
    key: str | None,
    call: Callable[[UnitOfWork], Awaitable[Any]],
) -> Loaded:
    """Run a use case; typed errors for expected failures; a replayed key returns the first
    result without running anything."""
    ctx = info.context
    try:
        principal = ctx.require_principal()
        if key is None:
            return await call(ctx.uow()), []
        key = idem.check_key(key)
        async with ctx.sessions() as s:
            hit = await idem.lookup(s, principal.subject, key, operation)
        if hit is not None:
            return await _load(ctx, hit), []
        try:
            return await call(ctx.uow((principal.subject, key, operation))), []
        except IntegrityError:
            # A concurrent request with the same key won the race: answer as its replay.
            async with ctx.sessions() as s:
                hit = await idem.lookup(s, principal.subject, key, operation)
            if hit is None:
                raise
            return await _load(ctx, hit), []
    except DomainError as exc:
        return None, [to_user_error(exc)]
