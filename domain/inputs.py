"""Small input rules every use case shares: an aware "now", and trimmed, bounded text."""

from __future__ import annotations

from datetime import datetime

from domain.calendar import TZ
from domain.errors import InvalidInput


def aware_now(now: datetime | None) -> datetime:
    """``now`` (timezone-aware, else ValueError: a programming error), or the current time."""
    if now is None:
        return datetime.now(TZ)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def clean_text(value: str | None, field_name: str, max_len: int, *, required: bool) -> str | None:
    """Trimmed text; empty is None unless required (then InvalidInput), and at most max_len."""
    v = (value or "").strip()
    if not v:
        if required:
            raise InvalidInput(f"{field_name} must not be empty", field=field_name)
        return None
    if len(v) > max_len:
        raise InvalidInput(f"{field_name} is longer than {max_len} characters", field=field_name)
    return v
