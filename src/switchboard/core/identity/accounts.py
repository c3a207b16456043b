"""Proving control of an address, and getting back in: email verification, password change and
reset, and unlocking an account locked by failed sign-ins. Mailed tokens are single-use,
expiring, and stored hashed; every request for one is throttled."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from switchboard.core.errors import AuthenticationFailed, InvalidInput
from switchboard.core.identity.handlers import end_every_session
from switchboard.core.identity.model import AccountToken, Client, Principal, TokenPurpose, normalize_email
from switchboard.core.identity.passwords import check_new_password
from switchboard.core.identity.sessions import (
    Identity,
    as_user,
    check_throttles,
    mail_token,
    token_hash_of,
)
from switchboard.core.security.throttling import (
    EMAIL_TOKENS_PER_ACCOUNT,
    EMAIL_TOKENS_PER_ADDRESS,
    MFA_PER_ACCOUNT,
    SIGN_IN_PER_ACCOUNT,
)
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from datetime import datetime

    from switchboard.core.identity.model import User
    from switchboard.ports.persistence import UnitOfWork

BAD_TOKEN = "is not valid, was already used, or has expired"  # noqa: S105 (a message)
UNKNOWN_ADDRESS = "unknown"


async def request_password_reset(email: str, ports: Identity, client: Client) -> None:
    """Mail a reset link if the address has an account. The answer never tells whether it does."""
    address = _normalized(email)
    await _count_request(ports, address or email, client)
    candidate = await ports.directory.find_login(address) if address else None
    if candidate is None or not candidate.tenant_ids:
        return
    tenant_id = candidate.tenant_ids[0]
    async with ports.units(tenant_id, candidate.user_id, as_user(candidate.user_id, client)) as uow:
        user = await uow.users.get(candidate.user_id)
        if user is None:
            return
        await mail_token(uow, ports, user.id, user.email, TokenPurpose.RESET_PASSWORD, tenant_id)
        await uow.audit.record("auth.password_reset_requested", "user", str(user.id))
        await uow.commit()


async def reset_password(token: str, new_password: str, ports: Identity, client: Client) -> None:
    """Set a new password from a mailed token; every session and refresh token of the account
    ends, in every tenant, and the account is unlocked."""
    user, tenant_ids = await _redeem(token, TokenPurpose.RESET_PASSWORD, ports, client)
    check_new_password(new_password, email=user.email, name=user.name)
    new_hash = await ports.hasher.hash(new_password)
    now = ports.clock.now()
    async with ports.units(_first(tenant_ids), user.id, as_user(user.id, client)) as uow:
        stored = await _live_token(uow, token, TokenPurpose.RESET_PASSWORD, user, now)
        await uow.account_tokens.mark_used(stored.id, now)
        await uow.users.set_password_hash(user.id, new_hash, now)
        await uow.users.mark_email_verified(user.id, now)  # the mail was read: the address works
        if tenant_ids:
            await uow.audit.record("auth.password_reset", "user", str(user.id))
        await uow.commit()
    await end_every_session(ports, user.id, tenant_ids, client)
    await _unlock(ports, user)


async def change_password(
    principal: Principal, current_password: str, new_password: str, ports: Identity, client: Client
) -> None:
    """Change one's own password; every other session of the account ends."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    await check_throttles(ports.throttle, (MFA_PER_ACCOUNT, str(user_id)))
    async with ports.units(principal.tenant_id, user_id) as uow:
        user = await uow.users.get(user_id)
    if user is None:
        raise AuthenticationFailed("the account behind this token no longer exists")
    candidate = await ports.directory.find_login(user.email)
    stored_hash = candidate.password_hash if candidate else None
    if not await ports.hasher.verify(stored_hash, current_password):
        await ports.throttle.record_failure(MFA_PER_ACCOUNT, str(user_id))
        raise InvalidInput.single("current_password", "is not correct")
    check_new_password(new_password, email=user.email, name=user.name, field="new_password")
    new_hash = await ports.hasher.hash(new_password)
    now = ports.clock.now()
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        await uow.users.set_password_hash(user_id, new_hash, now)
        await uow.sessions.revoke_all(user_id, now, except_id=principal.session_id)
        await uow.audit.record("auth.password_changed", "user", str(user_id))
        await uow.commit()
    others = [
        tenant for tenant in (candidate.tenant_ids if candidate else []) if tenant != principal.tenant_id
    ]
    await end_every_session(ports, user_id, others, client)


