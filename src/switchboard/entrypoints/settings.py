"""Configuration, read from ``SWITCHBOARD_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.adapters.postgres.embedded import default_data_dir

SIGNING_KEY_FILE = "token-signing-key"
ENCRYPTION_KEY_FILE = "encryption-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    storage: Literal["postgres", "memory"] = "postgres"
    # The owner's connection URL (migrations run as this user). Unset: the embedded server.
    database_url: str | None = None
    # Password of the application role, when the server asks for one.
    database_app_password: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=100)
    data_dir: Path = Field(default_factory=default_data_dir)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    server: Literal["uvicorn", "hypercorn"] = "uvicorn"

    # At least 32 bytes. Unset: a random key kept in the data directory, shared by the workers.
    token_signing_key: SecretStr | None = None
    # Fernet keys, comma-separated; the first seals, any opens (rotate by putting a new key
    # first). Unset: one generated key kept in the data directory.
    encryption_keys: SecretStr | None = None
    # Let outbound webhooks reach loopback addresses (and plain http): local development only.
    webhooks_allow_loopback: bool = False
    access_token_lifetime_seconds: int = Field(default=900, ge=60, le=86_400)
    # Where failed-attempt counters live: "memory://" (this process only) or a Redis URL such
    # as "async+redis://127.0.0.1:6379/0", so that every instance shares them.
    rate_limit_storage_url: str = "memory://"
    # The web app people open mailed links in, and this API's own public address (the
    # redirect target outside sign-in providers send people back to).
    app_url: str = "http://127.0.0.1:8000"
    public_url: str = "http://127.0.0.1:8000"
    # Outside sign-in providers, by plugin slug: {"google": {"client_id": ..., ...}}.
    sign_in_providers: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)
    # The operator's OAuth clients for tenants' calendars, by plugin slug:
    # {"google_calendar": {"client_id": ..., "client_secret": ...}, "outlook_calendar": {...}}.
    calendar_providers: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)
    # Minutes between two syncs of a linked calendar; seconds a calendar's busy times are cached.
    calendar_sync_minutes: int = Field(default=5, ge=1, le=1440)
    calendar_busy_cache_seconds: int = Field(default=30, ge=0, le=3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Agents' knowledge base: the largest document taken (that route alone accepts bodies this
    # large), and where files are kept: "local" (a directory, ``file_storage_dir`` or
    # <data_dir>/files), "s3" (an S3-compatible bucket), or "memory" (nothing persists; the
    # default when ``storage`` is memory).
    knowledge_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    file_storage: Literal["local", "s3", "memory"] | None = None
    file_storage_dir: Path | None = None
    s3_endpoint_url: str | None = None  # unset: AWS itself
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # unset, with the secret: boto3's own credential chain
    s3_secret_access_key: SecretStr | None = Field(default=None, repr=False)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def signing_key(self) -> str:
        if self.token_signing_key is not None:
            return self.token_signing_key.get_secret_value()
        return load_or_create_signing_key(self.data_dir)

    def secret_keys(self) -> list[str]:
        if self.encryption_keys is not None:
            return [key.strip() for key in self.encryption_keys.get_secret_value().split(",") if key.strip()]
        return [_load_or_create(self.data_dir / ENCRYPTION_KEY_FILE, lambda: Fernet.generate_key().decode())]

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.file_storage == "s3" and not self.s3_bucket:
            raise ValueError("SWITCHBOARD_S3_BUCKET is required when SWITCHBOARD_FILE_STORAGE is s3")
        return self

    def file_storage_kind(self) -> str:
        if self.file_storage is not None:
            return self.file_storage
        return "memory" if self.storage == "memory" else "local"

    def file_storage_root(self) -> Path:
        return self.file_storage_dir or self.data_dir / "files"

    def app_password(self) -> str | None:
        return self.database_app_password.get_secret_value() if self.database_app_password else None


def load_or_create_signing_key(data_dir: Path) -> str:
    """A key generated once and kept, so restarts keep sessions valid."""
    return _load_or_create(data_dir / SIGNING_KEY_FILE, lambda: secrets.token_urlsafe(48))


def _load_or_create(path: Path, generate: Callable[[], str]) -> str:
    """Read a key file, first writing a new key (mode 0600) if there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as file:
            file.write(generate())
    return path.read_text().strip()
