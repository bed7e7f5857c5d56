"""Settings from the environment (prefix ``YIWANG_``) via pydantic-settings."""

from __future__ import annotations

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

    def resolved_jwt_secret(self) -> str:
        """The JWT secret: given, or generated once into the data folder and reused."""
        if self.jwt_secret:
            return self.jwt_secret
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
