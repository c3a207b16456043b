"""Signing in through an outside provider (Google, GitHub, ...).

An outside identity links to an account only through an email address the provider says it
verified; a person new to Switchboard gets an account and a workspace of their own, like
registering. A linked account with a second factor still has to pass it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from switchboard.core.identity.handlers import MfaRequired, finish_sign_in, member_principal
from switchboard.core.identity.model import (
    Client,
    ExternalIdentity,
    ExternalIdentityLink,
    SignInRejected,
    TokenPair,
    User,
    clean_person_name,
    normalize_email,
)
from switchboard.core.identity.sessions import Identity, as_user
from switchboard.core.tenancy.model import Membership, Role, Tenant

if TYPE_CHECKING:
    from datetime import datetime

    from switchboard.ports.sign_in import SignInProviders

STATE_LIFETIME_SECONDS = 600
NOT_VOUCHED = "the provider did not confirm an email address for this account"
# Someone may have registered the address without owning it: linking would hand them the
# account of whoever owns it. The owner proves it by a password reset, which verifies it.
UNVERIFIED_ACCOUNT = (
    "an account with this address exists but never verified it: reset its password to prove the "
    "address, then sign in with the provider again"
)


@dataclass(frozen=True)
class Started:
    authorization_url: str
    state_envelope: str  # kept by the browser (a cookie) until the provider sends it back


async def begin(slug: str, redirect_uri: str, providers: SignInProviders, ports: Identity) -> Started:
    provider = providers.get(slug)
    if provider is None:
        raise NotFound(f"no sign-in provider {slug!r} is configured")
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = await provider.authorization_url(
        redirect_uri=redirect_uri, state=state, nonce=nonce, code_challenge=challenge
    )
    envelope = ports.tokens.issue_state(
        {
            "provider": slug,
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "redirect_uri": redirect_uri,
        },
        ports.clock.now(),
        STATE_LIFETIME_SECONDS,
    )
    return Started(url, envelope)


async def complete(
    slug: str,
    code: str,
    state: str,
    envelope: str | None,
    providers: SignInProviders,
    ports: Identity,
    client: Client,
) -> TokenPair | MfaRequired:
    provider = providers.get(slug)
    if provider is None:
        raise NotFound(f"no sign-in provider {slug!r} is configured")
    if envelope is None:
        raise AuthenticationFailed("the sign-in was not started from this browser")
    claims = ports.tokens.verify_state(envelope)
    # The state ties the provider's answer to the browser that started: no login CSRF.
    if claims.get("provider") != slug or not hmac.compare_digest(claims.get("state", ""), state):
        raise AuthenticationFailed("the sign-in state does not match")
    try:
        identity = await provider.complete(
            code=code,
            redirect_uri=claims["redirect_uri"],
            nonce=claims["nonce"],
            code_verifier=claims["verifier"],
        )
    except SignInRejected as error:
        raise AuthenticationFailed(f"the provider did not confirm the sign-in: {error}") from error

    user_id = await ports.directory.find_external_identity(identity.provider, identity.subject)
    if user_id is None:
        user_id = await _link_or_create(identity, ports, client)
    candidate = await _candidate_tenants(ports, user_id)
    if not candidate:
        raise AuthenticationFailed("this account belongs to no tenant")
    tenant_id = candidate[0]
    async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
        principal = await member_principal(uow, user_id, tenant_id)
        outcome = await finish_sign_in(uow, principal, ports, client, method=slug)
        await uow.commit()
    return outcome


async def _link_or_create(identity: ExternalIdentity, ports: Identity, client: Client) -> UUID:
    if not identity.email or not identity.email_verified:
        raise AuthenticationFailed(NOT_VOUCHED)
    try:
        email = normalize_email(identity.email)
    except InvalidInput as error:
        raise AuthenticationFailed(NOT_VOUCHED) from error
    now = ports.clock.now()
    existing = await ports.directory.find_login(email)
    if existing is not None:
        user_id = existing.user_id
        tenant_id = existing.tenant_ids[0] if existing.tenant_ids else None
        async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
            user = await uow.users.get(user_id)
            if user is None or user.email_verified_at is None:
                raise AuthenticationFailed(UNVERIFIED_ACCOUNT)
            await uow.external_identities.add(_link(identity, user_id, now))
            await uow.users.mark_email_verified(user_id, now)
            if tenant_id is not None:
                changes = {"provider": identity.provider, "email": email}
                await uow.audit.record("user.identity_linked", "user", str(user_id), changes)
            await uow.commit()
        return user_id

    name = _display_name(identity, email)
    user = User(uuid4(), email, name, now, now, email_verified_at=now)
    tenant = Tenant(uuid4(), f"{name}'s workspace"[:200], now, now)
    async with ports.units(tenant.id, user.id, as_user(user.id, client)) as uow:
        await uow.tenants.add(tenant)
        try:
            await uow.users.add(user, None)
        except Conflict as error:  # registered meanwhile: let them sign in again to link
            raise AuthenticationFailed("the account was created meanwhile; sign in again") from error
        await uow.memberships.add(Membership(tenant.id, user.id, Role.OWNER, now))
        await uow.external_identities.add(_link(identity, user.id, now))
        await uow.audit.record("tenant.created", "tenant", str(tenant.id), {"name": tenant.name})
        await uow.audit.record(
            "user.registered", "user", str(user.id), {"email": email, "via": identity.provider}
        )
        await uow.commit()
    return user.id


def _link(identity: ExternalIdentity, user_id: UUID, now: datetime) -> ExternalIdentityLink:
    return ExternalIdentityLink(identity.provider, identity.subject, user_id, identity.email, now)


def _display_name(identity: ExternalIdentity, email: str) -> str:
    try:
        return clean_person_name(identity.name or "")
    except InvalidInput:
        return email.split("@")[0]


async def _candidate_tenants(ports: Identity, user_id: UUID) -> list[UUID]:
    async with ports.units(None, user_id) as uow:
        user = await uow.users.get(user_id)
    if user is None:
        return []
    candidate = await ports.directory.find_login(user.email)
    return candidate.tenant_ids if candidate else []
