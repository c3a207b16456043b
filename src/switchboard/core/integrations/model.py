"""A tenant's connection to an outside provider (its Stripe account, its Twilio number, ...).

The configuration is stored sealed (encrypted); the core sees it only to merge updates and to
show a preview in which every secret is masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class Capability(StrEnum):
    PAYMENTS = "payments"
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"
    CALENDAR = "calendar"
    AVATAR_VIDEO = "avatar_video"
    SIGN_IN = "sign_in"


@dataclass(frozen=True)
class Integration:
    id: UUID
    tenant_id: UUID
    provider: str  # the provider's slug, e.g. "stripe"
    capability: Capability
    enabled: bool
    sealed_config: bytes
    secret_fields: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    version: int = 1


MASK = "••••"


def mask_secret(value: Any) -> str:
    """Enough of a secret to recognise it (its last four characters), never enough to use it."""
    text = str(value)
    return MASK + text[-4:] if len(text) >= 12 else MASK


def preview(config: dict[str, Any], secret_fields: tuple[str, ...] | frozenset[str]) -> dict[str, Any]:
    return {
        name: mask_secret(value) if name in secret_fields and value is not None else value
        for name, value in config.items()
    }


def merge_config(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A partial update: fields not sent keep their value, secrets included."""
    return current | changes
