"""Notice queries (filled in by the notices work)."""

from __future__ import annotations

import strawberry


@strawberry.type
class NoticeQuery:
    pass
