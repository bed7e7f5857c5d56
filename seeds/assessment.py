"""The default scoring scheme (version 1), documented in docs/ASSESSMENT.md. Idempotent: an
existing version 1 — possibly superseded by later versions — is never touched."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.assessment.models import ScoringScheme
from domain.assessment.scheme import parse_scheme
from seeds.registry import Progress

DEFAULT_SCHEME_PATH = Path(__file__).resolve().parent / "data" / "scoring_scheme_default.json"
# In force from the regulation's year, so every month the platform holds is covered.
DEFAULT_EFFECTIVE_FROM = date(2022, 1, 1)


def default_scheme_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(DEFAULT_SCHEME_PATH.read_text(encoding="utf-8"))
    parse_scheme(body)  # the seed must itself be valid
    return body


async def seed_scoring_scheme(
    session: AsyncSession, progress: Progress | None = None
) -> dict[str, int]:
    say = progress or (lambda _msg: None)
    say("scoring scheme")
    res = await session.execute(
        insert(ScoringScheme)
        .values(
            version=1,
            name="默认考核方案 (docs/ASSESSMENT.md)",
            effective_from=DEFAULT_EFFECTIVE_FROM,
            body=default_scheme_body(),
            note="Default weights, thresholds and cliffs; see docs/ASSESSMENT.md.",
            created_by="seed",
        )
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(ScoringScheme.id)
    )
    return {"scoring_schemes": len(res.all())}
