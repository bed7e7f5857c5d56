"""Assessment mutations (filled in by the assessment work)."""

from __future__ import annotations

import strawberry


@strawberry.type
class AssessmentMutation:
    pass
