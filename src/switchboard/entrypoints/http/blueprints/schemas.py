"""Response models (what /openapi.json documents) and the renderers that produce them.

Renderers build plain dicts, so the hot path pays no model validation; the tests validate real
responses against these models, keeping the documentation honest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from switchboard.core.customers.model import ContactChannel, Customer, address_fields
from switchboard.core.customers.timeline import TimelineEntry, TimelineKind
from switchboard.core.flags.model import EffectiveFlag, Plan
from switchboard.core.identity.model import User
from switchboard.core.tenancy.model import Role, Tenant

Item = TypeVar("Item", bound=BaseModel)


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str
    errors: list[FieldProblem] | None = None


class TenantOut(BaseModel):
    object: Literal["tenant"]
    id: UUID
    name: str
    plan: Plan
    time_zone: str = Field(description="IANA name; the analytics reports cut their days in this zone")
    created_at: datetime
    updated_at: datetime


class UserOut(BaseModel):
    object: Literal["user"]
    id: UUID
    email: str
    name: str
    created_at: datetime


class MeOut(BaseModel):
    object: Literal["me"]
    user: UserOut
    tenant: TenantOut
    role: Role


class FlagOut(BaseModel):
    enabled: bool
    source: Literal["plan", "override"]
    description: str


class FlagsOut(BaseModel):
    object: Literal["feature_flags"]
    flags: dict[str, FlagOut]


def render_flags(flags: dict[str, EffectiveFlag]) -> dict[str, Any]:
    return {
        "object": "feature_flags",
        "flags": {
            key: {"enabled": flag.enabled, "source": flag.source, "description": flag.description}
            for key, flag in sorted(flags.items())
        },
    }


class AddressOut(BaseModel):
    label: str | None
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str  # ISO 3166-1 alpha-2


class CustomerOut(BaseModel):
    object: Literal["customer"]
    id: UUID
    name: str
    email: str | None
    phone: str | None
    addresses: list[AddressOut]
    tags: list[str]
    notes: str | None
    preferred_channel: ContactChannel
    created_at: datetime
    updated_at: datetime


class ListOut(BaseModel, Generic[Item]):
    """A page of any list: the envelope every list endpoint answers with."""

    object: Literal["list"]
    data: list[Item]
    has_more: bool
    next_cursor: str | None


class CustomerListOut(ListOut[CustomerOut]):
    """A page of customers, newest first."""


class TimelineRefOut(BaseModel):
    object: str
    id: UUID


class TimelineEntryOut(BaseModel):
    object: Literal["timeline_entry"]
    id: UUID
    kind: TimelineKind
    occurred_at: datetime
    summary: str
    ref: TimelineRefOut


class TimelineOut(ListOut[TimelineEntryOut]):
    """A page of a customer's timeline, newest first."""


def render_tenant(tenant: Tenant) -> dict[str, Any]:
    return {
        "object": "tenant",
        "id": tenant.id,
        "name": tenant.name,
        "plan": tenant.plan.value,
        "time_zone": tenant.time_zone,
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
    }


def render_user(user: User) -> dict[str, Any]:
    return {
        "object": "user",
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "created_at": user.created_at,
    }


def render_customer(customer: Customer) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "addresses": [address_fields(address) for address in customer.addresses],
        "tags": list(customer.tags),
        "notes": customer.notes,
        "preferred_channel": customer.preferred_channel.value,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def render_timeline_entry(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "object": "timeline_entry",
        "id": entry.id,
        "kind": entry.kind.value,
        "occurred_at": entry.occurred_at,
        "summary": entry.summary,
        "ref": {"object": entry.ref.object, "id": entry.ref.id},
    }
