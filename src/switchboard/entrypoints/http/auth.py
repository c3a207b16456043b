"""Who is calling: the bearer token on the request, checked once and kept on ``g``."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from quart import g, request

from switchboard.core.errors import AuthenticationFailed
from switchboard.core.identity.model import Principal
from switchboard.entrypoints.container import Container
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.security import AccessTokens


@inject
async def require_principal(access_tokens: AccessTokens = Provide[Container.access_tokens]) -> None:
    """Blueprint guard: every route behind it needs a valid access token.

    CORS preflight requests carry no credentials by design, so OPTIONS passes.
    """
    if request.method == "OPTIONS":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("send an access token as 'Authorization: Bearer <token>'")
    g.principal = access_tokens.verify(token.strip())


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


def acting(units: UnitOfWorkFactory) -> tuple[Principal, UnitOfWork]:
    """The caller, and a unit of work scoped to their tenant and acting as them."""
    principal = current_principal()
    return principal, units(principal.tenant_id, principal.user_id)
