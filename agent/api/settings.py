"""Settings of the HTTP service only (prefix ``BIANQUE_API_``); the rest comes from :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Limits and access control of ``bianque serve``."""

    model_config = SettingsConfigDict(env_prefix="BIANQUE_API_", env_file=".env", extra="ignore")

    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    max_alerts: int = Field(default=500, ge=1, description="Most alerts accepted in one webhook call.")
    workers: int = Field(default=2, ge=1, description="Investigations run at the same time (webhook).")
    max_pending: int = Field(default=32, ge=0, description="Investigations waiting for a worker.")
    token: SecretStr | None = Field(
        default=None,
        description="When set, every endpoint but /healthz (the docs included) needs 'Authorization: Bearer <token>'.",
    )

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("BIANQUE_API_TOKEN is set but empty: unset it (no token) or give a real token")
        return value
