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

    def issue(self, principal: Principal, now: datetime) -> str:
        """A user's access token: user, tenant, role, session, and the impersonating admin if
        any (an RFC 8693 ``act`` claim)."""
        ...

    def verify(self, token: str) -> Principal:
        """The principal a token names; raises ``AuthenticationFailed`` for any bad token."""
        ...

    def issue_challenge(self, user_id: UUID, tenant_id: UUID, now: datetime) -> str:
        """The short-lived token that proves a password was right while a second factor is due."""
        ...

    def verify_challenge(self, token: str) -> tuple[UUID, UUID]:
        """(user_id, tenant_id) of a live challenge; raises ``AuthenticationFailed``."""
        ...

    def issue_state(self, claims: dict[str, str], now: datetime, lifetime_seconds: int) -> str:
        """A signed, expiring envelope for a flow's state (an outside sign-in in progress)."""
        ...

    def verify_state(self, token: str) -> dict[str, str]:
        """The claims of a live state envelope; raises ``AuthenticationFailed``."""
        ...

    def issue_admin(self, admin_id: UUID, now: datetime) -> str:
        """A platform admin's token: another audience, never valid as a tenant user's."""
        ...

    def verify_admin(self, token: str) -> UUID:
        """The platform admin a token names; raises ``AuthenticationFailed`` otherwise."""
        ...


class OneTimePasswords(Protocol):
    """TOTP (RFC 6238): secrets, enrolment links and checking codes."""

    interval_seconds: int

    def new_secret(self) -> str: ...

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        """The otpauth:// link an authenticator app enrols from."""
        ...

    def qr_svg(self, uri: str) -> str:
        """The link as a QR code, an SVG document."""
        ...

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        """The time step ``code`` belongs to, within one step of ``at`` either side; None if it
        matches none. Refusing a step not later than the last one used stops replays."""
        ...
