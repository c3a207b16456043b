"""Sign-up, sign-in with an optional second step, sessions, and the refresh-token lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied, gather
from switchboard.core.identity.model import (
    Client,
    LoginCandidate,
    Principal,
    TokenPair,
    TokenPurpose,
    User,
    clean_person_name,
    hash_opaque_token,
    normalize_email,
)
from switchboard.core.identity.passwords import check_new_password
from switchboard.core.identity.sessions import (
    Identity,
    as_user,
    check_throttles,
    clean_client,
    issue_tokens,
    mail_token,
    start_session,
)
from switchboard.core.security.throttling import SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS
from switchboard.core.tenancy.model import Membership, Role, Tenant, TenantStatus, clean_tenant_name
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.core.identity.model import Session
    from switchboard.ports.persistence import UnitOfWork

# One message for every sign-in failure, so the answer never tells which part was wrong.
BAD_CREDENTIALS = "the email or password is not correct"
BAD_REFRESH_TOKEN = "the refresh token is not valid"  # noqa: S105 (a message, not a secret)
SUSPENDED = "this tenant is suspended; contact support"
UNKNOWN_ADDRESS = "unknown"


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


@dataclass(frozen=True)
class MfaRequired:
    """The password was right; a second factor is due, within the challenge's lifetime."""

    challenge_token: str
    expires_in: int


async def register(cmd: Register, ports: Identity, client: Client) -> Registered:
    fields = gather(
        {
            "tenant_name": lambda: clean_tenant_name(cmd.tenant_name, "tenant_name"),
            "name": lambda: clean_person_name(cmd.name),
            "email": lambda: normalize_email(cmd.email),
        }
    )
    check_new_password(cmd.password, email=fields["email"], name=fields["name"])
    password_hash = await ports.hasher.hash(cmd.password)
    now = ports.clock.now()
    tenant = Tenant(id=uuid4(), name=fields["tenant_name"], created_at=now, updated_at=now)
    user = User(id=uuid4(), email=fields["email"], name=fields["name"], created_at=now, updated_at=now)
    async with ports.units(tenant.id, user.id, as_user(user.id, client)) as uow:
        await uow.tenants.add(tenant)
        await uow.users.add(user, password_hash)
        await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
        pair = await start_session(uow, Principal(user.id, tenant.id, Role.OWNER), ports, client)
        await uow.audit.record("tenant.created", "tenant", str(tenant.id), {"name": tenant.name})
        await uow.audit.record("user.registered", "user", str(user.id), {"email": user.email})
        await mail_token(uow, ports, user.id, user.email, TokenPurpose.VERIFY_EMAIL, tenant.id)
        await uow.commit()
    return Registered(tenant, user, pair)


async def login(cmd: Login, ports: Identity, client: Client) -> TokenPair | MfaRequired:
    """Check the password; open a session, or ask for the second factor when one is enrolled.

    Unknown accounts are counted and answered exactly like known ones, so neither the answer
    nor the throttling tells whether an address has an account.
    """
    try:
        email: str | None = normalize_email(cmd.email)
    except InvalidInput:
        email = None
    account_key = email or cmd.email
    address_key = client.ip or UNKNOWN_ADDRESS
    await check_throttles(
        ports.throttle, (SIGN_IN_PER_ACCOUNT, account_key), (SIGN_IN_PER_ADDRESS, address_key)
    )
    candidate = await ports.directory.find_login(email) if email else None
    # Verify even when there is no account, so both failures take the same time.
    password_ok = await ports.hasher.verify(candidate.password_hash if candidate else None, cmd.password)
    tenant_id = _chosen_tenant(candidate, cmd.tenant_id)
    if candidate is None or not password_ok or tenant_id is None:
        await _sign_in_failed(ports, candidate, tenant_id, account_key, address_key, client)
        raise AuthenticationFailed(BAD_CREDENTIALS)
    await ports.throttle.clear(SIGN_IN_PER_ACCOUNT, account_key)

    async with ports.units(tenant_id, candidate.user_id, as_user(candidate.user_id, client)) as uow:
        principal = await member_principal(uow, candidate.user_id, tenant_id)
        if candidate.password_hash and ports.hasher.needs_rehash(candidate.password_hash):
            new_hash = await ports.hasher.hash(cmd.password)
            await uow.users.set_password_hash(candidate.user_id, new_hash, ports.clock.now())
        outcome = await finish_sign_in(uow, principal, ports, client, method="password")
        await uow.commit()
    return outcome


