"""The team: members and their roles, invitations, leaving, and handing over ownership.

Only owners make or unmake owners, and a tenant always keeps at least one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from switchboard.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from switchboard.core.identity.model import (
    Client,
    Principal,
    TokenPair,
    User,
    clean_person_name,
    hash_opaque_token,
    new_opaque_token,
    normalize_email,
)
from switchboard.core.identity.passwords import check_new_password
from switchboard.core.identity.sessions import Identity, as_user, check_throttles, send_mail, start_session
from switchboard.core.security.throttling import EMAIL_TOKENS_PER_ADDRESS, SIGN_IN_PER_ACCOUNT
from switchboard.core.tenancy.model import Invitation, Member, Membership, Role
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from datetime import datetime

    from switchboard.ports.persistence import UnitOfWork
    from switchboard.ports.throttling import AttemptThrottle

INVITATION_LIFETIME = timedelta(days=7)
NO_SUCH_MEMBER = "no such member"
NO_SUCH_INVITATION = "no such invitation"
BAD_INVITATION = "is not valid, was already used, or has expired"


@dataclass(frozen=True)
class TeamMember:
    member: Member
    # Sign-in lockout after failed attempts, so admins can see why someone cannot get in.
    locked_for_seconds: int


async def list_members(principal: Principal, uow: UnitOfWork, throttle: AttemptThrottle) -> list[TeamMember]:
    require(principal, Action.TEAM_READ)
    async with uow:
        members = await uow.memberships.list()
    listed = []
    for member in members:
        state = await throttle.status(SIGN_IN_PER_ACCOUNT, member.email)
        listed.append(TeamMember(member, state.retry_after_seconds if state.locked_out else 0))
    return listed


async def change_role(principal: Principal, user_id: UUID, role: Role, uow: UnitOfWork) -> Member:
    require(principal, Action.TEAM_MANAGE)
    async with uow:
        current = await _member(uow, user_id)
        if Role.OWNER in (current.role, role) and principal.role is not Role.OWNER:
            raise PermissionDenied("only an owner can make or unmake owners")
        if current.role is Role.OWNER and role is not Role.OWNER:
            await _keep_an_owner(uow)
        if current.role is not role:
            await uow.memberships.set_role(user_id, role)
            changes = {"role": {"from": current.role.value, "to": role.value}}
            await uow.audit.record("member.role_changed", "user", str(user_id), changes)
        await uow.commit()
    return replace(current, role=role)


async def remove_member(principal: Principal, user_id: UUID, uow: UnitOfWork) -> None:
    """Remove someone, or leave (anyone may remove themself). Their sessions here end at once."""
    leaving = principal.user_id == user_id and principal.api_key_id is None
    if not leaving:
        require(principal, Action.TEAM_MANAGE)
    async with uow:
        current = await _member(uow, user_id)
        if current.role is Role.OWNER:
            if not leaving and principal.role is not Role.OWNER:
                raise PermissionDenied("only an owner can remove an owner")
            await _keep_an_owner(uow)
        await uow.memberships.remove(user_id)
        await uow.audit.record("member.left" if leaving else "member.removed", "user", str(user_id))
        await uow.commit()


async def transfer_ownership(principal: Principal, to_user_id: UUID, uow: UnitOfWork) -> None:
    """Make another member an owner and step down to admin."""
    require(principal, Action.OWNERSHIP_TRANSFER)
    me = principal.acting_user
    if to_user_id == me:
        raise InvalidInput.single("user_id", "is already an owner: name another member")
    async with uow:
        await _member(uow, to_user_id)
        await uow.memberships.set_role(to_user_id, Role.OWNER)
        await uow.memberships.set_role(me, Role.ADMIN)
        await uow.audit.record("tenant.ownership_transferred", "user", str(to_user_id), {"from": str(me)})
        await uow.commit()


async def _member(uow: UnitOfWork, user_id: UUID) -> Member:
    for member in await uow.memberships.list():
        if member.user_id == user_id:
            return member
    raise NotFound(NO_SUCH_MEMBER)


async def _keep_an_owner(uow: UnitOfWork) -> None:
    if await uow.memberships.count_owners(for_update=True) <= 1:
        raise Conflict("a tenant needs at least one owner: make someone else owner first", code="last_owner")


@dataclass(frozen=True)
class Invite:
    email: str
    role: Role


async def invite(cmd: Invite, principal: Principal, uow: UnitOfWork, ports: Identity) -> Invitation:
    require(principal, Action.TEAM_MANAGE)
    email = normalize_email(cmd.email)
    if cmd.role is Role.OWNER and principal.role is not Role.OWNER:
        raise PermissionDenied("only an owner can invite an owner")
    now = ports.clock.now()
    plain, token_hash = new_opaque_token("sbi_")
    invitation = Invitation(
        uuid4(),
        principal.tenant_id,
        email,
        cmd.role,
        token_hash,
        principal.user_id,
        now,
        now + INVITATION_LIFETIME,
    )
    async with uow:
        if any(member.email == email for member in await uow.memberships.list()):
            raise Conflict("this person is already a member", code="already_member")
        await uow.invitations.add(invitation)
        await _mail_invitation(uow, ports, invitation, plain, now)
        changes = {"email": email, "role": cmd.role.value}
        await uow.audit.record("invitation.created", "invitation", str(invitation.id), changes)
        await uow.commit()
    return invitation


async def list_invitations(principal: Principal, uow: UnitOfWork) -> list[Invitation]:
    require(principal, Action.TEAM_READ)
    async with uow:
        return await uow.invitations.list_outstanding()


async def resend_invitation(
    invitation_id: UUID, principal: Principal, uow: UnitOfWork, ports: Identity
) -> Invitation:
    """A new link and a new expiry; the previous link stops working."""
    require(principal, Action.TEAM_MANAGE)
    now = ports.clock.now()
    plain, token_hash = new_opaque_token("sbi_")
    async with uow:
        current = await _outstanding(uow, invitation_id)
        renewed = replace(current, token_hash=token_hash, expires_at=now + INVITATION_LIFETIME)
        await uow.invitations.save(renewed)
        await _mail_invitation(uow, ports, renewed, plain, now)
        await uow.audit.record("invitation.resent", "invitation", str(invitation_id))
        await uow.commit()
    return renewed


async def revoke_invitation(
    invitation_id: UUID, principal: Principal, uow: UnitOfWork, ports: Identity
) -> None:
    require(principal, Action.TEAM_MANAGE)
    async with uow:
        current = await _outstanding(uow, invitation_id)
        await uow.invitations.save(replace(current, revoked_at=ports.clock.now()))
        await uow.audit.record("invitation.revoked", "invitation", str(invitation_id))
        await uow.commit()


@dataclass(frozen=True)
class Accept:
    token: str
    name: str | None = None  # for a new account
    password: str | None = None  # a new account's password, or an existing account's own


async def accept_invitation(
    cmd: Accept, ports: Identity, client: Client, caller: Principal | None = None
) -> TokenPair:
    """Join the tenant: an existing account proves itself by its password or a signed-in
    token; a new one is created, its address verified by the invitation mail itself."""
    address_key = client.ip or "unknown"
    await check_throttles(ports.throttle, (EMAIL_TOKENS_PER_ADDRESS, address_key))
    found = await ports.directory.find_invitation(hash_opaque_token(cmd.token.strip()))
    if found is None:
        await ports.throttle.record_failure(EMAIL_TOKENS_PER_ADDRESS, address_key)
        raise InvalidInput.single("token", BAD_INVITATION)
    tenant_id, invitation_id = found
    async with ports.units(tenant_id) as uow:
        invitation = await uow.invitations.get(invitation_id)
    if invitation is None or not invitation.is_pending(ports.clock.now()):
        raise InvalidInput.single("token", BAD_INVITATION)

    existing = await ports.directory.find_login(invitation.email)
    now = ports.clock.now()
    if existing is not None:
        user_id = existing.user_id
        signed_in = caller is not None and caller.user_id == user_id and caller.impersonator_id is None
        if not signed_in and not await ports.hasher.verify(existing.password_hash, cmd.password or ""):
            raise AuthenticationFailed("sign in as the invited account, or give its password")
        new_user, password_hash = None, None
    else:
        name = clean_person_name(cmd.name or "")
        check_new_password(cmd.password or "", email=invitation.email, name=name)
        password_hash = await ports.hasher.hash(cmd.password or "")
        new_user = User(uuid4(), invitation.email, name, now, now, email_verified_at=now)
        user_id = new_user.id

    async with ports.units(tenant_id, user_id, as_user(user_id, client)) as uow:
        invitation = await uow.invitations.get(invitation_id, for_update=True)
        if invitation is None or not invitation.is_pending(now):
            raise InvalidInput.single("token", BAD_INVITATION)
        if new_user is not None:
            await uow.users.add(new_user, password_hash)
        await uow.memberships.add(Membership(tenant_id, user_id, invitation.role, now))
        await uow.invitations.save(replace(invitation, accepted_at=now, accepted_by=user_id))
        await uow.audit.record("invitation.accepted", "invitation", str(invitation_id))
        await uow.audit.record("member.added", "user", str(user_id), {"role": invitation.role.value})
        pair = await start_session(uow, Principal(user_id, tenant_id, invitation.role), ports, client)
        await uow.commit()
    return pair


async def _outstanding(uow: UnitOfWork, invitation_id: UUID) -> Invitation:
    invitation = await uow.invitations.get(invitation_id, for_update=True)
    if invitation is None or invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise NotFound(NO_SUCH_INVITATION)
    return invitation


async def _mail_invitation(
    uow: UnitOfWork, ports: Identity, invitation: Invitation, plain: str, now: datetime
) -> None:
    tenant = await uow.tenants.get()
    name = tenant.name if tenant else "a team"
    subject = f"You are invited to join {name} on Switchboard"
    text = (
        f"You are invited to join {name} as {invitation.role.value}.\n\n"
        f"Open {ports.app_url}/accept-invitation#token={plain}\n\n"
        f"The invitation works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
    )
    await send_mail(uow, invitation.tenant_id, invitation.email, subject, text, now)
