"""API keys: a tenant's credentials for servers and browser widgets.

The secret (``sbk_`` and 256 random bits) is shown once; only its SHA-256 is stored, and a short
prefix stays visible so people can tell their keys apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from switchboard.core.tenancy.model import Access

KEY_PREFIX = "sbk_"
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8
KEY_NAME_MAX = 100
MAX_ORIGINS = 20


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    tenant_id: UUID
    name: str
    prefix: str
    secret_hash: str
    scopes: Mapping[str, Access]
    allowed_origins: tuple[str, ...]  # empty: any origin (server-to-server keys send none)
    created_by: UUID | None
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class KeyCandidate:
    """What authentication learns of a key from its hash, before it knows the tenant."""

    key_id: UUID
    tenant_id: UUID
    scopes: Mapping[str, Access]
    allowed_origins: tuple[str, ...]
    expires_at: datetime | None
    revoked_at: datetime | None
    tenant_active: bool
