"""Invitations to join a tenant: one outstanding per email, resends, acceptance, revocation, and
the directory lookup by token."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.core.errors import Conflict
from switchboard.core.tenancy.model import Invitation, Role
from tests.contract.conftest import Actor, Storage, unique_email, utc_now


def make_invitation(
    actor: Actor,
    *,
    email: str | None = None,
    role: Role = Role.MEMBER,
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
    invited_by: UUID | None = None,
) -> Invitation:
    at = created_at or utc_now()
    return Invitation(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        email=email or unique_email("invitee"),
        role=role,
        token_hash=uuid4().hex + uuid4().hex,
        invited_by=invited_by or actor.user_id,
        created_at=at,
        expires_at=expires_at or at + timedelta(days=7),
    )


async def add_invitations(storage: Storage, actor: Actor, *invitations: Invitation) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for invitation in invitations:
            await uow.invitations.add(invitation)
        await uow.commit()


async def get_invitation(storage: Storage, actor: Actor, invitation_id: UUID) -> Invitation | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.invitations.get(invitation_id)


async def save_invitation(storage: Storage, actor: Actor, invitation: Invitation) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.invitations.save(invitation)
        await uow.commit()


async def outstanding(storage: Storage, actor: Actor) -> list[Invitation]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.invitations.list_outstanding()


async def test_an_invitation_reads_back_as_added(storage: Storage):
    actor = await storage.new_tenant()
    invitation = make_invitation(actor, role=Role.ADMIN)
    anonymous = replace(make_invitation(actor), invited_by=None)
    await add_invitations(storage, actor, invitation, anonymous)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = await uow.invitations.get(invitation.id)
        assert await uow.invitations.get(invitation.id, for_update=True) == invitation
        assert await uow.invitations.get(anonymous.id) == anonymous
        assert await uow.invitations.get(uuid4()) is None
    assert stored == invitation
    assert stored is not None
    assert type(stored.role) is Role


async def test_a_second_outstanding_invitation_for_the_same_email_is_an_invitation_pending_conflict(
    storage: Storage,
):
    actor = await storage.new_tenant()
    first = make_invitation(actor)
    await add_invitations(storage, actor, first)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        with pytest.raises(Conflict) as raised:
            await uow.invitations.add(make_invitation(actor, email=first.email, role=Role.ADMIN))
    assert raised.value.code == "invitation_pending"
    assert await outstanding(storage, actor) == [first]


async def test_an_expired_invitation_is_still_outstanding_and_still_blocks_another(storage: Storage):
    actor = await storage.new_tenant()
    long_ago = utc_now() - timedelta(days=30)
    expired = make_invitation(actor, created_at=long_ago, expires_at=long_ago + timedelta(days=7))
    await add_invitations(storage, actor, expired)

    assert await outstanding(storage, actor) == [expired]
    with pytest.raises(Conflict) as raised:
        await add_invitations(storage, actor, make_invitation(actor, email=expired.email))
    assert raised.value.code == "invitation_pending"


async def test_a_revoked_invitation_frees_the_email_for_a_new_one(storage: Storage):
    actor = await storage.new_tenant()
    first = make_invitation(actor)
    await add_invitations(storage, actor, first)
    await save_invitation(storage, actor, replace(first, revoked_at=utc_now()))

    second = make_invitation(actor, email=first.email)
    await add_invitations(storage, actor, second)

    assert await outstanding(storage, actor) == [second]


async def test_an_accepted_invitation_frees_the_email_for_a_new_one(storage: Storage):
    actor = await storage.new_tenant()
    invitee = await storage.new_tenant()
    first = make_invitation(actor, email=invitee.user.email)
    await add_invitations(storage, actor, first)
    await save_invitation(storage, actor, replace(first, accepted_at=utc_now(), accepted_by=invitee.user_id))

    second = make_invitation(actor, email=first.email, role=Role.ADMIN)
    await add_invitations(storage, actor, second)

    assert await outstanding(storage, actor) == [second]


async def test_the_same_email_may_be_invited_by_two_tenants(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    email = unique_email("sought-after")
    in_a = make_invitation(a, email=email)
    in_b = make_invitation(b, email=email)

    await add_invitations(storage, a, in_a)
    await add_invitations(storage, b, in_b)

    assert await outstanding(storage, a) == [in_a]
    assert await outstanding(storage, b) == [in_b]


async def test_outstanding_invitations_are_listed_newest_first_without_accepted_or_revoked_ones(
    storage: Storage,
):
    actor = await storage.new_tenant()
    now = utc_now()
    oldest = make_invitation(actor, created_at=now - timedelta(days=20))  # expired, still listed
    older = make_invitation(actor, created_at=now - timedelta(days=3))
    newest = make_invitation(actor, created_at=now - timedelta(minutes=2))
    accepted = make_invitation(actor, created_at=now - timedelta(days=1))
    revoked = make_invitation(actor, created_at=now - timedelta(hours=1))
    await add_invitations(storage, actor, older, newest, oldest, accepted, revoked)
    await save_invitation(storage, actor, replace(accepted, accepted_at=now, accepted_by=actor.user_id))
    await save_invitation(storage, actor, replace(revoked, revoked_at=now))

    assert await outstanding(storage, actor) == [newest, older, oldest]


async def test_save_stores_the_token_expiry_acceptance_and_revocation(storage: Storage):
    actor = await storage.new_tenant()
    invitee = await storage.new_tenant()
    invitation = make_invitation(actor)
    await add_invitations(storage, actor, invitation)
    resent = replace(invitation, token_hash=uuid4().hex, expires_at=invitation.expires_at + timedelta(days=7))
    now = utc_now()
    accepted = replace(resent, accepted_at=now, accepted_by=invitee.user_id)
    revoked = replace(make_invitation(actor), revoked_at=now)
    await add_invitations(storage, actor, replace(revoked, revoked_at=None))

    await save_invitation(storage, actor, resent)
    assert await get_invitation(storage, actor, invitation.id) == resent
    await save_invitation(storage, actor, accepted)
    assert await get_invitation(storage, actor, invitation.id) == accepted
    await save_invitation(storage, actor, revoked)
    assert await get_invitation(storage, actor, revoked.id) == revoked


async def test_save_never_changes_who_was_invited_with_which_role(storage: Storage):
    actor = await storage.new_tenant()
    invitation = make_invitation(actor, role=Role.MEMBER)
    await add_invitations(storage, actor, invitation)

    await save_invitation(storage, actor, replace(invitation, email=unique_email("other"), role=Role.OWNER))

    assert await get_invitation(storage, actor, invitation.id) == invitation


async def test_another_tenants_invitations_cannot_be_read_listed_or_changed(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    invitation = make_invitation(a)
    await add_invitations(storage, a, invitation)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.invitations.get(invitation.id) is None
        assert await uow.invitations.get(invitation.id, for_update=True) is None
        assert await uow.invitations.list_outstanding() == []
        await uow.invitations.save(replace(invitation, revoked_at=utc_now()))
        await uow.commit()

    assert await get_invitation(storage, a, invitation.id) == invitation
    assert await outstanding(storage, a) == [invitation]


async def test_an_invitation_cannot_be_added_to_another_tenant(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    planted = make_invitation(b, invited_by=a.user_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await add_invitations(storage, a, planted)

    assert await get_invitation(storage, b, planted.id) is None


async def test_find_invitation_names_the_tenant_and_invitation_of_a_token(storage: Storage):
    actor = await storage.new_tenant()
    invitation = make_invitation(actor)
    await add_invitations(storage, actor, invitation)

    assert await storage.directory.find_invitation(invitation.token_hash) == (actor.tenant_id, invitation.id)
    assert await storage.directory.find_invitation(uuid4().hex) is None


async def test_find_invitation_follows_a_resent_token(storage: Storage):
    actor = await storage.new_tenant()
    invitation = make_invitation(actor)
    await add_invitations(storage, actor, invitation)
    resent = replace(invitation, token_hash=uuid4().hex + uuid4().hex)

    await save_invitation(storage, actor, resent)

    assert await storage.directory.find_invitation(invitation.token_hash) is None
    assert await storage.directory.find_invitation(resent.token_hash) == (actor.tenant_id, invitation.id)


async def test_an_invitation_accepted_twice_at_once_is_accepted_once(storage: Storage):
    # get(for_update=True) locks the invitation: the second acceptance waits, then sees it taken.
    actor = await storage.new_tenant()
    invitation = make_invitation(actor)
    await add_invitations(storage, actor, invitation)
    first, second = await storage.new_tenant(), await storage.new_tenant()

    async def accept(user_id: UUID) -> bool:
        async with storage.units(actor.tenant_id, user_id) as uow:
            found = await uow.invitations.get(invitation.id, for_update=True)
            if found is None or found.accepted_at is not None:
                return False
            await asyncio.sleep(0.05)  # the other acceptance arrives meanwhile
            await uow.invitations.save(replace(found, accepted_at=utc_now(), accepted_by=user_id))
            await uow.commit()
            return True

    outcome = await asyncio.gather(accept(first.user_id), accept(second.user_id))

    assert sorted(outcome) == [False, True]
    stored = await get_invitation(storage, actor, invitation.id)
    assert stored is not None
    assert stored.accepted_by == (first.user_id if outcome[0] else second.user_id)
