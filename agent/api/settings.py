"""Settings of the HTTP service only (prefix ``BIANQUE_API_``); the rest comes from :class:`Settings`."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Limits and access control of ``bianque serve``."""

    model_config = SettingsConfigDict(env_prefix="BIANQUE_API_", env_file=".env", extra="ignore")

    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    max_alerts: int = Field(default=500, ge=1, description="Most alerts accepted in one webhook call.")
    workers: int = Field(default=2, ge=1, description="Worker threads taking queued investigations (per process).")
    max_queued: int = Field(
        default=10_000,
        ge=1,
        description="Queued investigations (pending + running, all replicas) beyond which a webhook call that "
                    "would queue another answers 503.",
    )
    max_attempts: int = Field(default=3, ge=1, description="Tries of one queued investigation before it is failed.")
    retry_backoff_s: float = Field(
        default=30.0, ge=0, description="Wait before the first retry; doubled for each further one."
    )
    retry_backoff_max_s: float = Field(default=900.0, ge=0, description="Longest wait between retries.")
    lease_s: float = Field(
        default=120.0,
        ge=1,
        description="A running investigation whose worker stopped renewing it for this long is taken again.",
    )
    poll_s: float = Field(default=2.0, gt=0, description="How often idle workers look for queued work.")
    job_workers: int = Field(default=1, ge=1, description="Threads running background jobs (Skill refinements).")
    max_jobs: int = Field(
        default=8, ge=1, description="Unfinished background jobs (per process) beyond which a new one answers 503."
    )
    stop_grace_s: float = Field(
        default=30.0, ge=0, description="On stop, how long running investigations may take to finish."
    )
    token: SecretStr | None = Field(
        default=None,
        description="When set, every endpoint but /healthz (the docs included) needs 'Authorization: Bearer <token>'; "
                    "/healthz without it says only up or down.",
    )

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("set but empty: unset it (no token) or give a real token")
        return value
