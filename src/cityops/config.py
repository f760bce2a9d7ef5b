"""Settings, read from the environment (prefix ``CITYOPS_``) and passed explicitly into the app."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/cityops.db"


class Settings(BaseSettings):
    """Everything deployment-specific; one instance per process, handed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="CITYOPS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = Path("./var/data")
    timezone: str = "Asia/Shanghai"
    #: The district this installation serves (6-digit administrative code); the demo is Fengtai.
    district_code: str = Field(default="110106", pattern=r"^\d{6}$")

    working_hours: str = "08:30-12:00,13:00-17:30"
    #: CSV/YAML of dates that override the holiday library (next year's notice, local rest days).
    calendar_overrides: Path | None = None
    due_soon_fraction: float = Field(default=0.2, gt=0, lt=1)
    #: Whether the deadline clock stops while an extension request waits (a local rule).
    pause_during_extension_request: bool = True

    #: argon2id cost for new password hashes (tests lower it; production keeps the defaults).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=1024)
    token_ttl_minutes: int = Field(default=8 * 60, gt=0)
    max_failed_logins: int = Field(default=5, gt=0)
    lockout_minutes: int = Field(default=15, gt=0)
    #: Mixed into the audit chain so a copy of the database alone cannot re-forge it.
    audit_key: str = "development-audit-key"
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Front-end packages installed from the npm registry at set-up (served locally, never a CDN).
    vendor_dir: Path = Path("./node_modules")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "production" and self.audit_key == "development-audit-key":
            raise ValueError("CITYOPS_AUDIT_KEY must be set to a secret value in production")
        return self

    @cached_property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
