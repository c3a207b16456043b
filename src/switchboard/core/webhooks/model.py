"""Outbound webhooks: a tenant's endpoints, the events they receive, and the delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from switchboard.core.errors import InvalidInput

URL_MAX = 2000
DESCRIPTION_MAX = 200

# Every event type Switchboard sends. An endpoint subscribes to some, or to all (none listed).
EVENT_TYPES = frozenset({"customer.created", "customer.updated", "customer.deleted"})


@dataclass(frozen=True)
class WebhookEndpoint:
    id: UUID
    tenant_id: UUID
    url: str
    description: str
    event_types: tuple[str, ...]  # empty: every event
    sealed_secret: bytes  # the Standard Webhooks signing secret, encrypted at rest
    enabled: bool
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in a tenant's account, as its endpoints receive it."""

    id: UUID
    type: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one endpoint."""

    id: UUID
    tenant_id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    status_code: int | None  # None when no answer came (refused address, timeout, ...)
    error: str | None
    duration_ms: int
    created_at: datetime

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def check_endpoint_url(url: str, *, allow_plain_http: bool) -> str:
    """The shape of the URL only; where it points is checked against DNS by the adapter."""
    parts = urlsplit(url.strip())
    schemes = {"https", "http"} if allow_plain_http else {"https"}
    if len(url) > URL_MAX or parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput.single("url", f"must be an absolute {' or '.join(sorted(schemes))} URL")
    if parts.username or parts.password:
        raise InvalidInput.single("url", "must not carry credentials")
    return url.strip()


def check_event_types(event_types: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if unknown:
        raise InvalidInput.single("event_types", f"unknown event types: {', '.join(unknown)}")
    return tuple(sorted(set(event_types)))