async def member_principal(uow: UnitOfWork, user_id: UUID, tenant_id: UUID) -> Principal:
    """The user as a member of the unit of work's tenant, which must be active."""
    tenant = await uow.tenants.get()
    membership = await uow.memberships.get(user_id)
    if tenant is None or membership is None:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if tenant.status is TenantStatus.SUSPENDED:
        raise PermissionDenied(SUSPENDED)
    return Principal(user_id, tenant_id, membership.role)


async def finish_sign_in(
    uow: UnitOfWork, principal: Principal, ports: Identity, client: Client, *, method: str
) -> TokenPair | MfaRequired:
    """After a first factor: a challenge if the user enrolled a second one, else a session."""
    user_id = principal.acting_user
    factor = await uow.mfa.get(user_id)
    if factor is not None and factor.active:
        await uow.audit.record("auth.mfa_challenged", "user", str(user_id), {"method": method})
        challenge = ports.tokens.issue_challenge(user_id, principal.tenant_id, ports.clock.now())
        return MfaRequired(challenge, CHALLENGE_SECONDS)
    pair = await start_session(uow, principal, ports, client)
    await uow.audit.record("auth.signed_in", "user", str(user_id), {"method": method})
    return pair


CHALLENGE_SECONDS = 300


def _chosen_tenant(candidate: LoginCandidate | None, requested: UUID | None) -> UUID | None:
    if candidate is None or not candidate.tenant_ids:
        return None
    if requested is None:
        return candidate.tenant_ids[0]
    return requested if requested in candidate.tenant_ids else None


async def _sign_in_failed(
    ports: Identity,
    candidate: LoginCandidate | None,
    tenant_id: UUID | None,
    account_key: str,
    address_key: str,
    client: Client,
) -> None:
    """Count the failure; when it locks a real account, mail its owner a way to unlock it."""
    status = await ports.throttle.record_failure(SIGN_IN_PER_ACCOUNT, account_key)
    await ports.throttle.record_failure(SIGN_IN_PER_ADDRESS, address_key)
    if candidate is None or not candidate.tenant_ids:
        return
    tenant_id = tenant_id or candidate.tenant_ids[0]
    async with ports.units(tenant_id, candidate.user_id, as_user(candidate.user_id, client)) as uow:
        await uow.audit.record(
            "auth.sign_in_failed", "user", str(candidate.user_id), {"reason": "credentials"}
        )
        if status.locked_out:
            await uow.audit.record(
                "auth.locked_out", "user", str(candidate.user_id), {"seconds": status.retry_after_seconds}
            )
            user = await uow.users.get(candidate.user_id)
            if user is not None:
                await mail_token(uow, ports, user.id, user.email, TokenPurpose.UNLOCK, tenant_id)
        await uow.commit()


