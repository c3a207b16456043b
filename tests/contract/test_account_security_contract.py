"""A person's own security rows: their account, second factor, recovery codes, mailed tokens and
linked outside identities, and what a unit of work sees when it is bound to no tenant.

These rows belong to a person, not to a tenant: they are visible while acting as that person,
in any tenant's unit of work or in none, and to nobody else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.core.audit.model import AuditFilter
from switchboard.core.errors import Conflict
from switchboard.core.identity.model import (
    AccountToken,
    ExternalIdentityLink,
    LoginCandidate,
    MfaFactor,
    Session,
    TokenPurpose,
    User,
)
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Invitation, Membership, Role
from switchboard.ports.persistence import UnitOfWork
from tests.contract.conftest import Actor, Storage, make_customer, make_token, unique_email, utc_now

# --- builders -----------------------------------------------------------------------------------


async def new_person(
    storage: Storage, password_hash: str | None = None, *, verified_at: datetime | None = None
) -> User:
    """An account that belongs to no tenant yet, made in a unit of work bound to none."""
    now = utc_now()
    user = User(uuid4(), unique_email("person"), "Person", now, now, email_verified_at=verified_at)
    async with storage.units(None, user.id) as uow:
        await uow.users.add(user, password_hash)
        await uow.commit()
    return user


def make_factor(user_id: UUID, *, confirmed: bool = False) -> MfaFactor:
    now = utc_now()
    return MfaFactor(
        user_id=user_id,
        sealed_secret=b"sealed:" + uuid4().bytes,
        created_at=now,
        confirmed_at=now if confirmed else None,
    )


def make_account_token(
    user: User, purpose: TokenPurpose = TokenPurpose.VERIFY_EMAIL, *, used_at: datetime | None = None
) -> AccountToken:
    now = utc_now()
    return AccountToken(
        id=uuid4(),
        user_id=user.id,
        purpose=purpose,
        token_hash=uuid4().hex + uuid4().hex,
        email=user.email,
        created_at=now,
        expires_at=now + timedelta(hours=1),
        used_at=used_at,
    )


def make_link(user_id: UUID, provider: str = "google", *, subject: str | None = None) -> ExternalIdentityLink:
    return ExternalIdentityLink(
        provider=provider,
        subject=subject or uuid4().hex,
        user_id=user_id,
        email=unique_email("outside"),
        created_at=utc_now(),
    )


async def save_factor(
    storage: Storage, actor: Actor, factor: MfaFactor, codes: list[str] | None = None
) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.mfa.save(factor)
        if codes is not None:
            await uow.mfa.replace_recovery_codes(factor.user_id, codes)
        await uow.commit()


async def add_account_tokens(storage: Storage, actor: Actor, *tokens: AccountToken) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for token in tokens:
            await uow.account_tokens.add(token)
        await uow.commit()


async def get_account_token(storage: Storage, actor: Actor, token_hash: str) -> AccountToken | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.account_tokens.get_by_hash(token_hash)


def codes(n: int) -> list[str]:
    return [uuid4().hex for _ in range(n)]


# --- accounts -----------------------------------------------------------------------------------


async def test_an_account_without_a_password_signs_in_only_through_an_outside_provider(storage: Storage):
    person = await new_person(storage, password_hash=None)

    assert await storage.directory.find_login(person.email) == LoginCandidate(person.id, None, [])
    async with storage.units(None, person.id) as uow:
        assert await uow.users.get(person.id) == person


async def test_an_account_added_as_verified_reads_back_verified(storage: Storage):
    verified_at = utc_now() - timedelta(minutes=5)
    person = await new_person(storage, "$argon2id$hash", verified_at=verified_at)

    async with storage.units(None, person.id) as uow:
        stored = await uow.users.get(person.id)

    assert stored == person
    assert stored is not None
    assert stored.email_verified_at == verified_at


async def test_mark_email_verified_records_when_the_acting_user_proved_their_address(storage: Storage):
    actor = await storage.new_tenant()
    assert actor.user.email_verified_at is None
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.users.mark_email_verified(actor.user_id, at)
        await uow.commit()

    # A change to the account, like a new password: it is stamped as the account's last update.
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.users.get(actor.user_id) == replace(actor.user, email_verified_at=at, updated_at=at)


async def test_mark_email_verified_works_in_a_unit_of_work_bound_to_no_tenant(storage: Storage):
    person = await new_person(storage, "$argon2id$hash")
    at = utc_now()

    async with storage.units(None, person.id) as uow:
        await uow.users.mark_email_verified(person.id, at)
        await uow.commit()

    async with storage.units(None, person.id) as uow:
        assert await uow.users.get(person.id) == replace(person, email_verified_at=at, updated_at=at)


async def test_mark_email_verified_keeps_the_first_verification_time(storage: Storage):
    actor = await storage.new_tenant()
    first = utc_now() - timedelta(hours=1)

    for at in (first, utc_now()):
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            await uow.users.mark_email_verified(actor.user_id, at)
            await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.users.get(actor.user_id) == replace(
            actor.user, email_verified_at=first, updated_at=first
        )


async def test_mark_email_verified_never_verifies_another_members_address(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.users.mark_email_verified(colleague.user_id, utc_now())
        await uow.commit()

    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:
        assert await uow.users.get(colleague.user_id) == colleague.user


# --- second factor ------------------------------------------------------------------------------


async def test_a_second_factor_reads_back_as_saved(storage: Storage):
    actor = await storage.new_tenant()
    factor = make_factor(actor.user_id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.get(actor.user_id) is None
    await save_factor(storage, actor, factor)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.get(actor.user_id) == factor
        assert await uow.mfa.get(actor.user_id, for_update=True) == factor


async def test_saving_a_second_factor_again_replaces_it(storage: Storage):
    actor = await storage.new_tenant()
    pending = make_factor(actor.user_id)
    await save_factor(storage, actor, pending)
    confirmed = replace(pending, confirmed_at=utc_now(), last_used_step=58_000_123)

    await save_factor(storage, actor, confirmed)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = await uow.mfa.get(actor.user_id)
    assert stored == confirmed
    assert stored is not None
    assert stored.active

    replacement = make_factor(actor.user_id)  # a new secret: enrolment started again
    await save_factor(storage, actor, replacement)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.get(actor.user_id) == replacement


async def test_deleting_the_second_factor_removes_it_and_every_recovery_code(storage: Storage):
    actor = await storage.new_tenant()
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True), codes(10))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.mfa.delete(actor.user_id)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.get(actor.user_id) is None
        assert await uow.mfa.unused_recovery_codes(actor.user_id) == 0


async def test_a_recovery_code_works_once(storage: Storage):
    actor = await storage.new_tenant()
    issued = codes(10)
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True), issued)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.unused_recovery_codes(actor.user_id) == 10
        assert await uow.mfa.use_recovery_code(actor.user_id, issued[3], utc_now()) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.use_recovery_code(actor.user_id, issued[3], utc_now()) is False
        assert await uow.mfa.unused_recovery_codes(actor.user_id) == 9


async def test_an_unknown_recovery_code_is_refused(storage: Storage):
    actor = await storage.new_tenant()
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True), codes(3))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.use_recovery_code(actor.user_id, uuid4().hex, utc_now()) is False
        assert await uow.mfa.unused_recovery_codes(actor.user_id) == 3


async def test_replacing_recovery_codes_voids_every_earlier_code(storage: Storage):
    actor = await storage.new_tenant()
    old = codes(5)
    new = codes(8)
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True), old)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.use_recovery_code(actor.user_id, old[0], utc_now()) is True
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.mfa.replace_recovery_codes(actor.user_id, new)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.mfa.unused_recovery_codes(actor.user_id) == 8
        assert await uow.mfa.use_recovery_code(actor.user_id, old[1], utc_now()) is False
        assert await uow.mfa.use_recovery_code(actor.user_id, new[0], utc_now()) is True


async def test_a_second_factor_is_visible_acting_as_its_owner_in_any_tenant_or_none(storage: Storage):
    actor = await storage.new_tenant()
    elsewhere = await storage.new_tenant()
    await storage.add_member(elsewhere, actor.user_id)
    factor = make_factor(actor.user_id, confirmed=True)
    await save_factor(storage, actor, factor, codes(4))

    for tenant_id in (elsewhere.tenant_id, uuid4(), None):
        async with storage.units(tenant_id, actor.user_id) as uow:
            assert await uow.mfa.get(actor.user_id) == factor
            assert await uow.mfa.unused_recovery_codes(actor.user_id) == 4


async def test_a_second_factor_is_invisible_to_anyone_else_even_a_fellow_member(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    issued = codes(4)
    await save_factor(storage, colleague, make_factor(colleague.user_id, confirmed=True), issued)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.mfa.get(colleague.user_id) is None
        assert await uow.mfa.get(colleague.user_id, for_update=True) is None
        assert await uow.mfa.unused_recovery_codes(colleague.user_id) == 0
        assert await uow.mfa.use_recovery_code(colleague.user_id, issued[0], utc_now()) is False
        await uow.mfa.delete(colleague.user_id)
        await uow.commit()
    async with storage.units(owner.tenant_id) as uow:  # no acting user: nobody's
        assert await uow.mfa.get(colleague.user_id) is None

    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:
        assert await uow.mfa.get(colleague.user_id) is not None
        assert await uow.mfa.unused_recovery_codes(colleague.user_id) == 4


async def test_a_second_factor_can_only_be_saved_for_the_acting_user(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    planted = make_factor(colleague.user_id, confirmed=True)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(owner.tenant_id, owner.user_id, lambda uow: uow.mfa.save(planted))

    async with storage.units(colleague.tenant_id, colleague.user_id) as uow:
        assert await uow.mfa.get(colleague.user_id) is None


async def test_recovery_codes_belong_to_their_owner_alone(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    shared = uuid4().hex  # the same hash issued to two people is two codes
    await save_factor(storage, a, make_factor(a.user_id, confirmed=True), [shared])
    await save_factor(storage, b, make_factor(b.user_id, confirmed=True), [shared])

    async with storage.units(a.tenant_id, a.user_id) as uow:
        assert await uow.mfa.use_recovery_code(a.user_id, shared, utc_now()) is True
        await uow.commit()

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.mfa.unused_recovery_codes(b.user_id) == 1
        assert await uow.mfa.use_recovery_code(b.user_id, shared, utc_now()) is True


async def test_a_time_step_accepted_by_two_concurrent_sign_ins_is_accepted_once(storage: Storage):
    # A TOTP code is good once: the factor read for update makes the second reader wait for the
    # first one's new last_used_step instead of accepting the same step again.
    actor = await storage.new_tenant()
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True))

    async def accept(step: int) -> bool:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            factor = await uow.mfa.get(actor.user_id, for_update=True)
            assert factor is not None
            if factor.last_used_step is not None and step <= factor.last_used_step:
                return False
            await asyncio.sleep(0.05)  # the other attempt arrives meanwhile
            await uow.mfa.save(replace(factor, last_used_step=step))
            await uow.commit()
            return True

    assert sorted(await asyncio.gather(accept(58_000_000), accept(58_000_000))) == [False, True]


async def test_a_recovery_code_used_twice_at_once_works_once(storage: Storage):
    actor = await storage.new_tenant()
    code = uuid4().hex
    await save_factor(storage, actor, make_factor(actor.user_id, confirmed=True), [code])

    async def use() -> bool:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            used = await uow.mfa.use_recovery_code(actor.user_id, code, utc_now())
            await asyncio.sleep(0.05)  # the other attempt arrives meanwhile
            await uow.commit()
            return used

    assert sorted(await asyncio.gather(use(), use())) == [False, True]


# --- mailed account tokens ----------------------------------------------------------------------


async def test_an_account_token_reads_back_by_its_hash(storage: Storage):
    actor = await storage.new_tenant()
    token = make_account_token(actor.user, TokenPurpose.RESET_PASSWORD)
    await add_account_tokens(storage, actor, token)

    stored = await get_account_token(storage, actor, token.token_hash)

    assert stored == token
    assert stored is not None
    assert type(stored.purpose) is TokenPurpose
    assert await get_account_token(storage, actor, uuid4().hex) is None


async def test_mark_used_records_when_an_account_token_was_used(storage: Storage):
    actor = await storage.new_tenant()
    token = make_account_token(actor.user, TokenPurpose.UNLOCK)
    await add_account_tokens(storage, actor, token)
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.account_tokens.mark_used(token.id, at)
        await uow.commit()

    stored = await get_account_token(storage, actor, token.token_hash)
    assert stored == replace(token, used_at=at)
    assert stored is not None
    assert not stored.is_live(at)


async def test_void_outstanding_uses_up_every_unused_token_of_that_purpose_only(storage: Storage):
    actor = await storage.new_tenant()
    earlier = utc_now() - timedelta(minutes=30)
    unused = [make_account_token(actor.user), make_account_token(actor.user)]
    already_used = make_account_token(actor.user, used_at=earlier)
    other_purpose = make_account_token(actor.user, TokenPurpose.RESET_PASSWORD)
    await add_account_tokens(storage, actor, *unused, already_used, other_purpose)
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.account_tokens.void_outstanding(actor.user_id, TokenPurpose.VERIFY_EMAIL, at)
        await uow.commit()

    for token in unused:
        assert await get_account_token(storage, actor, token.token_hash) == replace(token, used_at=at)
    assert await get_account_token(storage, actor, already_used.token_hash) == already_used
    assert await get_account_token(storage, actor, other_purpose.token_hash) == other_purpose


async def test_void_outstanding_never_touches_another_persons_tokens(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    theirs = make_account_token(colleague.user)
    await add_account_tokens(storage, colleague, theirs)

    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        await uow.account_tokens.void_outstanding(colleague.user_id, TokenPurpose.VERIFY_EMAIL, utc_now())
        await uow.account_tokens.mark_used(theirs.id, utc_now())
        await uow.commit()

    assert await get_account_token(storage, colleague, theirs.token_hash) == theirs


async def test_an_account_token_is_visible_acting_as_its_owner_in_any_tenant_or_none(storage: Storage):
    actor = await storage.new_tenant()
    token = make_account_token(actor.user)
    await add_account_tokens(storage, actor, token)

    for tenant_id in (uuid4(), None):
        async with storage.units(tenant_id, actor.user_id) as uow:
            assert await uow.account_tokens.get_by_hash(token.token_hash) == token


async def test_an_account_token_is_invisible_to_anyone_else_even_a_fellow_member(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    theirs = make_account_token(colleague.user)
    await add_account_tokens(storage, colleague, theirs)

    assert await get_account_token(storage, owner, theirs.token_hash) is None
    async with storage.units(owner.tenant_id) as uow:
        assert await uow.account_tokens.get_by_hash(theirs.token_hash) is None


async def test_an_account_token_can_only_be_added_for_the_acting_user(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    planted = make_account_token(colleague.user, TokenPurpose.RESET_PASSWORD)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await add_account_tokens(storage, owner, planted)

    assert await get_account_token(storage, colleague, planted.token_hash) is None
    assert await storage.directory.find_account_token(planted.token_hash) is None


async def test_an_account_token_redeemed_twice_at_once_is_redeemed_once(storage: Storage):
    # get_by_hash locks the token until the unit of work ends: the second redemption waits and
    # then sees it used.
    actor = await storage.new_tenant()
    token = make_account_token(actor.user, TokenPurpose.RESET_PASSWORD)
    await add_account_tokens(storage, actor, token)

    async def redeem() -> bool:
        async with storage.units(None, actor.user_id) as uow:
            found = await uow.account_tokens.get_by_hash(token.token_hash)
            if found is None or found.used_at is not None:
                return False
            await asyncio.sleep(0.05)  # the other attempt arrives meanwhile
            await uow.account_tokens.mark_used(found.id, utc_now())
            await uow.commit()
            return True

    assert sorted(await asyncio.gather(redeem(), redeem())) == [False, True]


async def test_find_account_token_names_the_user_whether_used_or_not(storage: Storage):
    actor = await storage.new_tenant()
    token = make_account_token(actor.user, TokenPurpose.RESET_PASSWORD)
    await add_account_tokens(storage, actor, token)

    assert await storage.directory.find_account_token(token.token_hash) == actor.user_id
    async with storage.units(None, actor.user_id) as uow:
        await uow.account_tokens.mark_used(token.id, utc_now())
        await uow.commit()
    assert await storage.directory.find_account_token(token.token_hash) == actor.user_id


async def test_find_account_token_of_an_unknown_hash_is_none(storage: Storage):
    await storage.new_tenant()
    assert await storage.directory.find_account_token(uuid4().hex) is None


# --- linked outside identities ------------------------------------------------------------------


async def test_linked_identities_are_listed_for_their_user(storage: Storage):
    actor = await storage.new_tenant()
    google = make_link(actor.user_id, "google")
    github = replace(make_link(actor.user_id, "github"), email=None)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.external_identities.list(actor.user_id) == []
        await uow.external_identities.add(google)
        await uow.external_identities.add(github)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        listed = await uow.external_identities.list(actor.user_id)
    assert sorted(listed, key=lambda link: link.provider) == [github, google]


async def test_an_outside_identity_links_to_one_user_only(storage: Storage):
    first = await storage.new_tenant()
    second = await storage.new_tenant()
    link = make_link(first.user_id, "google")
    await storage.commit_work(first.tenant_id, first.user_id, lambda uow: uow.external_identities.add(link))

    for actor in (first, second):
        again = replace(link, user_id=actor.user_id, created_at=utc_now())
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            with pytest.raises(Conflict) as raised:
                await uow.external_identities.add(again)
        assert raised.value.code == "identity_linked"

    assert await storage.directory.find_external_identity("google", link.subject) == first.user_id
    async with storage.units(second.tenant_id, second.user_id) as uow:
        assert await uow.external_identities.list(second.user_id) == []


async def test_the_same_subject_at_another_provider_is_another_identity(storage: Storage):
    actor = await storage.new_tenant()
    other = await storage.new_tenant()
    subject = uuid4().hex
    await storage.commit_work(
        actor.tenant_id,
        actor.user_id,
        lambda uow: uow.external_identities.add(make_link(actor.user_id, "google", subject=subject)),
    )
    await storage.commit_work(
        other.tenant_id,
        other.user_id,
        lambda uow: uow.external_identities.add(make_link(other.user_id, "github", subject=subject)),
    )

    assert await storage.directory.find_external_identity("google", subject) == actor.user_id
    assert await storage.directory.find_external_identity("github", subject) == other.user_id
    assert await storage.directory.find_external_identity("microsoft", subject) is None


async def test_linked_identities_are_visible_acting_as_their_owner_only(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    link = make_link(colleague.user_id)
    await storage.commit_work(
        colleague.tenant_id, colleague.user_id, lambda uow: uow.external_identities.add(link)
    )

    for tenant_id in (owner.tenant_id, uuid4(), None):
        async with storage.units(tenant_id, colleague.user_id) as uow:
            assert await uow.external_identities.list(colleague.user_id) == [link]
    async with storage.units(owner.tenant_id, owner.user_id) as uow:
        assert await uow.external_identities.list(colleague.user_id) == []
    async with storage.units(owner.tenant_id) as uow:
        assert await uow.external_identities.list(colleague.user_id) == []


async def test_an_outside_identity_can_only_be_linked_to_the_acting_user(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)
    planted = make_link(colleague.user_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(
            owner.tenant_id, owner.user_id, lambda uow: uow.external_identities.add(planted)
        )

    assert await storage.directory.find_external_identity(planted.provider, planted.subject) is None


async def test_find_external_identity_of_an_unknown_subject_is_none(storage: Storage):
    await storage.new_tenant()
    assert await storage.directory.find_external_identity("google", uuid4().hex) is None


# --- a unit of work bound to no tenant ----------------------------------------------------------


async def test_without_a_tenant_an_account_can_be_created_and_read_by_its_owner(storage: Storage):
    person = await new_person(storage, "$argon2id$hash")

    async with storage.units(None, person.id) as uow:
        assert await uow.users.get(person.id) == person
        assert await uow.tenants.get() is None
    assert await storage.directory.find_login(person.email) == LoginCandidate(person.id, "$argon2id$hash", [])


async def test_without_a_tenant_a_fellow_member_is_a_stranger(storage: Storage):
    owner = await storage.new_tenant()
    colleague = await storage.new_tenant()
    await storage.add_member(owner, colleague.user_id)

    async with storage.units(None, owner.user_id) as uow:
        assert await uow.users.get(owner.user_id) == owner.user
        assert await uow.users.get(colleague.user_id) is None
    async with storage.units(None) as uow:
        assert await uow.users.get(owner.user_id) is None


async def test_without_a_tenant_every_tenant_table_reads_empty(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    session = Session(uuid4(), actor.tenant_id, actor.user_id, now, now, "203.0.113.9", "Agent/1.0")
    token = make_token(actor, family_id=session.id)
    invitation = Invitation(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        email=unique_email("invitee"),
        role=Role.MEMBER,
        token_hash=uuid4().hex,
        invited_by=actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=7),
    )
    customer = make_customer(actor.tenant_id)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.sessions.add(session)
        await uow.refresh_tokens.add(token)
        await uow.invitations.add(invitation)
        await uow.customers.add(customer)
        await uow.audit.record("customer.created", "customer", str(customer.id))
        await uow.commit()

    async with storage.units(None, actor.user_id) as uow:
        assert await uow.tenants.get() is None
        assert await uow.memberships.get(actor.user_id) is None
        assert await uow.memberships.list() == []
        assert await uow.memberships.count_owners() == 0
        assert await uow.refresh_tokens.get_by_hash(token.token_hash) is None
        assert await uow.sessions.get(session.id) is None
        assert await uow.sessions.list_active(actor.user_id) == []
        assert await uow.invitations.get(invitation.id) is None
        assert await uow.invitations.list_outstanding() == []
        assert (await uow.api_keys.list(PageRequest(limit=100))).items == []
        assert (await uow.audit.list(AuditFilter(), PageRequest(limit=100))).items == []
        assert await uow.customers.get(customer.id) is None
        assert (await uow.customers.list(PageRequest(limit=100))).items == []


async def test_without_a_tenant_nothing_can_be_written_to_a_tenants_tables(storage: Storage):
    actor = await storage.new_tenant()
    stranger = await storage.new_tenant()
    now = utc_now()
    session = Session(uuid4(), actor.tenant_id, actor.user_id, now, now, None, None)
    invitation = Invitation(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        email=unique_email("invitee"),
        role=Role.ADMIN,
        token_hash=uuid4().hex,
        invited_by=actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=7),
    )
    customer = make_customer(actor.tenant_id)
    writes: list[Callable[[UnitOfWork], Awaitable[object]]] = [
        lambda uow: uow.sessions.add(session),
        lambda uow: uow.invitations.add(invitation),
        lambda uow: uow.customers.add(customer),
        lambda uow: uow.memberships.add(Membership(actor.tenant_id, stranger.user_id, Role.OWNER, now)),
        lambda uow: uow.audit.record("tenant.updated", "tenant", str(actor.tenant_id)),
    ]

    async def write_without_a_tenant(write: Callable[[UnitOfWork], Awaitable[object]]) -> None:
        async with storage.units(None, actor.user_id) as uow:
            await write(uow)
            await uow.commit()

    for write in writes:
        with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
            await write_without_a_tenant(write)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.sessions.get(session.id) is None
        assert await uow.invitations.get(invitation.id) is None
        assert await uow.customers.get(customer.id) is None
        assert await uow.memberships.get(stranger.user_id) is None
        assert (await uow.audit.list(AuditFilter(), PageRequest(limit=100))).items == []
