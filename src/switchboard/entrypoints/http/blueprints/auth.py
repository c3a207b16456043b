"""Sign-up, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, security_scheme_blueprint, tag, validate_request

from switchboard.core.identity import handlers
from switchboard.core.identity.model import EMAIL_MAX, NAME_MAX, PASSWORD_MAX, TokenPair
from switchboard.core.tenancy.model import TENANT_NAME_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.blueprints.schemas import (
    TenantOut,
    UserOut,
    render_tenant,
    render_user,
)
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import IdentityDirectory, UnitOfWorkFactory
from switchboard.ports.security import AccessTokens, PasswordHasher

blueprint = Blueprint("auth", __name__, url_prefix="/v1/auth")
security_scheme_blueprint(blueprint, [])  # public: these routes are how a caller gets a token
_REFRESH_TOKEN_MAX = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_Strict):
    tenant_name: str = Field(min_length=1, max_length=TENANT_NAME_MAX)
    name: str = Field(min_length=1, max_length=NAME_MAX)
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX * 4)


class LoginIn(_Strict):
    email: str = Field(max_length=EMAIL_MAX * 4)
    password: str = Field(max_length=PASSWORD_MAX * 4)
    tenant_id: UUID | None = None


class RefreshIn(_Strict):
    refresh_token: str = Field(min_length=1, max_length=_REFRESH_TOKEN_MAX)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    tenant_id: UUID
    user_id: UUID


class RegisteredOut(TokenOut):
    tenant: TenantOut
    user: UserOut


def _tokens(pair: TokenPair) -> dict[str, object]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "tenant_id": pair.principal.tenant_id,
        "user_id": pair.principal.user_id,
    }


@blueprint.post("/register")
@tag(["auth"])
@validate_request(RegisterIn)
@document_response(RegisteredOut, 201)
@inject
async def register(
    data: RegisterIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    hasher: PasswordHasher = Provide[Container.password_hasher],
    access_tokens: AccessTokens = Provide[Container.access_tokens],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Sign up a business: its tenant, its owner and a first token pair."""
    command = handlers.Register(data.tenant_name, data.name, data.email, data.password)
    registered = await handlers.register(command, units, hasher, access_tokens, clock)
    body = _tokens(registered.tokens) | {
        "tenant": render_tenant(registered.tenant),
        "user": render_user(registered.user),
    }
    return json_response(body, status=201, headers={"Location": "/v1/tenant"})


@blueprint.post("/login")
@tag(["auth"])
@validate_request(LoginIn)
@document_response(TokenOut)
@inject
async def login(
    data: LoginIn,
    directory: IdentityDirectory = Provide[Container.directory],
    units: UnitOfWorkFactory = Provide[Container.units],
    hasher: PasswordHasher = Provide[Container.password_hasher],
    access_tokens: AccessTokens = Provide[Container.access_tokens],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Sign in with email and password, into the given tenant or the first one joined."""
    command = handlers.Login(data.email, data.password, data.tenant_id)
    pair = await handlers.login(command, directory, units, hasher, access_tokens, clock)
    return json_response(_tokens(pair))


@blueprint.post("/refresh")
@tag(["auth"])
@validate_request(RefreshIn)
@document_response(TokenOut)
@inject
async def refresh(
    data: RefreshIn,
    directory: IdentityDirectory = Provide[Container.directory],
    units: UnitOfWorkFactory = Provide[Container.units],
    access_tokens: AccessTokens = Provide[Container.access_tokens],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Trade a refresh token for a new pair; each refresh token works once."""
    pair = await handlers.refresh(data.refresh_token, directory, units, access_tokens, clock)
    return json_response(_tokens(pair))


@blueprint.post("/logout")
@tag(["auth"])
@validate_request(RefreshIn)
@inject
async def logout(
    data: RefreshIn,
    directory: IdentityDirectory = Provide[Container.directory],
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """End the session a refresh token belongs to. Always 204."""
    await handlers.logout(data.refresh_token, directory, units, clock)
    return Response(status=204)
