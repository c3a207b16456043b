"""A second factor: TOTP enrolment, the sign-in step that checks it, recovery codes, removal.

A code is accepted once: its time step must be later than the last one used, so a code seen
over a shoulder is worthless a moment later. Recovery codes are single use and stored hashed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from switchboard.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from switchboard.core.identity.handlers import member_principal
from switchboard.core.identity.model import Client, MfaFactor, Principal, TokenPair
from switchboard.core.identity.sessions import Identity, as_user, check_throttles, start_session
from switchboard.core.security.throttling import MFA_PER_ACCOUNT, SIGN_IN_PER_ADDRESS
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from switchboard.ports.persistence import UnitOfWork

RECOVERY_CODES = 10
BAD_CODE = "the code is not correct"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    provisioning_uri: str
    qr_svg: str


async def start_enrolment(principal: Principal, ports: Identity, client: Client) -> Enrolment:
    """A new secret for the user's authenticator app; nothing changes at sign-in until a first
    code confirms it."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    secret = ports.otp.new_secret()
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        current = await uow.mfa.get(user_id, for_update=True)
        if current is not None and current.active:
            raise Conflict("a second factor is already enabled; disable it first", code="mfa_enabled")
        user = await uow.users.get(user_id)
        if user is None:
            raise AuthenticationFailed("the account behind this token no longer exists")
        await uow.mfa.save(MfaFactor(user_id, ports.box.seal(secret.encode()), ports.clock.now()))
        await uow.audit.record("mfa.enrolment_started", "user", str(user_id))
        await uow.commit()
    uri = ports.otp.provisioning_uri(secret, user.email, ports.issuer)
    return Enrolment(secret, uri, ports.otp.qr_svg(uri))


async def confirm_enrolment(principal: Principal, code: str, ports: Identity, client: Client) -> list[str]:
    """Turn the factor on with a first code; answers the recovery codes, shown this once."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    await check_throttles(ports.throttle, (MFA_PER_ACCOUNT, str(user_id)))
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        factor = await uow.mfa.get(user_id, for_update=True)
        if factor is None or factor.active:
            raise Conflict("there is no enrolment waiting for a first code", code="no_pending_enrolment")
        now = ports.clock.now()
        step = _fresh_step(ports, factor, code, now)
        if step is None:
            await ports.throttle.record_failure(MFA_PER_ACCOUNT, str(user_id))
            raise InvalidInput.single("code", BAD_CODE.removeprefix("the code "))
        await uow.mfa.save(replace(factor, confirmed_at=now, last_used_step=step))
        codes = await _new_recovery_codes(uow, user_id)
        await uow.audit.record("mfa.enabled", "user", str(user_id))
        await uow.commit()
    return codes


async def verify_challenge(challenge_token: str, code: str, ports: Identity, client: Client) -> TokenPair:
    """The second step of sign-in: a fresh TOTP code or an unused recovery code."""
    user_id, tenant_id = ports.tokens.verify_challenge(challenge_token)
    account_key = str(user_id)
    await check_throttles(
        ports.throttle, (MFA_PER_ACCOUNT, account_key), (SIGN_IN_PER_ADDRESS, client.ip or "unknown")
    )
    async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
        factor = await uow.mfa.get(user_id, for_update=True)
        if factor is None or not factor.active:
            raise AuthenticationFailed("the challenge is no longer valid")
        method = await _accept(uow, ports, factor, code)
        if method is None:
            await uow.audit.record("auth.mfa_failed", "user", str(user_id))
            await uow.commit()
            await ports.throttle.record_failure(MFA_PER_ACCOUNT, account_key)
            await ports.throttle.record_failure(SIGN_IN_PER_ADDRESS, client.ip or "unknown")
            raise AuthenticationFailed(BAD_CODE)
        principal = await member_principal(uow, user_id, tenant_id)
        pair = await start_session(uow, principal, ports, client)
        await uow.audit.record("auth.signed_in", "user", str(user_id), {"method": f"password+{method}"})
        await uow.commit()
    await ports.throttle.clear(MFA_PER_ACCOUNT, account_key)
    return pair


async def disable(
    principal: Principal, code: str | None, password: str | None, ports: Identity, client: Client
) -> None:
    """Remove the factor and its recovery codes, on a fresh code or the account's password."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    await check_throttles(ports.throttle, (MFA_PER_ACCOUNT, str(user_id)))
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        factor = await uow.mfa.get(user_id, for_update=True)
        if factor is None:
            raise NotFound("no second factor is enrolled")
        proven = False
        if code is not None:
            proven = (await _accept(uow, ports, factor, code, recovery=False)) is not None
        elif password is not None:
            proven = await _password_ok(uow, ports, principal, password)
        if not proven:
            await ports.throttle.record_failure(MFA_PER_ACCOUNT, str(user_id))
            raise InvalidInput.single("code" if code is not None else "password", "is not correct")
        await uow.mfa.delete(user_id)
        await uow.audit.record("mfa.disabled", "user", str(user_id))
        await uow.commit()


