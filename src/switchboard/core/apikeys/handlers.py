"""Creating, listing and revoking API keys, and recognising one on a request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit
from uuid import UUID, uuid4

from switchboard.core.apikeys.model import (
    KEY_NAME_MAX,
    KEY_PREFIX,
    MAX_ORIGINS,
    VISIBLE_PREFIX_LENGTH,
    ApiKey,
)
from switchboard.core.errors import AuthenticationFailed, FieldError, InvalidInput, NotFound, gather
from switchboard.core.identity.model import Principal, hash_opaque_token
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.tenancy.model import Access
from switchboard.core.tenancy.permissions import SCOPE_FAMILIES, Action, require
from switchboard.core.text import single_line

if TYPE_CHECKING:
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork

BAD_KEY = "the API key is not valid"
NO_SUCH_KEY = "no such API key"


@dataclass(frozen=True)
class CreateKey:
    name: str
    scopes: dict[str, str]
    expires_at: datetime | None = None
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown this once


async def create_key(cmd: CreateKey, principal: Principal, uow: UnitOfWork, clock: Clock) -> CreatedKey:
    require(principal, Action.API_KEYS_MANAGE)
    now = clock.now()
    fields: dict[str, Any] = gather(
        {
            "name": lambda: single_line(cmd.name, "name", KEY_NAME_MAX),
            "scopes": lambda: _scopes(cmd.scopes),
            "expires_at": lambda: _expiry(cmd.expires_at, now),
            "allowed_origins": lambda: _origins(cmd.allowed_origins),
        }
    )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid4(),
        tenant_id=principal.tenant_id,
        name=fields["name"],
        prefix=secret[:VISIBLE_PREFIX_LENGTH],
        secret_hash=hash_opaque_token(secret),
        scopes=fields["scopes"],
        allowed_origins=fields["allowed_origins"],
        created_by=principal.user_id,
        created_at=now,
        expires_at=fields["expires_at"],
    )
    async with uow:
        await uow.api_keys.add(key)
        changes = {
            "name": key.name,
            "scopes": {family: access.value for family, access in key.scopes.items()},
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            "allowed_origins": list(key.allowed_origins),
        }
        await uow.audit.record("api_key.created", "api_key", str(key.id), changes)
        await uow.commit()
    return CreatedKey(key, secret)


async def list_keys(page: PageRequest, principal: Principal, uow: UnitOfWork) -> Page[ApiKey]:
    require(principal, Action.API_KEYS_MANAGE)
    async with uow:
        return await uow.api_keys.list(page)


async def get_key(key_id: UUID, principal: Principal, uow: UnitOfWork) -> ApiKey:
    require(principal, Action.API_KEYS_MANAGE)
    async with uow:
        key = await uow.api_keys.get(key_id)
    if key is None:
        raise NotFound(NO_SUCH_KEY)
    return key


async def revoke_key(key_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> None:
    """Effective on the key's next request: every request looks the key up afresh."""
    require(principal, Action.API_KEYS_MANAGE)
    async with uow:
        if not await uow.api_keys.revoke(key_id, clock.now()):
            raise NotFound(NO_SUCH_KEY)
        await uow.audit.record("api_key.revoked", "api_key", str(key_id))
        await uow.commit()


async def authenticate(
    secret: str, origin: str | None, directory: IdentityDirectory, clock: Clock
) -> Principal:
    """The principal an ``sbk_`` key stands for, if it is live, its tenant active, and the
    browser origin (when one is sent) among those the key allows."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise AuthenticationFailed(BAD_KEY)
    candidate = await directory.find_api_key(hash_opaque_token(secret))
    now = clock.now()
    if candidate is None or candidate.revoked_at is not None:
        raise AuthenticationFailed(BAD_KEY)
    if candidate.expires_at is not None and now >= candidate.expires_at:
        raise AuthenticationFailed("the API key has expired")
    if not candidate.tenant_active:
        raise AuthenticationFailed("this tenant is suspended")
    if (
        origin is not None
        and candidate.allowed_origins
        and origin.rstrip("/") not in candidate.allowed_origins
    ):
        raise AuthenticationFailed("the API key may not be used from this origin")
    return Principal(
        user_id=None,
        tenant_id=candidate.tenant_id,
        role=None,
        api_key_id=candidate.key_id,
        scopes=candidate.scopes,
    )


def _scopes(scopes: dict[str, str]) -> dict[str, Access]:
    problems = []
    cleaned: dict[str, Access] = {}
    for family, access in scopes.items():
        if family not in SCOPE_FAMILIES:
            problems.append(FieldError(f"scopes.{family}", f"is not one of {', '.join(SCOPE_FAMILIES)}"))
        elif access not in (Access.READ, Access.WRITE):
            problems.append(FieldError(f"scopes.{family}", "must be 'read' or 'write'"))
        else:
            cleaned[family] = Access(access)
    if not scopes:
        problems.append(FieldError("scopes", "must name at least one resource family"))
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInput.single("expires_at", "must be in the future")
    return expires_at


def _origin_parts(origin: str) -> SplitResult | None:
    """The parts of a printable URL with a host; None for anything else (an unclosed IPv6
    bracket makes urlsplit raise)."""
    if not origin.isprintable() or " " in origin:
        return None
    try:
        parts = urlsplit(origin)
        return parts if parts.hostname else None
    except ValueError:
        return None


def _origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    if len(origins) > MAX_ORIGINS:
        raise InvalidInput.single("allowed_origins", f"at most {MAX_ORIGINS}")
    cleaned = []
    for index, origin in enumerate(origins):
        parts = _origin_parts(origin.strip())
        bare = parts is not None and parts.path in ("", "/") and not (parts.query or parts.fragment)
        if parts is None or not bare or parts.username or parts.scheme not in ("https", "http"):
            raise InvalidInput.single(
                f"allowed_origins.{index}", "must be an origin like https://example.com"
            )
        cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(dict.fromkeys(cleaned))
