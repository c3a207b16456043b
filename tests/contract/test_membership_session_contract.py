"""Tenant suspension, the team (memberships), sign-in sessions and their refresh tokens, and the
directory's per-request session check."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.core.errors import Conflict
from switchboard.core.identity.model import RefreshToken, Session
from switchboard.core.tenancy.model import Member, Membership, Role, TenantStatus
from tests.contract.conftest import Actor, Storage, make_token, utc_now

# --- builders -----------------------------------------------------------------------------------


def make_session(
    tenant_id: UUID,
    user_id: UUID,
    *,
    last_seen_at: datetime | None = None,
    impersonator_id: UUID | None = None,
) -> Session:
    now = utc_now()
    return Session(
        id=uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        created_at=now - timedelta(hours=2),
        last_seen_at=last_seen_at or now,
        ip="198.51.100.23",
        user_agent="Mozilla/5.0 (contract test)",
        impersonator_id=impersonator_id,
    )


async def open_session(
    storage: Storage, actor: Actor, user_id: UUID | None = None, *, last_seen_at: datetime | None = None
) -> tuple[Session, list[RefreshToken]]:
    """A session in ``actor``'s tenant for ``user_id`` (the actor by default), with two refresh
    tokens of its family, as sign-in and one refresh leave them (neither used nor revoked)."""
    user_id = user_id or actor.user_id
    session = make_session(actor.tenant_id, user_id, last_seen_at=last_seen_at)
    tokens = [replace(make_token(actor, family_id=session.id), user_id=user_id) for _ in range(2)]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.sessions.add(session)
        for token in tokens:
            await uow.refresh_tokens.add(token)
        await uow.commit()
    return session, tokens


async def get_session(storage: Storage, actor: Actor, session_id: UUID) -> Session | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.sessions.get(session_id)


async def set_tenant_status(storage: Storage, actor: Actor, status: TenantStatus) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.tenants.set_status(status, utc_now())
        await uow.commit()


async def joined(
    storage: Storage, owner: Actor, role: Role = Role.MEMBER, at: datetime | None = None
) -> Actor:
    """Someone with a tenant of their own who also joins ``owner``'s tenant."""
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id, role, at)
    return colleague


# --- tenant status ------------------------------------------------------------------------------


