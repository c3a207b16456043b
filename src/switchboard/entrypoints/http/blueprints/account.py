"""One's own account security: sessions, password, email verification, second factor.

API keys never reach these routes, and neither does a platform admin acting as the user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field, model_validator
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_request

from switchboard.core.identity import accounts, handlers, mfa
from switchboard.core.identity.model import Session
from switchboard.core.identity.passwords import PASSWORD_MAX
from switchboard.core.identity.sessions import Identity
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, client, current_principal, require_principal
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("account", __name__, url_prefix="/v1/auth")
blueprint.before_request(require_principal)
_CODE_MAX = 64


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PasswordChangeIn(_Strict):
    current_password: str = Field(max_length=PASSWORD_MAX * 4)
    new_password: str = Field(min_length=1, max_length=PASSWORD_MAX * 4)


class CodeIn(_Strict):
    code: str = Field(min_length=1, max_length=_CODE_MAX)


class DisableMfaIn(_Strict):
    """A fresh code from the authenticator app, or the account's password."""

    code: str | None = Field(default=None, min_length=1, max_length=_CODE_MAX)
    password: str | None = Field(default=None, max_length=PASSWORD_MAX * 4)

    @model_validator(mode="after")
    def one_proof(self) -> DisableMfaIn:
        if (self.code is None) == (self.password is None):
            raise ValueError("give either code or password")
        return self


class SessionOut(BaseModel):
    object: Literal["session"]
    id: UUID
    current: bool
    ip: str | None
    user_agent: str | None
    created_at: datetime
    last_seen_at: datetime


class SessionListOut(BaseModel):
    object: Literal["list"]
    data: list[SessionOut]
    has_more: bool
    next_cursor: str | None


class MfaStatusOut(BaseModel):
    object: Literal["mfa"]
    enabled: bool
    pending: bool
    recovery_codes_left: int


class EnrolmentOut(BaseModel):
    object: Literal["totp_enrolment"]
    secret: str
    provisioning_uri: str
    qr_svg: str


class RecoveryCodesOut(BaseModel):
    object: Literal["recovery_codes"]
    recovery_codes: list[str]


def _render_session(session: Session, current: UUID | None) -> dict[str, Any]:
    return {
        "object": "session",
        "id": session.id,
        "current": session.id == current,
        "ip": session.ip,
        "user_agent": session.user_agent,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
    }


@blueprint.get("/sessions")
@tag(["account"])
@document_response(SessionListOut)
@inject
async def list_sessions(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The caller's active sessions in this tenant, most recently seen first."""
    principal, uow = acting(units)
    sessions = await handlers.list_sessions(principal, uow)
    data = [_render_session(session, principal.session_id) for session in sessions]
    return json_response({"object": "list", "data": data, "has_more": False, "next_cursor": None})


@blueprint.delete("/sessions/<uuid:session_id>")
@tag(["account"])
@inject
async def revoke_session(
    session_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    identity: Identity = Provide[Container.identity],
) -> Response:
    """Sign one session out; its tokens stop working on their next request."""
    await handlers.revoke_session(session_id, *acting(units), identity)
    return Response(status=204)


@blueprint.delete("/sessions")
@tag(["account"])
@inject
async def revoke_other_sessions(
    units: UnitOfWorkFactory = Provide[Container.units], identity: Identity = Provide[Container.identity]
) -> Response:
    """Sign out every session but the current one."""
    await handlers.revoke_other_sessions(*acting(units), identity)
    return Response(status=204)


@blueprint.post("/password")
@tag(["account"])
@validate_request(PasswordChangeIn)
@inject
async def change_password(
    data: PasswordChangeIn, identity: Identity = Provide[Container.identity]
) -> Response:
    """Change the password; every other session of the account ends."""
    await accounts.change_password(
        current_principal(), data.current_password, data.new_password, identity, client()
    )
    return Response(status=204)


@blueprint.post("/email/verification")
@tag(["account"])
@inject
async def request_verification(identity: Identity = Provide[Container.identity]) -> Response:
    """Mail a new verification link (202), unless the address is already verified (204)."""
    sent = await accounts.request_email_verification(current_principal(), identity, client())
    return Response(status=202 if sent else 204)


@blueprint.get("/mfa")
@tag(["account"])
@document_response(MfaStatusOut)
@inject
async def mfa_status(units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Whether a second factor is on (or waiting for its first code), and recovery codes left."""
    found = await mfa.status(*acting(units))
    return json_response(
        {
            "object": "mfa",
            "enabled": found.enabled,
            "pending": found.pending,
            "recovery_codes_left": found.recovery_codes_left,
        }
    )


@blueprint.post("/mfa/totp")
@tag(["account"])
@document_response(EnrolmentOut, 201)
@inject
async def start_enrolment(identity: Identity = Provide[Container.identity]) -> Response:
    """Begin TOTP enrolment: a secret, its otpauth:// link and the link as an SVG QR code.
    Sign-in changes only once ``/mfa/totp/confirm`` accepts a first code."""
    enrolment = await mfa.start_enrolment(current_principal(), identity, client())
    body = {
        "object": "totp_enrolment",
        "secret": enrolment.secret,
        "provisioning_uri": enrolment.provisioning_uri,
        "qr_svg": enrolment.qr_svg,
    }
    return json_response(body, status=201)


@blueprint.post("/mfa/totp/confirm")
@tag(["account"])
@validate_request(CodeIn)
@document_response(RecoveryCodesOut)
@inject
async def confirm_enrolment(data: CodeIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Turn the second factor on with a first code. The ten recovery codes are shown this once."""
    codes = await mfa.confirm_enrolment(current_principal(), data.code, identity, client())
    return json_response({"object": "recovery_codes", "recovery_codes": codes})


@blueprint.post("/mfa/recovery-codes")
@tag(["account"])
@validate_request(CodeIn)
@document_response(RecoveryCodesOut)
@inject
async def regenerate_recovery_codes(
    data: CodeIn, identity: Identity = Provide[Container.identity]
) -> Response:
    """Ten new recovery codes, on a fresh code; the old ones stop working."""
    codes = await mfa.regenerate_recovery_codes(current_principal(), data.code, identity, client())
    return json_response({"object": "recovery_codes", "recovery_codes": codes})


@blueprint.post("/mfa/disable")
@tag(["account"])
@validate_request(DisableMfaIn)
@inject
async def disable_mfa(data: DisableMfaIn, identity: Identity = Provide[Container.identity]) -> Response:
    """Remove the second factor, on a fresh code or the password."""
    await mfa.disable(current_principal(), data.code, data.password, identity, client())
    return Response(status=204)
