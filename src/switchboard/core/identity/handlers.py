"""Sign-up, sign-in and the refresh-token lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import AuthenticationFailed, InvalidInput, gather
from switchboard.core.identity.model import (
    REFRESH_TOKEN_LIFETIME,
    Principal,
    RefreshToken,
    TokenPair,
    User,
    check_new_password,
    clean_person_name,
    hash_opaque_token,
    new_opaque_token,
    normalize_email,
)
from switchboard.core.tenancy.model import Membership, Role, Tenant, clean_tenant_name

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.security import AccessTokens, PasswordHasher

# One message for every sign-in failure, so the answer never tells which part was wrong.
BAD_CREDENTIALS = "the email or password is not correct"
BAD_REFRESH_TOKEN = "the refresh token is not valid"  # noqa: S105 (a message, not a secret)


@dataclass(frozen=True)
class Register:
    tenant_name: str
    name: str
    email: str
    password: str


@dataclass(frozen=True)
class Registered:
    tenant: Tenant
    user: User
    tokens: TokenPair


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    tenant_id: UUID | None = None


async def register(
    cmd: Register,
    units: UnitOfWorkFactory,
    hasher: PasswordHasher,
    access_tokens: AccessTokens,
    clock: Clock,
) -> Registered:
    fields = gather(
        {
            "tenant_name": lambda: clean_tenant_name(cmd.tenant_name, "tenant_name"),
            "name": lambda: clean_person_name(cmd.name),
            "email": lambda: normalize_email(cmd.email),
            "password": lambda: check_new_password(cmd.password),
        }
    )
    password_hash = await hasher.hash(cmd.password)
    now = clock.now()
    tenant = Tenant(id=uuid4(), name=fields["tenant_name"], created_at=now, updated_at=now)
    user = User(id=uuid4(), email=fields["email"], name=fields["name"], created_at=now, updated_at=now)
    async with units(tenant.id, user.id) as uow:
        await uow.tenants.add(tenant)
        await uow.users.add(user, password_hash)
        await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
        principal = Principal(user.id, tenant.id, Role.OWNER)
        pair = await _start_session(uow, principal, access_tokens, clock)
        await uow.commit()
    return Registered(tenant, user, pair)


async def login(
    cmd: Login,
    directory: IdentityDirectory,
    units: UnitOfWorkFactory,
    hasher: PasswordHasher,
    access_tokens: AccessTokens,
    clock: Clock,
) -> TokenPair:
    try:
        email: str | None = normalize_email(cmd.email)
    except InvalidInput:
        email = None
    candidate = await directory.find_login(email) if email else None
    # Verify even when there is no account, so both failures take the same time.
    password_ok = await hasher.verify(candidate.password_hash if candidate else None, cmd.password)
    if candidate is None or not password_ok or not candidate.tenant_ids:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    tenant_id = cmd.tenant_id or candidate.tenant_ids[0]
    if tenant_id not in candidate.tenant_ids:
        raise AuthenticationFailed(BAD_CREDENTIALS)

    async with units(tenant_id, candidate.user_id) as uow:
        membership = await uow.memberships.get(candidate.user_id)
        if membership is None:
            raise AuthenticationFailed(BAD_CREDENTIALS)
        if hasher.needs_rehash(candidate.password_hash):
            new_hash = await hasher.hash(cmd.password)
            await uow.users.set_password_hash(candidate.user_id, new_hash, clock.now())
        principal = Principal(candidate.user_id, tenant_id, membership.role)
        pair = await _start_session(uow, principal, access_tokens, clock)
        await uow.commit()
    return pair


async def refresh(
    refresh_token: str,
    directory: IdentityDirectory,
    units: UnitOfWorkFactory,
    access_tokens: AccessTokens,
    clock: Clock,
) -> TokenPair:
    """Trade a refresh token for a new pair. A token works once; a second use revokes its family."""
    token_hash = hash_opaque_token(refresh_token)
    owner = await directory.find_refresh_token(token_hash)
    if owner is None:
        raise AuthenticationFailed(BAD_REFRESH_TOKEN)
    tenant_id, user_id = owner

    async with units(tenant_id, user_id) as uow:
        stored = await uow.refresh_tokens.get_by_hash(token_hash)
        now = clock.now()
        if stored is None or stored.revoked_at is not None or now >= stored.expires_at:
            raise AuthenticationFailed(BAD_REFRESH_TOKEN)
        membership = await uow.memberships.get(user_id)
        if stored.used_at is not None or membership is None:
            # A used token presented again was copied: end every session descended from it.
            await uow.refresh_tokens.revoke_family(stored.family_id, now)
            await uow.commit()
            raise AuthenticationFailed(BAD_REFRESH_TOKEN)
        await uow.refresh_tokens.mark_used(stored.id, now)
        principal = Principal(user_id, tenant_id, membership.role)
        pair = await _start_session(uow, principal, access_tokens, clock, stored.family_id)
        await uow.commit()
    return pair


async def logout(
    refresh_token: str, directory: IdentityDirectory, units: UnitOfWorkFactory, clock: Clock
) -> None:
    """End the session the token belongs to. Unknown tokens are ignored, as RFC 7009 does."""
    token_hash = hash_opaque_token(refresh_token)
    owner = await directory.find_refresh_token(token_hash)
    if owner is None:
        return
    async with units(*owner) as uow:
        stored = await uow.refresh_tokens.get_by_hash(token_hash)
        if stored is not None:
            await uow.refresh_tokens.revoke_family(stored.family_id, clock.now())
            await uow.commit()


@dataclass(frozen=True)
class Me:
    user: User
    tenant: Tenant
    role: Role


async def who_am_i(principal: Principal, uow: UnitOfWork) -> Me:
    async with uow:
        user = await uow.users.get(principal.user_id)
        tenant = await uow.tenants.get()
        membership = await uow.memberships.get(principal.user_id)
    if user is None or tenant is None or membership is None:
        raise AuthenticationFailed("the account behind this token no longer exists")
    return Me(user, tenant, membership.role)


async def _start_session(
    uow: UnitOfWork,
    principal: Principal,
    access_tokens: AccessTokens,
    clock: Clock,
    family_id: UUID | None = None,
) -> TokenPair:
    now = clock.now()
    plain, token_hash = new_opaque_token()
    await uow.refresh_tokens.add(
        RefreshToken(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            family_id=family_id or uuid4(),
            token_hash=token_hash,
            created_at=now,
            expires_at=now + REFRESH_TOKEN_LIFETIME,
        )
    )
    return TokenPair(
        access_token=access_tokens.issue(principal, now),
        refresh_token=plain,
        expires_in=access_tokens.lifetime_seconds,
        principal=principal,
    )