async def test_a_new_tenant_is_active(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        tenant = await uow.tenants.get()
    assert tenant is not None
    assert tenant.status is TenantStatus.ACTIVE


async def test_set_status_suspends_and_reactivates_the_unit_of_works_own_tenant_only(storage: Storage):
    actor = await storage.new_tenant()
    bystander = await storage.new_tenant()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        before = await uow.tenants.get()
    async with storage.units(bystander.tenant_id, bystander.user_id) as uow:
        bystanders = await uow.tenants.get()
    assert before is not None
    suspended_at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.tenants.set_status(TenantStatus.SUSPENDED, suspended_at)
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        suspended = await uow.tenants.get()
    async with storage.units(bystander.tenant_id, bystander.user_id) as uow:
        assert await uow.tenants.get() == bystanders
    # Not a versioned edit (a platform admin's decision wins over a rename), but an update.
    assert suspended == replace(before, status=TenantStatus.SUSPENDED, updated_at=suspended_at)
    assert type(suspended.status) is TenantStatus

    reactivated_at = utc_now()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.tenants.set_status(TenantStatus.ACTIVE, reactivated_at)
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.tenants.get() == replace(before, updated_at=reactivated_at)


# --- memberships --------------------------------------------------------------------------------


async def test_adding_someone_who_already_belongs_is_an_already_member_conflict(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner, Role.ADMIN)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        with pytest.raises(Conflict) as raised:
            await uow.memberships.add(Membership(owner.tenant_id, colleague.user_id, Role.MEMBER, utc_now()))
    assert raised.value.code == "already_member"

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        membership = await uow.memberships.get(colleague.user_id)
    assert membership is not None
    assert membership.role is Role.ADMIN


async def test_the_member_list_gives_every_member_with_their_account_oldest_first(storage: Storage):
    start = utc_now() - timedelta(days=3)
    owner = await storage.new_tenant(at=start)
    newest = await joined(storage, owner, Role.MEMBER, start + timedelta(days=2))
    middle = await joined(storage, owner, Role.ADMIN, start + timedelta(days=1))
    await storage.new_tenant()  # a stranger, listed nowhere here

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        members = await uow.memberships.list()

    assert members == [
        Member(owner.user_id, owner.user.email, owner.user.name, Role.OWNER, start, False),
        Member(
            middle.user_id, middle.user.email, middle.user.name, Role.ADMIN, start + timedelta(days=1), False
        ),
        Member(
            newest.user_id, newest.user.email, newest.user.name, Role.MEMBER, start + timedelta(days=2), False
        ),
    ]
    assert all(type(member.role) is Role for member in members)


async def test_the_member_list_tells_who_verified_their_email(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:
        await uow.users.mark_email_verified(colleague.user_id, utc_now())
        await uow.commit()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        members = {member.user_id: member for member in await uow.memberships.list()}

    assert members[owner.user_id].email_verified is False
    assert members[colleague.user_id].email_verified is True


async def test_set_role_changes_a_members_role_and_says_whether_there_was_one(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    stranger = await storage.new_tenant()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.set_role(colleague.user_id, Role.ADMIN) is True
        assert await uow.memberships.set_role(stranger.user_id, Role.ADMIN) is False
        await uow.commit()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        membership = await uow.memberships.get(colleague.user_id)
        assert await uow.memberships.get(stranger.user_id) is None
    assert membership is not None
    assert membership.role is Role.ADMIN
    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:  # their own tenant
        own = await uow.memberships.get(colleague.user_id)
    assert own is not None
    assert own.role is Role.OWNER


async def test_count_owners_counts_this_tenants_owners(storage: Storage):
    owner = await storage.new_tenant()
    await joined(storage, owner, Role.ADMIN)
    co_owner = await joined(storage, owner, Role.OWNER)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.count_owners() == 2
        assert await uow.memberships.count_owners(for_update=True) == 2
        assert await uow.memberships.set_role(co_owner.user_id, Role.MEMBER) is True
        assert await uow.memberships.count_owners(for_update=True) == 1
        await uow.commit()
    async with storage.units(co_owner.tenant_id, co_owner.user_id) as uow:
        assert await uow.memberships.count_owners() == 1  # their own tenant


async def test_two_owners_stepping_down_at_once_cannot_both_see_a_second_owner(storage: Storage):
    # count_owners(for_update=True) locks the owners' memberships: the second owner to count waits
    # for the first one's demotion, then sees they are the last owner and stays.
    owner = await storage.new_tenant()
    co_owner = await joined(storage, owner, Role.OWNER)

    async def step_down(user_id: UUID) -> bool:
        async with storage.units(owner.tenant_id, user_id) as uow:
            if await uow.memberships.count_owners(for_update=True) < 2:
                return False
            await asyncio.sleep(0.05)  # the other owner counts meanwhile
            await uow.memberships.set_role(user_id, Role.ADMIN)
            await uow.commit()
            return True

    outcome = await asyncio.gather(step_down(owner.user_id), step_down(co_owner.user_id))

    assert sorted(outcome) == [False, True]
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.count_owners() == 1


async def test_removing_a_member_ends_their_sessions_and_refresh_tokens_in_that_tenant(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    here, here_tokens = await open_session(storage, owner, colleague.user_id)
    there, there_tokens = await open_session(storage, colleague)  # in the colleague's own tenant
    owners_session, owners_tokens = await open_session(storage, owner)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.remove(colleague.user_id) is True
        await uow.commit()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.get(colleague.user_id) is None
        assert colleague.user_id not in {m.user_id for m in await uow.memberships.list()}
        assert await uow.sessions.get(here.id) is None
        assert await uow.sessions.list_active(colleague.user_id) == []
        for token in here_tokens:
            assert await uow.refresh_tokens.get_by_hash(token.token_hash) is None
        assert await uow.sessions.get(owners_session.id) == owners_session
    for token in here_tokens:
        assert await storage.directory.find_refresh_token(token.token_hash) is None
    for token in owners_tokens:
        assert await storage.get_refresh_token(owner, token.token_hash) == token
    assert await get_session(storage, colleague, there.id) == there
    for token in there_tokens:
        assert await storage.get_refresh_token(colleague, token.token_hash) == token


async def test_removing_someone_who_is_not_a_member_says_so(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.remove(colleague.user_id) is True
        await uow.commit()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.memberships.remove(colleague.user_id) is False
        assert await uow.memberships.remove(uuid4()) is False


async def test_another_tenants_members_cannot_be_listed_changed_or_removed(storage: Storage):
    a = await storage.new_tenant()
    colleague = await joined(storage, a)
    b = await storage.new_tenant()

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert {m.user_id for m in await uow.memberships.list()} == {b.user_id}
        assert await uow.memberships.set_role(colleague.user_id, Role.OWNER) is False
        assert await uow.memberships.set_role(a.user_id, Role.MEMBER) is False
        assert await uow.memberships.remove(colleague.user_id) is False
        assert await uow.memberships.count_owners() == 1
        await uow.commit()

    async with storage.units(a.tenant_id, a.user_id) as uow:
        assert [(m.user_id, m.role) for m in await uow.memberships.list()] == [
            (a.user_id, Role.OWNER),
            (colleague.user_id, Role.MEMBER),
        ]


# --- refresh tokens -----------------------------------------------------------------------------


async def test_revoke_for_user_revokes_that_users_live_tokens_in_this_tenant_only(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    earlier = utc_now() - timedelta(hours=1)
    theirs = [replace(make_token(owner), user_id=colleague.user_id) for _ in range(3)]
    already_revoked = replace(make_token(owner, revoked_at=earlier), user_id=colleague.user_id)
    owners = make_token(owner)
    in_their_own_tenant = make_token(colleague)
    await storage.add_refresh_tokens(owner, *theirs, already_revoked, owners)
    await storage.add_refresh_tokens(colleague, in_their_own_tenant)
    at = utc_now()

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.refresh_tokens.revoke_for_user(colleague.user_id, at)
        await uow.commit()

    for token in theirs:
        assert await storage.get_refresh_token(owner, token.token_hash) == replace(token, revoked_at=at)
    assert await storage.get_refresh_token(owner, already_revoked.token_hash) == already_revoked
    assert await storage.get_refresh_token(owner, owners.token_hash) == owners
    assert await storage.get_refresh_token(colleague, in_their_own_tenant.token_hash) == in_their_own_tenant


# --- sessions -----------------------------------------------------------------------------------


async def test_a_session_reads_back_as_added(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    plain = make_session(owner.tenant_id, owner.user_id)
    anonymous = replace(make_session(owner.tenant_id, owner.user_id), ip=None, user_agent=None)
    support = make_session(owner.tenant_id, colleague.user_id, impersonator_id=uuid4())

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        for session in (plain, anonymous, support):
            await uow.sessions.add(session)
        await uow.commit()

    for session in (plain, anonymous, support):
        assert await get_session(storage, owner, session.id) == session
    assert await get_session(storage, owner, uuid4()) is None


async def test_a_session_is_opened_only_for_a_member_of_its_tenant(storage: Storage):
    owner = await storage.new_tenant()
    outsider = await storage.new_tenant()
    session = make_session(owner.tenant_id, outsider.user_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (adapters raise their own error types)
        await storage.commit_work(owner.tenant_id, owner.user_id, lambda uow: uow.sessions.add(session))

    assert await get_session(storage, owner, session.id) is None


async def test_a_session_of_another_tenant_cannot_be_added(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    await storage.add_member(b, a.user_id)
    session = make_session(b.tenant_id, a.user_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(a.tenant_id, a.user_id, lambda uow: uow.sessions.add(session))

    assert await get_session(storage, b, session.id) is None


async def test_list_active_gives_the_users_live_sessions_here_most_recently_seen_first(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    now = utc_now()
    old, _ = await open_session(storage, owner, colleague.user_id, last_seen_at=now - timedelta(days=2))
    recent, _ = await open_session(storage, owner, colleague.user_id, last_seen_at=now - timedelta(minutes=1))
    middle, _ = await open_session(storage, owner, colleague.user_id, last_seen_at=now - timedelta(hours=3))
    revoked, _ = await open_session(storage, owner, colleague.user_id, last_seen_at=now)
    await open_session(storage, owner)  # the owner's own
    await open_session(storage, colleague)  # the colleague's, in their own tenant
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.sessions.revoke(revoked.id, now) is True
        await uow.commit()

    async with storage.units(owner.tenant_id, colleague.user_id) as uow:
        active = await uow.sessions.list_active(colleague.user_id)

    assert active == [recent, middle, old]


async def test_touch_records_when_and_from_where_a_session_was_used(storage: Storage):
    actor = await storage.new_tenant()
    session, _ = await open_session(storage, actor)
    at = utc_now() + timedelta(minutes=5)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.sessions.touch(session.id, at, "2001:db8::17", "Agent/2.0")
        await uow.commit()

    assert await get_session(storage, actor, session.id) == replace(
        session, last_seen_at=at, ip="2001:db8::17", user_agent="Agent/2.0"
    )


async def test_revoking_a_session_revokes_it_and_its_refresh_tokens(storage: Storage):
    actor = await storage.new_tenant()
    session, tokens = await open_session(storage, actor)
    other, other_tokens = await open_session(storage, actor)
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.revoke(session.id, at) is True
        await uow.commit()

    assert await get_session(storage, actor, session.id) == replace(session, revoked_at=at)
    for token in tokens:
        assert await storage.get_refresh_token(actor, token.token_hash) == replace(token, revoked_at=at)
    assert await get_session(storage, actor, other.id) == other
    for token in other_tokens:
        assert await storage.get_refresh_token(actor, token.token_hash) == token


async def test_revoking_a_session_that_is_not_live_says_so(storage: Storage):
    actor = await storage.new_tenant()
    session, _ = await open_session(storage, actor)
    first = utc_now()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.revoke(session.id, first) is True
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.revoke(session.id, utc_now()) is False
        assert await uow.sessions.revoke(uuid4(), utc_now()) is False
        await uow.commit()

    assert await get_session(storage, actor, session.id) == replace(session, revoked_at=first)


async def test_revoke_all_revokes_every_live_session_of_the_user_but_one_and_counts_them(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    current, current_tokens = await open_session(storage, owner, colleague.user_id)
    others = [await open_session(storage, owner, colleague.user_id) for _ in range(3)]
    earlier = utc_now() - timedelta(hours=1)
    already_revoked, _ = await open_session(storage, owner, colleague.user_id)
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.sessions.revoke(already_revoked.id, earlier)
        await uow.commit()
    owners_session, owners_tokens = await open_session(storage, owner)
    elsewhere, _ = await open_session(storage, colleague)  # the colleague's own tenant
    at = utc_now()

    async with storage.units(owner.tenant_id, colleague.user_id) as uow:
        assert await uow.sessions.revoke_all(colleague.user_id, at, except_id=current.id) == 3
        await uow.commit()

    for session, tokens in others:
        assert await get_session(storage, owner, session.id) == replace(session, revoked_at=at)
        for token in tokens:
            assert await storage.get_refresh_token(owner, token.token_hash) == replace(token, revoked_at=at)
    assert await get_session(storage, owner, current.id) == current
    for token in current_tokens:
        assert await storage.get_refresh_token(owner, token.token_hash) == token
    assert await get_session(storage, owner, already_revoked.id) == replace(
        already_revoked, revoked_at=earlier
    )
    assert await get_session(storage, owner, owners_session.id) == owners_session
    for token in owners_tokens:
        assert await storage.get_refresh_token(owner, token.token_hash) == token
    assert await get_session(storage, colleague, elsewhere.id) == elsewhere


async def test_revoke_all_without_an_exception_revokes_every_live_session(storage: Storage):
    actor = await storage.new_tenant()
    sessions = [await open_session(storage, actor) for _ in range(2)]
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.revoke_all(actor.user_id, at) == 2
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.list_active(actor.user_id) == []
        assert await uow.sessions.revoke_all(actor.user_id, utc_now()) == 0
    for session, tokens in sessions:
        assert await get_session(storage, actor, session.id) == replace(session, revoked_at=at)
        for token in tokens:
            assert await storage.get_refresh_token(actor, token.token_hash) == replace(token, revoked_at=at)


async def test_another_tenants_sessions_cannot_be_read_touched_or_revoked(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    await storage.add_member(b, a.user_id)  # the same person belongs to both
    session, tokens = await open_session(storage, a)

    for user_id in (b.user_id, a.user_id):
        async with storage.units(b.tenant_id, user_id) as uow:
            assert await uow.sessions.get(session.id) is None
            assert await uow.sessions.list_active(a.user_id) == []
            await uow.sessions.touch(session.id, utc_now(), "192.0.2.1", "Intruder/1.0")
            assert await uow.sessions.revoke(session.id, utc_now()) is False
            assert await uow.sessions.revoke_all(a.user_id, utc_now()) == 0
            await uow.refresh_tokens.revoke_for_user(a.user_id, utc_now())
            await uow.commit()

    assert await get_session(storage, a, session.id) == session
    for token in tokens:
        assert await storage.get_refresh_token(a, token.token_hash) == token


# --- the per-request session check --------------------------------------------------------------


async def test_check_session_gives_the_members_current_role(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    session, _ = await open_session(storage, owner, colleague.user_id)

    assert (
        await storage.directory.check_session(owner.tenant_id, colleague.user_id, session.id) is Role.MEMBER
    )
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.memberships.set_role(colleague.user_id, Role.ADMIN)
        await uow.commit()
    role = await storage.directory.check_session(owner.tenant_id, colleague.user_id, session.id)
    assert role is Role.ADMIN
    assert type(role) is Role


async def test_check_session_is_none_once_the_session_is_revoked(storage: Storage):
    actor = await storage.new_tenant()
    session, _ = await open_session(storage, actor)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.sessions.revoke(session.id, utc_now())
        await uow.commit()

    assert await storage.directory.check_session(actor.tenant_id, actor.user_id, session.id) is None


async def test_check_session_is_none_while_the_tenant_is_suspended(storage: Storage):
    actor = await storage.new_tenant()
    session, _ = await open_session(storage, actor)

    await set_tenant_status(storage, actor, TenantStatus.SUSPENDED)
    assert await storage.directory.check_session(actor.tenant_id, actor.user_id, session.id) is None

    await set_tenant_status(storage, actor, TenantStatus.ACTIVE)
    assert await storage.directory.check_session(actor.tenant_id, actor.user_id, session.id) is Role.OWNER


async def test_check_session_is_none_once_the_membership_is_removed(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner, Role.ADMIN)
    session, _ = await open_session(storage, owner, colleague.user_id)
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.memberships.remove(colleague.user_id)
        await uow.commit()

    assert await storage.directory.check_session(owner.tenant_id, colleague.user_id, session.id) is None


async def test_check_session_is_none_for_a_session_of_another_tenant_or_another_user(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await joined(storage, owner)
    session, _ = await open_session(storage, owner, colleague.user_id)

    directory = storage.directory
    assert await directory.check_session(colleague.tenant_id, colleague.user_id, session.id) is None
    assert await directory.check_session(owner.tenant_id, owner.user_id, session.id) is None
    assert await directory.check_session(owner.tenant_id, colleague.user_id, uuid4()) is None
    assert await directory.check_session(uuid4(), colleague.user_id, session.id) is None
