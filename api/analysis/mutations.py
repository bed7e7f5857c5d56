"""Analysis mutations (filled in by the analysis work)."""

from __future__ import annotations

import strawberry


@strawberry.type
class AnalysisMutation:
    pass
