"""Tenants (the businesses using Switchboard) and who belongs to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from switchboard.core.flags.model import Plan
from switchboard.core.text import single_line

TENANT_NAME_MAX = 200


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Tenant:
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    plan: Plan = Plan.FREE


@dataclass(frozen=True)
class Membership:
    tenant_id: UUID
    user_id: UUID
    role: Role
    created_at: datetime


def clean_tenant_name(name: str, field: str = "name") -> str:
    return single_line(name, field, TENANT_NAME_MAX)
