"""People, their credentials and their sessions.

A person has one account (email unique platform-wide) and may belong to several tenants; every
token is issued for one (user, tenant) pair, the principal.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from switchboard.core.errors import FieldError, InvalidInput
from switchboard.core.tenancy.model import Role
from switchboard.core.text import single_line

PASSWORD_MIN = 12
PASSWORD_MAX = 128
NAME_MAX = 200
EMAIL_MAX = 254
REFRESH_TOKEN_LIFETIME = timedelta(days=30)

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


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user within one tenant, with the role they hold there."""

    user_id: UUID
    tenant_id: UUID
    role: Role


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
    password_hash: str
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


def new_opaque_token() -> tuple[str, str]:
    """A fresh refresh token and the hash under which it is stored."""
    plain = "sbr_" + secrets.token_urlsafe(32)
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


def check_new_password(password: str) -> str:
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(FieldError("password", f"must be at least {PASSWORD_MIN} characters"))
    if len(password) > PASSWORD_MAX:
        problems.append(FieldError("password", f"must be at most {PASSWORD_MAX} characters"))
    if problems:
        raise InvalidInput(problems)
    return password