async def refresh(refresh_token: str, ports: Identity, client: Client) -> TokenPair:
    """Trade a refresh token for a new pair. A token works once; a second use revokes its family."""
    token_hash = hash_opaque_token(refresh_token)
    owner = await ports.directory.find_refresh_token(token_hash)
    if owner is None:
        raise AuthenticationFailed(BAD_REFRESH_TOKEN)
    tenant_id, user_id = owner

    async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
        stored = await uow.refresh_tokens.get_by_hash(token_hash)
        now = ports.clock.now()
        if stored is None or stored.revoked_at is not None or now >= stored.expires_at:
            raise AuthenticationFailed(BAD_REFRESH_TOKEN)
        membership = await uow.memberships.get(user_id)
        session = await uow.sessions.get(stored.family_id)
        if stored.used_at is not None or membership is None or session is None:
            # A used token presented again was copied: end the session it belongs to.
            await uow.sessions.revoke(stored.family_id, now)
            await uow.refresh_tokens.revoke_family(stored.family_id, now)
            await uow.audit.record("auth.refresh_token_reused", "session", str(stored.family_id))
            await uow.commit()
            raise AuthenticationFailed(BAD_REFRESH_TOKEN)
        tenant = await uow.tenants.get()
        if session.revoked_at is not None or tenant is None or tenant.status is TenantStatus.SUSPENDED:
            raise AuthenticationFailed(BAD_REFRESH_TOKEN)
        await uow.refresh_tokens.mark_used(stored.id, now)
        seen = clean_client(client)
        await uow.sessions.touch(session.id, now, seen.ip, seen.user_agent)
        principal = Principal(user_id, tenant_id, membership.role, session_id=session.id)
        pair = await issue_tokens(uow, principal, ports)
        await uow.commit()
    return pair


async def logout(refresh_token: str, ports: Identity, client: Client) -> None:
    """End the session the token belongs to. Unknown tokens are ignored, as RFC 7009 does."""
    token_hash = hash_opaque_token(refresh_token)
    owner = await ports.directory.find_refresh_token(token_hash)
    if owner is None:
        return
    tenant_id, user_id = owner
    async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
        stored = await uow.refresh_tokens.get_by_hash(token_hash)
        if stored is not None:
            now = ports.clock.now()
            await uow.sessions.revoke(stored.family_id, now)
            await uow.refresh_tokens.revoke_family(stored.family_id, now)
            await uow.audit.record("auth.signed_out", "session", str(stored.family_id))
            await uow.commit()


@dataclass(frozen=True)
class Me:
    user: User
    tenant: Tenant
    role: Role


async def who_am_i(principal: Principal, uow: UnitOfWork) -> Me:
    if principal.user_id is None:
        raise PermissionDenied("an API key acts for no user")
    async with uow:
        user = await uow.users.get(principal.user_id)
        tenant = await uow.tenants.get()
        membership = await uow.memberships.get(principal.user_id)
    if user is None or tenant is None or membership is None:
        raise AuthenticationFailed("the account behind this token no longer exists")
    return Me(user, tenant, membership.role)


async def list_sessions(principal: Principal, uow: UnitOfWork) -> list[Session]:
    require(principal, Action.ACCOUNT_SECURITY)
    async with uow:
        return await uow.sessions.list_active(principal.acting_user)


async def revoke_session(session_id: UUID, principal: Principal, uow: UnitOfWork, ports: Identity) -> None:
    require(principal, Action.ACCOUNT_SECURITY)
    async with uow:
        session = await uow.sessions.get(session_id)
        if session is None or session.user_id != principal.user_id or session.revoked_at is not None:
            raise NotFound("no such session")
        await uow.sessions.revoke(session_id, ports.clock.now())
        await uow.audit.record("session.revoked", "session", str(session_id))
        await uow.commit()


async def revoke_other_sessions(principal: Principal, uow: UnitOfWork, ports: Identity) -> int:
    require(principal, Action.ACCOUNT_SECURITY)
    async with uow:
        count = await uow.sessions.revoke_all(
            principal.acting_user, ports.clock.now(), except_id=principal.session_id
        )
        await uow.audit.record("session.revoked_others", "user", str(principal.user_id), {"count": count})
        await uow.commit()
    return count


async def end_every_session(ports: Identity, user_id: UUID, tenant_ids: list[UUID], client: Client) -> None:
    """Revoke every session and refresh token of the user, in every tenant they belong to."""
    now = ports.clock.now()
    for tenant_id in tenant_ids:
        async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
            await uow.sessions.revoke_all(user_id, now)
            await uow.refresh_tokens.revoke_for_user(user_id, now)
            await uow.commit()
