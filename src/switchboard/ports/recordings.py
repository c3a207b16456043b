"""Call recordings handed out without ever showing the platform's own address.

A client gets a short-lived signed link (``RecordingLinks``) to Switchboard's public recordings
route; that route checks the link and streams the bytes it reads from the platform's address
(``RecordingSource``), bounded in size and time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


class RecordingLinkRefused(Exception):
    """The link was tampered with, made for something else, or has expired."""

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.expired = expired


class RecordingLinks(Protocol):
    lifetime_seconds: int

    def issue(self, tenant_id: UUID, call_id: UUID, now: datetime) -> tuple[str, datetime]:
        """A token naming the call, and when it stops working."""
        ...

    def verify(self, token: str) -> tuple[UUID, UUID]:
        """(tenant_id, call_id) of a valid, unexpired token; raises ``RecordingLinkRefused``."""
        ...


@dataclass(frozen=True)
class RecordingStream:
    media_type: str
    length: int | None  # in bytes, when the platform said
    chunks: AsyncIterator[bytes]  # closes the connection to the platform when exhausted or closed


class RecordingUnavailable(Exception):
    """The platform did not hand over the recording (refused, unreachable, too large, too slow)."""


class RecordingSource(Protocol):
    async def open(self, url: str) -> RecordingStream:
        """Start reading the recording at the platform's ``url``; raises ``RecordingUnavailable``."""
        ...
