"""Credentials: password hashing and access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from switchboard.core.identity.model import Principal


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check ``password``; with no hash (unknown account) spend the same time, say False."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokens(Protocol):
    lifetime_seconds: int

    def issue(self, principal: Principal, now: datetime) -> str: ...

    def verify(self, token: str) -> Principal:
        """The principal a token names; raises ``AuthenticationFailed`` for any bad token."""
        ...

    def issue_admin(self, admin_id: UUID, now: datetime) -> str:
        """A platform admin's token: another audience, never valid as a tenant user's."""
        ...

    def verify_admin(self, token: str) -> UUID:
        """The platform admin a token names; raises ``AuthenticationFailed`` otherwise."""
        ...
