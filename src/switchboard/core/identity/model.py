"""People, their credentials and their sessions.

A person has one account (email unique platform-wide) and may belong to several tenants; every
token is issued for one (user, tenant) pair, the principal.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from switchboard.core.errors import InvalidInput
from switchboard.core.tenancy.model import Access, Role
from switchboard.core.text import single_line

NAME_MAX = 200
EMAIL_MAX = 254
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
USER_AGENT_MAX = 400

# Deliberately loose: deliverability is proven by sending mail, not by a regular expression.
# No white space or control characters anywhere.
_EMAIL_SHAPE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class User:
    """A person's account. The password hash is kept apart and read only by sign-in."""

    id: UUID
    email: str
    name: str
    created_at: datetime
    updated_at: datetime
    email_verified_at: datetime | None = None


_NO_SCOPES: Mapping[str, Access] = MappingProxyType({})


@dataclass(frozen=True)
class Principal:
    """Who is acting, within one tenant.

    A user, with the role they hold there, in one session; or an API key of the tenant, with
    its scopes and no user; or a platform admin acting as a user (``impersonator_id``); or a
    voice agent during a call (``voice_agent_id``), allowed exactly ``agent_actions`` (the
    permission actions its business tools need, by value) and nothing else.
    """

    user_id: UUID | None
    tenant_id: UUID
    role: Role | None
    session_id: UUID | None = None
    api_key_id: UUID | None = None
    scopes: Mapping[str, Access] = field(default_factory=lambda: _NO_SCOPES, hash=False)
    impersonator_id: UUID | None = None
    voice_agent_id: UUID | None = None
    agent_actions: frozenset[str] = frozenset()

    @property
    def acting_user(self) -> UUID:
        """The user behind a user principal; raises for an API key, which has none."""
        if self.user_id is None:
            raise PermissionError("an API key acts for no user")
        return self.user_id


@dataclass(frozen=True)
class Session:
    """One sign-in on one device: the refresh-token family and what was seen of the client."""

    id: UUID
    tenant_id: UUID
    user_id: UUID
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str | None
    revoked_at: datetime | None = None
    impersonator_id: UUID | None = None  # the platform admin, for a support session


@dataclass(frozen=True)
class Client:
    """What the request tells of the caller, for sessions and the audit log."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class MfaFactor:
    """A user's TOTP second factor. The secret is stored sealed; codes are accepted once: a
    code's time step must be later than the last one used."""

    user_id: UUID
    sealed_secret: bytes
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_step: int | None = None

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a secret)
    UNLOCK = "unlock"


@dataclass(frozen=True)
class AccountToken:
    """A single-use, expiring token mailed to the account's address. Only its hash is kept."""

    id: UUID
    user_id: UUID
    purpose: TokenPurpose
    token_hash: str
    email: str  # the address it was sent to: a token for an address no longer the user's is void
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True)
class ExternalIdentity:
    """Who an outside sign-in provider says the person is; ``email_verified`` is its word."""

    provider: str  # the plugin's slug, e.g. "google"
    subject: str  # the provider's stable id for the person
    email: str | None
    email_verified: bool
    name: str | None


class SignInRejected(Exception):
    """The provider did not vouch for anyone: a bad code, a bad ID token, a refused consent."""


@dataclass(frozen=True)
class ExternalIdentityLink:
    """An outside sign-in (a Google or GitHub account) linked to a user."""

    provider: str
    subject: str
    user_id: UUID
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class RefreshToken:
    """A stored refresh token. Only its hash is kept; the plain value goes to the client once.

    Tokens of one sign-in share a family; presenting a token that was already used means it was
    copied, and the whole family is revoked.
    """

    id: UUID
    tenant_id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class LoginCandidate:
    """What sign-in may learn about an email before any tenant is known."""

    user_id: UUID
    password_hash: str | None  # None: the account signs in only through an outside provider
    tenant_ids: list[UUID]  # oldest membership first


@dataclass(frozen=True)
class AdminCandidate:
    """A platform admin's credentials, as sign-in finds them."""

    admin_id: UUID
    password_hash: str


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal


def new_opaque_token(prefix: str = "sbr_") -> tuple[str, str]:
    """A fresh token (refresh token by default) and the hash under which it is stored."""
    plain = prefix + secrets.token_urlsafe(32)
    return plain, hash_opaque_token(plain)


def hash_opaque_token(plain: str) -> str:
    # 256 random bits need no slow hash: a fast digest is enough to make a stolen table useless.
    return hashlib.sha256(plain.encode()).hexdigest()


def normalize_email(email: str, field: str = "email") -> str:
    cleaned = email.strip().lower()
    if len(cleaned) > EMAIL_MAX or not _EMAIL_SHAPE.match(cleaned):
        raise InvalidInput.single(field, "is not a valid email address")
    return cleaned


def clean_person_name(name: str, field: str = "name") -> str:
    return single_line(name, field, NAME_MAX)
