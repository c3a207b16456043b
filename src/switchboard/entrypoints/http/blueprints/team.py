"""The team: members, roles, invitations, ownership, and the permission table itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_request

from switchboard.core.identity.model import EMAIL_MAX
from switchboard.core.identity.sessions import Identity
from switchboard.core.tenancy import team
from switchboard.core.tenancy.model import Invitation, Role
from switchboard.core.tenancy.permissions import PERMISSIONS
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.responses import json_response
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.throttling import AttemptThrottle

blueprint = Blueprint("team", __name__, url_prefix="/v1/team")
blueprint.before_request(require_principal)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InviteIn(_Strict):
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    role: Role


class RoleIn(_Strict):
    role: Role


class TransferIn(_Strict):
    user_id: UUID


class MemberOut(BaseModel):
    object: Literal["member"]
    user_id: UUID
    email: str
    name: str
    role: Role
    email_verified: bool
    joined_at: datetime
    locked_for_seconds: int


class MemberListOut(BaseModel):
    object: Literal["list"]
    data: list[MemberOut]
    has_more: bool
    next_cursor: str | None


class InvitationOut(BaseModel):
    object: Literal["invitation"]
    id: UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    expired: bool


class InvitationListOut(BaseModel):
    object: Literal["list"]
    data: list[InvitationOut]
    has_more: bool
    next_cursor: str | None


class PermissionOut(BaseModel):
    action: str
    roles: list[Role]
    api_key_scope: str | None
    while_impersonating: bool


class PermissionsOut(BaseModel):
    object: Literal["permissions"]
    roles: list[Role]
    data: list[PermissionOut]


def _render_member(listed: team.TeamMember) -> dict[str, Any]:
    member = listed.member
    return {
        "object": "member",
        "user_id": member.user_id,
        "email": member.email,
        "name": member.name,
        "role": member.role.value,
        "email_verified": member.email_verified,
        "joined_at": member.joined_at,
        "locked_for_seconds": listed.locked_for_seconds,
    }


def _render_invitation(invitation: Invitation, identity: Identity) -> dict[str, Any]:
    return {
        "object": "invitation",
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role.value,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "expired": invitation.expires_at <= identity.clock.now(),
    }


def _listing(data: list[dict[str, Any]]) -> Response:
    return json_response({"object": "list", "data": data, "has_more": False, "next_cursor": None})


@blueprint.get("/permissions")
@tag(["team"])
@document_response(PermissionsOut)
async def permissions() -> Response:
    """Which role may do what, and which API key scope each action needs: the table the
    server itself decides by."""
    data = [
        {
            "action": action.value,
            "roles": [role.value for role in Role if role in rule.roles],
            "api_key_scope": f"{rule.key_scope[0]}:{rule.key_scope[1].value}" if rule.key_scope else None,
            "while_impersonating": rule.while_impersonating,
        }
        for action, rule in PERMISSIONS.items()
    ]
    return json_response({"object": "permissions", "roles": [role.value for role in Role], "data": data})


@blueprint.get("/members")
@tag(["team"])
@document_response(MemberListOut)
@inject
async def list_members(
    units: UnitOfWorkFactory = Provide[Container.units],
    throttle: AttemptThrottle = Provide[Container.throttle],
) -> Response:
    """Every member, oldest first, with any sign-in lockout they are under."""
    members = await team.list_members(*acting(units), throttle)
    return _listing([_render_member(member) for member in members])


@blueprint.patch("/members/<uuid:user_id>")
@tag(["team"])
@validate_request(RoleIn)
@inject
async def change_role(
    user_id: UUID, data: RoleIn, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Change a member's role. Only owners make or unmake owners; the last owner stays one."""
    principal, uow = acting(units)
    member = await team.change_role(principal, user_id, data.role, uow)
    return json_response(_render_member(team.TeamMember(member, 0)))


@blueprint.delete("/members/<uuid:user_id>")
@tag(["team"])
@inject
async def remove_member(user_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Remove a member, or leave (your own id). Their sessions here end at once."""
    principal, uow = acting(units)
    await team.remove_member(principal, user_id, uow)
    return Response(status=204)


@blueprint.post("/transfer-ownership")
@tag(["team"])
@validate_request(TransferIn)
@inject
async def transfer_ownership(
    data: TransferIn, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """Make another member owner; you become an admin."""
    principal, uow = acting(units)
    await team.transfer_ownership(principal, data.user_id, uow)
    return Response(status=204)


@blueprint.get("/invitations")
@tag(["team"])
@document_response(InvitationListOut)
@inject
async def list_invitations(
    units: UnitOfWorkFactory = Provide[Container.units], identity: Identity = Provide[Container.identity]
) -> Response:
    """Invitations neither accepted nor revoked, newest first (expired ones can be resent)."""
    invitations = await team.list_invitations(*acting(units))
    return _listing([_render_invitation(invitation, identity) for invitation in invitations])


@blueprint.post("/invitations")
@tag(["team"])
@validate_request(InviteIn)
@document_response(InvitationOut, 201)
@idempotent
@inject
async def invite(
    data: InviteIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    identity: Identity = Provide[Container.identity],
) -> Response:
    """Invite someone by email with a role; the link works once, for seven days."""
    principal, uow = acting(units)
    invitation = await team.invite(team.Invite(data.email, data.role), principal, uow, identity)
    headers = {"Location": f"/v1/team/invitations/{invitation.id}"}
    return json_response(_render_invitation(invitation, identity), status=201, headers=headers)


@blueprint.post("/invitations/<uuid:invitation_id>/resend")
@tag(["team"])
@document_response(InvitationOut)
@inject
async def resend_invitation(
    invitation_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    identity: Identity = Provide[Container.identity],
) -> Response:
    """Mail a new link with a new expiry; the previous link stops working."""
    principal, uow = acting(units)
    invitation = await team.resend_invitation(invitation_id, principal, uow, identity)
    return json_response(_render_invitation(invitation, identity))


@blueprint.delete("/invitations/<uuid:invitation_id>")
@tag(["team"])
@inject
async def revoke_invitation(
    invitation_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    identity: Identity = Provide[Container.identity],
) -> Response:
    """Withdraw an invitation; its link stops working."""
    principal, uow = acting(units)
    await team.revoke_invitation(invitation_id, principal, uow, identity)
    return Response(status=204)
