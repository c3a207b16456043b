"""Getting in: sign-up, sign-in and its second step, refresh, sign-out, the mailed-link flows
(verification, password reset, unlock), invitations, and outside sign-in providers.

Every route here is public: it is how a caller comes to hold a credential.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, redirect, request
from quart_schema import (
    document_response,
    security_scheme_blueprint,
    tag,
    validate_querystring,
    validate_request,
)

from switchboard.core.identity import accounts, external, handlers, mfa
from switchboard.core.identity.handlers import MfaRequired
from switchboard.core.identity.model import EMAIL_MAX, NAME_MAX, TokenPair
from switchboard.core.identity.passwords import PASSWORD_MAX
from switchboard.core.identity.sessions import Identity
from switchboard.core.tenancy import team
from switchboard.core.tenancy.model import TENANT_NAME_MAX
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import bearer_token, client, principal_of
from switchboard.entrypoints.http.blueprints.schemas import (
    TenantOut,
    UserOut,
    render_tenant,
    render_user,
)
from switchboard.entrypoints.http.responses import json_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.sign_in import SignInProviders

blueprint = Blueprint("auth", __name__, url_prefix="/v1/auth")
security_scheme_blueprint(blueprint, [])  # public: these routes are how a caller gets a token
_TOKEN_MAX = 200
_CODE_MAX = 64
SIGN_IN_COOKIE = "sb_sign_in"


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
    refresh_token: str = Field(min_length=1, max_length=_TOKEN_MAX)


class MfaVerifyIn(_Strict):
    challenge_token: str = Field(min_length=1, max_length=2000)
    code: str = Field(min_length=1, max_length=_CODE_MAX, description="A TOTP code or a recovery code")


class EmailIn(_Strict):
    email: str = Field(max_length=EMAIL_MAX * 4)


class TokenIn(_Strict):
    token: str = Field(min_length=1, max_length=_TOKEN_MAX)


class ResetIn(_Strict):
    token: str = Field(min_length=1, max_length=_TOKEN_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX * 4)


class AcceptIn(_Strict):
    """A new account gives ``name`` and ``password``; an existing one its own ``password``, or
    is signed in (send its access token)."""

    token: str = Field(min_length=1, max_length=_TOKEN_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    password: str | None = Field(default=None, max_length=PASSWORD_MAX * 4)


class CallbackQuery(BaseModel):
    code: str = Field(min_length=1, max_length=2000)
    state: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    tenant_id: UUID
    user_id: UUID


class MfaRequiredOut(BaseModel):
    mfa_required: Literal[True]
    challenge_token: str
    expires_in: int


class RegisteredOut(TokenOut):
    tenant: TenantOut
    user: UserOut


class ProvidersOut(BaseModel):
    object: Literal["list"]
    data: list[str]
    has_more: bool
    next_cursor: str | None


def render_tokens(pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "tenant_id": pair.principal.tenant_id,
        "user_id": pair.principal.user_id,
    }


def _signed_in(outcome: TokenPair | MfaRequired) -> Response:
    if isinstance(outcome, MfaRequired):
        body = {
            "mfa_required": True,
            "challenge_token": outcome.challenge_token,
            "expires_in": outcome.expires_in,
        }
        return json_response(body)
    return json_response(render_tokens(outcome))


@blueprint.post("/register")
@tag(["auth"])
@validate_request(RegisterIn)
@document_response(RegisteredOut, 201)
@inject
async def register(data: RegisterIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Sign up a business: its tenant, its owner and a first token pair. A link to verify the
    address is mailed."""
    command = handlers.Register(data.tenant_name, data.name, data.email, data.password)
    registered = await handlers.register(command, identity, client())
    body = render_tokens(registered.tokens) | {
        "tenant": render_tenant(registered.tenant),
        "user": render_user(registered.user),
    }
    return json_response(body, status=201, headers={"Location": "/v1/tenant"})


