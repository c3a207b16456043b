"""Tenants (the businesses using Switchboard) and who belongs to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from switchboard.core.flags.model import Plan
from switchboard.core.text import single_line

TENANT_NAME_MAX = 200
DEFAULT_TIME_ZONE = "UTC"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Access(StrEnum):
    """What an API key's scope allows on one resource family; write includes read."""

    READ = "read"
    WRITE = "write"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    # A platform admin's decision: every token and key of the tenant stops working at once.
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Tenant:
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    plan: Plan = Plan.FREE
    status: TenantStatus = TenantStatus.ACTIVE
    # IANA name; reports cut their days at this zone's midnights.
    time_zone: str = DEFAULT_TIME_ZONE


@dataclass(frozen=True)
class Membership:
    tenant_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class Member:
    """A membership with the account behind it, as the team page shows it."""

    user_id: UUID
    email: str
    name: str
    role: Role
    joined_at: datetime
    email_verified: bool


@dataclass(frozen=True)
class Invitation:
    """An offer to join a tenant with a role, sent by email. Only the token's hash is kept."""

    id: UUID
    tenant_id: UUID
    email: str
    role: Role
    token_hash: str
    invited_by: UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: UUID | None = None
    revoked_at: datetime | None = None

    def is_pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


def clean_tenant_name(name: str, field: str = "name") -> str:
    return single_line(name, field, TENANT_NAME_MAX)
