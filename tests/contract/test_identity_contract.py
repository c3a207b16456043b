"""Tenants, accounts, memberships, refresh tokens, and the one directory that crosses tenants."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from switchboard.core.errors import Conflict
from switchboard.core.identity.model import LoginCandidate, User
from switchboard.core.tenancy.model import Membership, Role, Tenant
from tests.contract.conftest import Storage, make_token, unique_email, utc_now

# --- tenants ------------------------------------------------------------------------------------


async def test_a_unit_of_work_sees_its_own_tenant_and_no_other(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()

    async with storage.units(a.tenant_id, a.user_id) as uow:
        tenant_a = await uow.tenants.get()
    async with storage.units(b.tenant_id, b.user_id) as uow:
        tenant_b = await uow.tenants.get()
    async with storage.units(uuid4(), a.user_id) as uow:
        nobody = await uow.tenants.get()

    assert tenant_a is not None
    assert tenant_a.id == a.tenant_id
    assert tenant_b is not None
    assert tenant_b.id == b.tenant_id
    assert nobody is None


async def test_a_tenant_is_updated_only_from_its_current_version(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        tenant = await uow.tenants.get()
    assert tenant is not None
    renamed = replace(tenant, name="Renamed", updated_at=utc_now(), version=tenant.version + 1)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.tenants.update(renamed, expected_version=tenant.version) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stale = replace(tenant, name="Stale", version=tenant.version + 1)
        assert await uow.tenants.update(stale, expected_version=tenant.version) is False
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.tenants.get() == renamed


async def test_adding_a_tenant_other_than_the_unit_of_works_own_is_refused(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    other = Tenant(id=uuid4(), name="Elsewhere", created_at=now, updated_at=now)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(actor.tenant_id, actor.user_id, lambda uow: uow.tenants.add(other))

    async with storage.units(other.id, actor.user_id) as uow:
        assert await uow.tenants.get() is None


# --- users --------------------------------------------------------------------------------------


async def test_an_email_has_one_account_platform_wide(storage: Storage):
    first = await storage.new_tenant()
    now = utc_now()
    tenant = Tenant(id=uuid4(), name="Second business", created_at=now, updated_at=now)
    twin = replace(first.user, id=uuid4(), name="Someone else")

    async with storage.units(tenant.id, twin.id) as uow:
        await uow.tenants.add(tenant)
        with pytest.raises(Conflict) as raised:
            await uow.users.add(twin, "other-hash")
        await uow.commit()

    assert raised.value.code == "email_taken"
    async with storage.units(tenant.id, twin.id) as uow:
        assert await uow.users.get(twin.id) is None
    async with storage.units(first.tenant_id, first.user_id) as uow:
        assert await uow.users.get(first.user_id) == first.user


async def test_an_account_can_only_be_created_as_the_acting_user(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    stranger = User(uuid4(), unique_email(), "Stranger", now, now)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(actor.tenant_id, actor.user_id, lambda uow: uow.users.add(stranger, "hash"))

    assert await storage.directory.find_login(stranger.email) is None


async def test_users_get_sees_the_acting_user_and_fellow_members_but_not_strangers(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()  # has a tenant of their own, and joins owner's
    stranger = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.users.get(owner.user_id) == owner.user
        assert await uow.users.get(colleague.user_id) == colleague.user
        assert await uow.users.get(stranger.user_id) is None
        assert await uow.users.get(uuid4()) is None
    async with storage.units(owner.tenant_id) as uow:  # no acting user: members only
        assert await uow.users.get(colleague.user_id) == colleague.user
        assert await uow.users.get(stranger.user_id) is None
    async with storage.units(stranger.tenant_id, stranger.user_id) as uow:
        assert await uow.users.get(owner.user_id) is None
        assert await uow.users.get(colleague.user_id) is None


async def test_set_password_hash_changes_the_acting_users_hash(storage: Storage):
    actor = await storage.new_tenant()
    at = utc_now() + timedelta(minutes=1)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.users.set_password_hash(actor.user_id, "$argon2id$new-hash", at)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.users.get(actor.user_id) == replace(actor.user, updated_at=at)
    candidate = await storage.directory.find_login(actor.user.email)
    assert candidate is not None
    assert candidate.password_hash == "$argon2id$new-hash"


async def test_set_password_hash_never_changes_another_members_hash(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.users.set_password_hash(colleague.user_id, "$argon2id$hijacked", utc_now())
        await uow.commit()

    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:
        assert await uow.users.get(colleague.user_id) == colleague.user
    candidate = await storage.directory.find_login(colleague.user.email)
    assert candidate is not None
    assert candidate.password_hash == colleague.password_hash


# --- memberships --------------------------------------------------------------------------------


async def test_a_membership_reads_back_with_its_role_as_a_role(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    joined = await storage.add_member(owner, colleague.user_id, Role.ADMIN)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        own = await uow.memberships.get(owner.user_id)
        theirs = await uow.memberships.get(colleague.user_id)

    assert own is not None
    assert own.role is Role.OWNER
    assert type(own.role) is Role
    assert own.tenant_id == owner.tenant_id
    assert own.user_id == owner.user_id
    assert theirs == joined
    assert theirs.role is Role.ADMIN


async def test_a_membership_of_another_tenant_is_invisible(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.memberships.get(a.user_id) is None
    async with storage.units(b.tenant_id, a.user_id) as uow:  # even acting as that user
        assert await uow.memberships.get(a.user_id) is None


async def test_a_membership_cannot_name_an_unknown_account(storage: Storage):
    actor = await storage.new_tenant()
    ghost = uuid4()

    with pytest.raises(Exception):  # noqa: B017, PT011 (LookupError in memory, psycopg error on postgres)
        await storage.commit_work(
            actor.tenant_id,
            actor.user_id,
            lambda uow: uow.memberships.add(Membership(actor.tenant_id, ghost, Role.MEMBER, utc_now())),
        )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.memberships.get(ghost) is None


# --- refresh tokens -----------------------------------------------------------------------------


async def test_a_refresh_token_is_found_by_its_hash_in_its_tenant_only(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    token = make_token(a)
    await storage.add_refresh_tokens(a, token)

    assert await storage.get_refresh_token(a, token.token_hash) == token
    assert await storage.get_refresh_token(a, "no-such-hash") is None
    assert await storage.get_refresh_token(b, token.token_hash) is None


async def test_mark_used_records_when_a_token_was_used(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    token = make_token(a)
    await storage.add_refresh_tokens(a, token)
    used_at = utc_now()

    async with storage.units(b.tenant_id, b.user_id) as uow:  # another tenant cannot
        await uow.refresh_tokens.mark_used(token.id, used_at)
        await uow.commit()
    assert await storage.get_refresh_token(a, token.token_hash) == token

    async with storage.units(a.tenant_id, a.user_id) as uow:
        await uow.refresh_tokens.mark_used(token.id, used_at)
        await uow.commit()
    assert await storage.get_refresh_token(a, token.token_hash) == replace(token, used_at=used_at)


async def test_revoke_family_revokes_only_that_family_and_only_in_that_tenant(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    family = uuid4()
    earlier = utc_now() - timedelta(hours=1)
    in_family = [make_token(a, family_id=family), make_token(a, family_id=family)]
    already_revoked = make_token(a, family_id=family, revoked_at=earlier)
    other_family = make_token(a)
    same_family_elsewhere = make_token(b, family_id=family)
    await storage.add_refresh_tokens(a, *in_family, already_revoked, other_family)
    await storage.add_refresh_tokens(b, same_family_elsewhere)
    revoked_at = utc_now()

    async with storage.units(a.tenant_id, a.user_id) as uow:
        await uow.refresh_tokens.revoke_family(family, revoked_at)
        await uow.commit()

    for token in in_family:
        assert await storage.get_refresh_token(a, token.token_hash) == replace(token, revoked_at=revoked_at)
    assert await storage.get_refresh_token(a, already_revoked.token_hash) == already_revoked
    assert await storage.get_refresh_token(a, other_family.token_hash) == other_family
    assert await storage.get_refresh_token(b, same_family_elsewhere.token_hash) == same_family_elsewhere


async def test_a_refresh_token_is_issued_only_to_a_member_of_its_tenant(storage: Storage):
    a = await storage.new_tenant()
    outsider = await storage.new_tenant()
    token = replace(make_token(a), user_id=outsider.user_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (adapters raise their own error types)
        await storage.add_refresh_tokens(a, token)

    assert await storage.get_refresh_token(a, token.token_hash) is None


# --- the identity directory ---------------------------------------------------------------------


async def test_find_login_gives_the_account_and_its_tenants_oldest_membership_first(storage: Storage):
    first = await storage.new_tenant()
    now = utc_now()
    # A second tenant, joined later but with an older membership: order follows created_at.
    second = Tenant(id=uuid4(), name="Second business", created_at=now, updated_at=now)
    async with storage.units(second.id, first.user_id) as uow:
        await uow.tenants.add(second)
        await uow.memberships.add(Membership(second.id, first.user_id, Role.MEMBER, now - timedelta(days=1)))
        await uow.commit()

    candidate = await storage.directory.find_login(first.user.email)

    assert candidate == LoginCandidate(first.user_id, first.password_hash, [second.id, first.tenant_id])


async def test_find_login_breaks_a_tie_between_memberships_by_tenant_id(storage: Storage):
    at = utc_now() - timedelta(days=1)
    first = await storage.new_tenant(at=at)
    # Two more tenants joined at the very same instant as the first: insertion order must not matter.
    others = [Tenant(id=uuid4(), name=f"Tenant {i}", created_at=at, updated_at=at) for i in range(2)]
    for tenant in sorted(others, key=lambda t: t.id, reverse=True):
        async with storage.units(tenant.id, first.user_id) as uow:
            await uow.tenants.add(tenant)
            await uow.memberships.add(Membership(tenant.id, first.user_id, Role.MEMBER, at))
            await uow.commit()

    candidate = await storage.directory.find_login(first.user.email)

    assert candidate is not None
    assert candidate.tenant_ids == sorted([first.tenant_id, *(t.id for t in others)])


async def test_find_login_of_an_account_without_tenants_lists_none(storage: Storage):
    now = utc_now()
    loner = User(uuid4(), unique_email("loner"), "Loner", now, now)
    async with storage.units(uuid4(), loner.id) as uow:
        await uow.users.add(loner, "$argon2id$loner")
        await uow.commit()

    assert await storage.directory.find_login(loner.email) == LoginCandidate(loner.id, "$argon2id$loner", [])


async def test_find_login_of_an_unknown_email_is_none(storage: Storage):
    await storage.new_tenant()
    assert await storage.directory.find_login(unique_email("nobody")) is None


async def test_find_refresh_token_names_the_tenant_and_user_whether_used_or_not(storage: Storage):
    actor = await storage.new_tenant()
    token = make_token(actor)
    await storage.add_refresh_tokens(actor, token)

    assert await storage.directory.find_refresh_token(token.token_hash) == (actor.tenant_id, actor.user_id)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.refresh_tokens.mark_used(token.id, utc_now())
        await uow.refresh_tokens.revoke_family(token.family_id, utc_now())
        await uow.commit()
    assert await storage.directory.find_refresh_token(token.token_hash) == (actor.tenant_id, actor.user_id)


async def test_find_refresh_token_of_an_unknown_hash_is_none(storage: Storage):
    await storage.new_tenant()
    assert await storage.directory.find_refresh_token(uuid4().hex) is None


async def test_the_directory_sees_only_committed_data(storage: Storage):
    actor = await storage.new_tenant()
    token = make_token(actor)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.refresh_tokens.add(token)
        assert await storage.directory.find_refresh_token(token.token_hash) is None

    assert await storage.directory.find_refresh_token(token.token_hash) is None