async def request_email_verification(principal: Principal, ports: Identity, client: Client) -> bool:
    """Mail a new verification link; False when the address is already verified."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    await _count_request(ports, str(user_id), client)
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        user = await uow.users.get(user_id)
        if user is None or user.email_verified_at is not None:
            return False
        await mail_token(uow, ports, user_id, user.email, TokenPurpose.VERIFY_EMAIL, principal.tenant_id)
        await uow.commit()
    return True


async def verify_email(token: str, ports: Identity, client: Client) -> None:
    user, tenant_ids = await _redeem(token, TokenPurpose.VERIFY_EMAIL, ports, client)
    now = ports.clock.now()
    async with ports.units(_first(tenant_ids), user.id, as_user(user.id, client)) as uow:
        stored = await _live_token(uow, token, TokenPurpose.VERIFY_EMAIL, user, now)
        await uow.account_tokens.mark_used(stored.id, now)
        await uow.users.mark_email_verified(user.id, now)
        if tenant_ids:
            await uow.audit.record("user.email_verified", "user", str(user.id), {"email": user.email})
        await uow.commit()


async def unlock_account(token: str, ports: Identity, client: Client) -> None:
    """Lift a lockout with the link mailed when it began."""
    user, tenant_ids = await _redeem(token, TokenPurpose.UNLOCK, ports, client)
    now = ports.clock.now()
    async with ports.units(_first(tenant_ids), user.id, as_user(user.id, client)) as uow:
        stored = await _live_token(uow, token, TokenPurpose.UNLOCK, user, now)
        await uow.account_tokens.mark_used(stored.id, now)
        if tenant_ids:
            await uow.audit.record("auth.unlocked", "user", str(user.id))
        await uow.commit()
    await _unlock(ports, user)


async def _redeem(
    token: str, purpose: TokenPurpose, ports: Identity, client: Client
) -> tuple[User, list[UUID]]:
    """The account a mailed token belongs to, and its tenants; unknown tokens count as failures."""
    address_key = client.ip or UNKNOWN_ADDRESS
    await check_throttles(ports.throttle, (EMAIL_TOKENS_PER_ADDRESS, address_key))
    user_id = await ports.directory.find_account_token(token_hash_of(token))
    user = None
    if user_id is not None:
        async with ports.units(None, user_id) as uow:
            user = await uow.users.get(user_id)
            stored = await uow.account_tokens.get_by_hash(token_hash_of(token))
        if stored is None or stored.purpose is not purpose or not stored.is_live(ports.clock.now()):
            user = None
    if user is None:
        await ports.throttle.record_failure(EMAIL_TOKENS_PER_ADDRESS, address_key)
        raise InvalidInput.single("token", BAD_TOKEN)
    candidate = await ports.directory.find_login(user.email)
    return user, candidate.tenant_ids if candidate else []


async def _live_token(
    uow: UnitOfWork, token: str, purpose: TokenPurpose, user: User, now: datetime
) -> AccountToken:
    """The token again, now locked: of two redemptions racing, one succeeds."""
    stored = await uow.account_tokens.get_by_hash(token_hash_of(token))
    # A token mailed to an address the account no longer has proves nothing about the account.
    if (
        stored is None
        or stored.purpose is not purpose
        or not stored.is_live(now)
        or stored.email != user.email
    ):
        raise InvalidInput.single("token", BAD_TOKEN)
    return stored


async def _unlock(ports: Identity, user: User) -> None:
    await ports.throttle.clear(SIGN_IN_PER_ACCOUNT, user.email)
    await ports.throttle.clear(MFA_PER_ACCOUNT, str(user.id))


async def _count_request(ports: Identity, account_key: str, client: Client) -> None:
    """Mail-sending requests are counted whatever their outcome: they cost a message each."""
    address_key = client.ip or UNKNOWN_ADDRESS
    await check_throttles(
        ports.throttle, (EMAIL_TOKENS_PER_ACCOUNT, account_key), (EMAIL_TOKENS_PER_ADDRESS, address_key)
    )
    await ports.throttle.record_failure(EMAIL_TOKENS_PER_ACCOUNT, account_key)
    await ports.throttle.record_failure(EMAIL_TOKENS_PER_ADDRESS, address_key)


def _first(tenant_ids: list[UUID]) -> UUID | None:
    return tenant_ids[0] if tenant_ids else None


def _normalized(email: str) -> str | None:
    try:
        return normalize_email(email)
    except InvalidInput:
        return None
