"""API clients: a partner system's bearer token (stored only as its SHA-256) and its channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base


class ApiClient(Base):
    """接入方: acts as subject ``client:<id>`` with role ``partner`` in its centre's domain."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    centre_code: Mapped[str] = mapped_column(
        ForeignKey("centre.code", ondelete="RESTRICT"), nullable=False, index=True
    )
    # Channel values (domain.tickets.models.Channel) the client may create tickets for.
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    # sha256 hex of the token: tokens are long random secrets, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    token_prefix: Mapped[str] = mapped_column(String(8), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
