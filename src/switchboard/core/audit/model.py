"""The audit log: who did what to which object, from where, and what changed.

Entries are appended and never changed: the database lets the application insert and read them,
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from switchboard.core.identity.model import Client


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    PLATFORM_ADMIN = "platform_admin"
    SYSTEM = "system"
    # A tenant's customer answering on a public page (a quote), with no account: id is the
    # customer's id in the tenant.
    CUSTOMER = "customer"
    # A tenant's voice agent running a business tool during a call: id is the agent's id, and
    # the actor's ``call_id`` names the call.
    VOICE_AGENT = "voice_agent"


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: UUID | None
    # A platform admin acting as a user (RFC 8693 ``act``): the user is ``id``, the admin here.
    on_behalf_of_admin: UUID | None = None
    # The call a voice agent acted in (ActorType.VOICE_AGENT only).
    call_id: UUID | None = None


@dataclass(frozen=True)
class AuditContext:
    """Who a unit of work acts for, and from where: what its audit entries are stamped with."""

    actor: Actor
    client: Client = field(default_factory=Client)


SYSTEM = AuditContext(Actor(ActorType.SYSTEM, None))


@dataclass(frozen=True)
class AuditEvent:
    id: UUID
    tenant_id: UUID
    occurred_at: datetime
    actor: Actor
    action: str  # "<target>.<verb>", e.g. "customer.updated", "auth.sign_in_failed"
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    # For updates {field: {"from": old, "to": new}}; for creates and deletes the fields set.
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose values differ, as {field: {"from": old, "to": new}}."""
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in dict.fromkeys([*before, *after])
        if before.get(key) != after.get(key)
    }
