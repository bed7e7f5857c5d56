"""Settings from the environment (prefix ``YIWANG_``) via pydantic-settings."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIWANG_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means an embedded PostgreSQL (pgserver) in data_dir.",
    )
    data_dir: Path = Field(default=Path(".yiwang"))
    jwt_secret: str | None = None
    jwt_ttl_seconds: int = 12 * 3600
    jwt_issuer: str = "yiwang"
    demo: bool = False
    max_body_bytes: int = 1_000_000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_page_size: int = 100
    policy_reload_seconds: float = 60.0
    # The deadline sweeper (deemed acceptance, overdue, reminders) inside each server instance.
    sweeper_enabled: bool = True
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    # Subscriptions (graphql-transport-ws): limits and the event hub's safety poll.
    max_subscriptions_per_connection: int = Field(default=20, gt=0)
    max_connections_per_principal: int = Field(default=10, gt=0)
    subscription_max_pending: int = Field(
        default=5_000, gt=0, description="Events a subscriber may lag before it is cut off."
    )
    event_poll_seconds: float = Field(default=5.0, gt=0)

    def resolved_jwt_secret(self) -> str:
        """The JWT secret: given, or generated once into the data folder and reused."""
        if self.jwt_secret:
            return self.jwt_secret
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            # Several workers may start at once: the first link wins, the others read it.
            tmp = self.data_dir / f"jwt-secret.{os.getpid()}.{secrets.token_hex(4)}"
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