@blueprint.post("/login")
@tag(["auth"])
@validate_request(LoginIn)
@document_response(TokenOut)
@inject
async def login(data: LoginIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Sign in with email and password, into the given tenant or the first one joined.

    With a second factor enrolled the answer is ``{"mfa_required": true, "challenge_token"}``;
    finish with ``POST /v1/auth/mfa/verify``. Repeated failures slow down, then lock the
    account for a while (429 with Retry-After); the owner is mailed a link to unlock it.
    """
    command = handlers.Login(data.email, data.password, data.tenant_id)
    return _signed_in(await handlers.login(command, identity, client()))


@blueprint.post("/mfa/verify")
@tag(["auth"])
@validate_request(MfaVerifyIn)
@document_response(TokenOut)
@inject
async def verify_mfa(data: MfaVerifyIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Second step of sign-in: a code from the authenticator app (each is accepted once) or an
    unused recovery code."""
    pair = await mfa.verify_challenge(data.challenge_token, data.code, identity, client())
    return json_response(render_tokens(pair))


@blueprint.post("/refresh")
@tag(["auth"])
@validate_request(RefreshIn)
@document_response(TokenOut)
@inject
async def refresh(data: RefreshIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Trade a refresh token for a new pair; each refresh token works once, and presenting a
    used one ends its session."""
    return json_response(render_tokens(await handlers.refresh(data.refresh_token, identity, client())))


@blueprint.post("/logout")
@tag(["auth"])
@validate_request(RefreshIn)
@inject
async def logout(data: RefreshIn, identity: Identity = Provide[Container.identity]) -> Response:
    """End the session a refresh token belongs to. Always 204."""
    await handlers.logout(data.refresh_token, identity, client())
    return Response(status=204)


@blueprint.post("/password/forgot")
@tag(["auth"])
@validate_request(EmailIn)
@inject
async def forgot_password(data: EmailIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Mail a single-use reset link (valid one hour) if the address has an account. Always 202,
    so the answer never tells whether it has."""
    await accounts.request_password_reset(data.email, identity, client())
    return Response(status=202)


@blueprint.post("/password/reset")
@tag(["auth"])
@validate_request(ResetIn)
@inject
async def reset_password(data: ResetIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Set a new password with a mailed token. Every session and refresh token of the account
    ends, and a lockout is lifted."""
    await accounts.reset_password(data.token, data.password, identity, client())
    return Response(status=204)


@blueprint.post("/email/verify")
@tag(["auth"])
@validate_request(TokenIn)
@inject
async def verify_email(data: TokenIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Confirm the account's address with the mailed token."""
    await accounts.verify_email(data.token, identity, client())
    return Response(status=204)


@blueprint.post("/unlock")
@tag(["auth"])
@validate_request(TokenIn)
@inject
async def unlock(data: TokenIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Lift a sign-in lockout with the link mailed when it began."""
    await accounts.unlock_account(data.token, identity, client())
    return Response(status=204)


@blueprint.post("/invitations/accept")
@tag(["auth", "team"])
@validate_request(AcceptIn)
@document_response(TokenOut)
@inject
async def accept_invitation(data: AcceptIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Join a team with a mailed invitation; answers a session in that tenant."""
    token = bearer_token()
    caller = None
    if token is not None:
        caller = await principal_of(token, identity.tokens, identity.directory, identity.clock)
    command = team.Accept(data.token, data.name, data.password)
    pair = await team.accept_invitation(command, identity, client(), caller)
    return json_response(render_tokens(pair))


@blueprint.get("/sign-in")
@tag(["auth"])
@document_response(ProvidersOut)
@inject
async def sign_in_providers(providers: SignInProviders = Provide[Container.sign_in_providers]) -> Response:
    """The outside sign-in providers this server offers."""
    listing = {"object": "list", "data": providers.slugs(), "has_more": False, "next_cursor": None}
    return json_response(listing)


@blueprint.get("/sign-in/<string:provider>")
@tag(["auth"])
@inject
async def start_sign_in(
    provider: str,
    providers: SignInProviders = Provide[Container.sign_in_providers],
    identity: Identity = Provide[Container.identity],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Redirect the browser to the provider. Its answer comes back to the callback below."""
    started = await external.begin(provider, _callback_url(settings, provider), providers, identity)
    response = redirect(started.authorization_url, 302)
    response.set_cookie(
        SIGN_IN_COOKIE,
        started.state_envelope,
        max_age=external.STATE_LIFETIME_SECONDS,
        secure=settings.public_url.startswith("https://"),
        httponly=True,
        samesite="Lax",
        path="/v1/auth/sign-in",
    )
    return response


@blueprint.get("/sign-in/<string:provider>/callback")
@tag(["auth"])
@validate_querystring(CallbackQuery)
@document_response(TokenOut)
@inject
async def finish_sign_in(
    provider: str,
    query_args: CallbackQuery,
    providers: SignInProviders = Provide[Container.sign_in_providers],
    identity: Identity = Provide[Container.identity],
) -> Response:
    """Where the provider sends the browser back: the same answers as ``/login``."""
    envelope = request.cookies.get(SIGN_IN_COOKIE)
    outcome = await external.complete(
        provider, query_args.code, query_args.state, envelope, providers, identity, client()
    )
    response = _signed_in(outcome)
    response.delete_cookie(SIGN_IN_COOKIE, path="/v1/auth/sign-in")
    return response


def _callback_url(settings: Settings, provider: str) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/auth/sign-in/{provider}/callback"
