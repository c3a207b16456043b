"""What every way of signing in shares: the ports it needs, the session it opens, the mail it
sends, and the audit context it records under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.audit.model import Actor, ActorType, AuditContext
from switchboard.core.errors import TooManyAttempts
from switchboard.core.identity.model import (
    REFRESH_TOKEN_LIFETIME,
    USER_AGENT_MAX,
    AccountToken,
    Client,
    Principal,
    RefreshToken,
    Session,
    TokenPair,
    TokenPurpose,
    hash_opaque_token,
    new_opaque_token,
)
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.security.throttling import ThrottlePolicy

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.providers import SecretBox
    from switchboard.ports.security import AccessTokens, OneTimePasswords, PasswordHasher
    from switchboard.ports.throttling import AttemptThrottle

ACCOUNT_EMAIL = "account_email.send"  # an outbox job kind the email feature flag never holds back
TOKEN_LIFETIMES = {
    TokenPurpose.VERIFY_EMAIL: timedelta(days=1),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.UNLOCK: timedelta(hours=1),
}
_MAIL = {
    TokenPurpose.VERIFY_EMAIL: ("Confirm your email address", "verify-email"),
    TokenPurpose.RESET_PASSWORD: ("Reset your password", "reset-password"),
    TokenPurpose.UNLOCK: ("Your account was locked after failed sign-ins", "unlock"),
}


@dataclass(frozen=True)
class Identity:
    """The ports that sign-in and account security work with, bundled once by the container."""

    directory: IdentityDirectory
    units: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: AccessTokens
    clock: Clock
    throttle: AttemptThrottle
    otp: OneTimePasswords
    box: SecretBox
    # Where people open the links mailed to them (the web app); the token rides in the fragment,
    # which browsers never send to a server, so it stays out of access logs.
    app_url: str = "http://127.0.0.1:8000"
    issuer: str = "Switchboard"


def as_user(user_id: UUID, client: Client, admin_id: UUID | None = None) -> AuditContext:
    return AuditContext(Actor(ActorType.USER, user_id, admin_id), client)


def context_of(principal: Principal, client: Client) -> AuditContext:
    if principal.api_key_id is not None:
        return AuditContext(Actor(ActorType.API_KEY, principal.api_key_id), client)
    return AuditContext(Actor(ActorType.USER, principal.user_id, principal.impersonator_id), client)


def clean_client(client: Client) -> Client:
    agent = client.user_agent[:USER_AGENT_MAX] if client.user_agent else None
    return Client(ip=client.ip, user_agent=agent, request_id=client.request_id)


async def start_session(
    uow: UnitOfWork, principal: Principal, ports: Identity, client: Client, *, refresh: bool = True
) -> TokenPair:
    """Open a session for ``principal`` and issue its first tokens."""
    now = ports.clock.now()
    client = clean_client(client)
    session = Session(
        id=uuid4(),
        tenant_id=principal.tenant_id,
        user_id=principal.acting_user,
        created_at=now,
        last_seen_at=now,
        ip=client.ip,
        user_agent=client.user_agent,
        impersonator_id=principal.impersonator_id,
    )
    await uow.sessions.add(session)
    return await issue_tokens(uow, _with_session(principal, session.id), ports, refresh=refresh)


async def issue_tokens(
    uow: UnitOfWork, principal: Principal, ports: Identity, *, refresh: bool = True
) -> TokenPair:
    """An access token for the principal's session and, unless ``refresh`` is off, the next
    refresh token of its family."""
    now = ports.clock.now()
    plain = ""
    if refresh and principal.session_id is not None:
        plain, token_hash = new_opaque_token()
        await uow.refresh_tokens.add(
            RefreshToken(
                id=uuid4(),
                tenant_id=principal.tenant_id,
                user_id=principal.acting_user,
                family_id=principal.session_id,
                token_hash=token_hash,
                created_at=now,
                expires_at=now + REFRESH_TOKEN_LIFETIME,
            )
        )
    return TokenPair(
        access_token=ports.tokens.issue(principal, now),
        refresh_token=plain,
        expires_in=ports.tokens.lifetime_seconds,
        principal=principal,
    )


def _with_session(principal: Principal, session_id: UUID) -> Principal:
    return Principal(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        role=principal.role,
        session_id=session_id,
        impersonator_id=principal.impersonator_id,
    )


async def mail_token(
    uow: UnitOfWork, ports: Identity, user_id: UUID, email: str, purpose: TokenPurpose, tenant_id: UUID
) -> None:
    """Mail a fresh single-use token; any earlier one of the same purpose stops working."""
    now = ports.clock.now()
    await uow.account_tokens.void_outstanding(user_id, purpose, now)
    plain, token_hash = new_opaque_token("sbt_")
    await uow.account_tokens.add(
        AccountToken(uuid4(), user_id, purpose, token_hash, email, now, now + TOKEN_LIFETIMES[purpose])
    )
    subject, page = _MAIL[purpose]
    hours = int(TOKEN_LIFETIMES[purpose].total_seconds() // 3600)
    text = (
        f"{subject}.\n\nOpen {ports.app_url}/{page}#token={plain}\n\n"
        f"The link works once, for {hours} hour{'s' if hours != 1 else ''}. "
        "If you did not ask for it, ignore this message."
    )
    await send_mail(uow, tenant_id, email, subject, text, now)


async def send_mail(
    uow: UnitOfWork, tenant_id: UUID, to: str, subject: str, text: str, now: datetime
) -> None:
    payload = {"to": to, "subject": subject, "text": text}
    await uow.outbox.add(new_outbox_message(tenant_id, ACCOUNT_EMAIL, payload, now))


async def check_throttles(throttle: AttemptThrottle, *checks: tuple[ThrottlePolicy, str]) -> None:
    """Refuse the attempt while any of its keys must wait."""
    for policy, key in checks:
        status = await throttle.status(policy, key)
        if not status.allowed:
            what = "account" if policy.name.endswith("account") else "address"
            raise TooManyAttempts(
                f"too many failed attempts for this {what}; try again in {status.retry_after_seconds} s",
                retry_after=status.retry_after_seconds,
                limit=status.limit,
                remaining=0,
            )


def token_hash_of(plain: str) -> str:
    return hash_opaque_token(plain.strip())
