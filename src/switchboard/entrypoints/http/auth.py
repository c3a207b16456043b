"""Who is calling: the bearer credential on the request, checked once and kept on ``g``.

A user's access token is verified by signature, then its session is looked up on every
request, so a revoked session, a removed member, a changed role or a suspended tenant takes
effect at once. An API key (``sbk_...``) is looked up by its hash each time, for the same reason.
"""

from __future__ import annotations

from dataclasses import replace

from dependency_injector.wiring import Provide, inject
from quart import g, request

from switchboard.core.apikeys.handlers import authenticate as authenticate_key
from switchboard.core.apikeys.model import KEY_PREFIX
from switchboard.core.errors import AuthenticationFailed
from switchboard.core.identity.model import Client, Principal
from switchboard.core.identity.sessions import context_of
from switchboard.entrypoints.container import Container
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, UnitOfWork, UnitOfWorkFactory
from switchboard.ports.security import AccessTokens

SESSION_ENDED = "the session has ended; sign in again"


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@inject
async def require_principal(
    access_tokens: AccessTokens = Provide[Container.access_tokens],
    directory: IdentityDirectory = Provide[Container.directory],
    clock: Clock = Provide[Container.clock],
) -> None:
    """Blueprint guard: every route behind it needs a valid access token or API key.

    CORS preflight requests carry no credentials by design, so OPTIONS passes.
    """
    if request.method == "OPTIONS":
        return
    token = bearer_token()
    if token is None:
        raise AuthenticationFailed("send an access token or API key as 'Authorization: Bearer <token>'")
    g.principal = await principal_of(token, access_tokens, directory, clock)


async def principal_of(
    token: str, access_tokens: AccessTokens, directory: IdentityDirectory, clock: Clock
) -> Principal:
    if token.startswith(KEY_PREFIX):
        return await authenticate_key(token, request.headers.get("Origin"), directory, clock)
    principal = access_tokens.verify(token)
    if principal.session_id is None:
        raise AuthenticationFailed("the access token is not valid")
    role = await directory.check_session(principal.tenant_id, principal.acting_user, principal.session_id)
    if role is None:
        raise AuthenticationFailed(SESSION_ENDED)
    return principal if role is principal.role else replace(principal, role=role)


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


def client() -> Client:
    """What the request tells of the caller, for sessions and the audit log."""
    return Client(
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        request_id=getattr(g, "request_id", None),
    )


def acting(units: UnitOfWorkFactory) -> tuple[Principal, UnitOfWork]:
    """The caller, and a unit of work scoped to their tenant, acting and audited as them."""
    principal = current_principal()
    return principal, units(principal.tenant_id, principal.user_id, context_of(principal, client()))