async def regenerate_recovery_codes(
    principal: Principal, code: str, ports: Identity, client: Client
) -> list[str]:
    """Ten new codes on a fresh TOTP code; the old ones stop working."""
    require(principal, Action.ACCOUNT_SECURITY)
    user_id = principal.acting_user
    await check_throttles(ports.throttle, (MFA_PER_ACCOUNT, str(user_id)))
    async with ports.units(principal.tenant_id, user_id, as_user(user_id, client)) as uow:
        factor = await uow.mfa.get(user_id, for_update=True)
        if factor is None or not factor.active:
            raise NotFound("no second factor is enabled")
        if await _accept(uow, ports, factor, code, recovery=False) is None:
            await ports.throttle.record_failure(MFA_PER_ACCOUNT, str(user_id))
            raise InvalidInput.single("code", "is not correct")
        codes = await _new_recovery_codes(uow, user_id)
        await uow.audit.record("mfa.recovery_codes_regenerated", "user", str(user_id))
        await uow.commit()
    return codes


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    pending: bool
    recovery_codes_left: int


async def status(principal: Principal, uow: UnitOfWork) -> MfaStatus:
    require(principal, Action.ACCOUNT_SECURITY)
    async with uow:
        factor = await uow.mfa.get(principal.acting_user)
        left = await uow.mfa.unused_recovery_codes(principal.acting_user) if factor else 0
    return MfaStatus(bool(factor and factor.active), bool(factor and not factor.active), left)


async def _accept(
    uow: UnitOfWork, ports: Identity, factor: MfaFactor, code: str, *, recovery: bool = True
) -> str | None:
    """How the code proved itself ("totp" or "recovery_code"), recording its use; None if not."""
    now = ports.clock.now()
    step = _fresh_step(ports, factor, code, now)
    if step is not None:
        await uow.mfa.save(replace(factor, last_used_step=step))
        return "totp"
    if recovery and await uow.mfa.use_recovery_code(factor.user_id, _hash_recovery_code(code), now):
        return "recovery_code"
    return None


def _fresh_step(ports: Identity, factor: MfaFactor, code: str, now: datetime) -> int | None:
    secret = ports.box.open(factor.sealed_secret).decode()
    step = ports.otp.matching_step(secret, code.strip().replace(" ", ""), now)
    if step is None or (factor.last_used_step is not None and step <= factor.last_used_step):
        return None
    return step


async def _new_recovery_codes(uow: UnitOfWork, user_id: UUID) -> list[str]:
    codes = [_format_code(secrets.token_hex(10)) for _ in range(RECOVERY_CODES)]
    await uow.mfa.replace_recovery_codes(user_id, [_hash_recovery_code(code) for code in codes])
    return codes


def _format_code(hex_digits: str) -> str:
    return "-".join(hex_digits[i : i + 5] for i in range(0, len(hex_digits), 5))


def _hash_recovery_code(code: str) -> str:
    # 80 random bits each: a fast digest suffices, as for every other high-entropy token.
    canonical = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _password_ok(uow: UnitOfWork, ports: Identity, principal: Principal, password: str) -> bool:
    user = await uow.users.get(principal.acting_user)
    candidate = await ports.directory.find_login(user.email) if user else None
    return await ports.hasher.verify(candidate.password_hash if candidate else None, password)
