"""API keys: round trips, revocation, newest-first keyset pages, tenant isolation, and the
directory lookup that authenticates a key before its tenant is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.core.apikeys.model import ApiKey, KeyCandidate
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Access, TenantStatus
from tests.contract.conftest import Actor, Storage, utc_now


def make_key(
    actor: Actor,
    *,
    created_at: datetime | None = None,
    scopes: dict[str, Access] | None = None,
    allowed_origins: tuple[str, ...] = (),
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> ApiKey:
    secret = uuid4().hex
    return ApiKey(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        name=f"Key {secret[:6]}",
        prefix="sbk_" + secret[:8],
        secret_hash=uuid4().hex + uuid4().hex,
        scopes=scopes if scopes is not None else {"customers": Access.READ},
        allowed_origins=allowed_origins,
        created_by=actor.user_id,
        created_at=created_at or utc_now(),
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


async def add_keys(storage: Storage, actor: Actor, *keys: ApiKey) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for key in keys:
            await uow.api_keys.add(key)
        await uow.commit()


async def get_key(storage: Storage, actor: Actor, key_id: UUID) -> ApiKey | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.api_keys.get(key_id)


async def every_page(storage: Storage, actor: Actor, limit: int) -> list[list[ApiKey]]:
    pages: list[list[ApiKey]] = []
    request = PageRequest(limit=limit)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        while True:
            page = await uow.api_keys.list(request)
            pages.append(page.items)
            if page.next_position is None:
                return pages
            request = PageRequest(limit=limit, after=page.next_position)


async def test_an_api_key_reads_back_as_added(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    widget = make_key(
        actor,
        scopes={"customers": Access.WRITE, "tenant": Access.READ},
        allowed_origins=("https://shop.example.test", "https://www.example.test"),
        expires_at=now + timedelta(days=90),
    )
    server = replace(make_key(actor, scopes={}), created_by=None)
    await add_keys(storage, actor, widget, server)

    stored = await get_key(storage, actor, widget.id)
    assert stored == widget
    assert await get_key(storage, actor, server.id) == server
    assert await get_key(storage, actor, uuid4()) is None
    assert stored is not None
    assert type(stored.allowed_origins) is tuple
    assert all(type(access) is Access for access in stored.scopes.values())


async def test_revoke_revokes_a_key_once(storage: Storage):
    actor = await storage.new_tenant()
    key = make_key(actor)
    await add_keys(storage, actor, key)
    at = utc_now()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.api_keys.revoke(key.id, at) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.api_keys.revoke(key.id, utc_now()) is False
        assert await uow.api_keys.revoke(uuid4(), utc_now()) is False
        await uow.commit()

    assert await get_key(storage, actor, key.id) == replace(key, revoked_at=at)


async def test_api_keys_are_listed_newest_first_revoked_ones_included(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    keys = [make_key(actor, created_at=now - timedelta(minutes=i)) for i in range(4)]
    revoked = replace(keys[2], revoked_at=now)
    keys[2] = revoked
    await add_keys(storage, actor, keys[3], keys[1], keys[0], keys[2])

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.api_keys.list(PageRequest(limit=100))

    assert page.items == keys
    assert not page.has_more


async def test_api_key_pages_have_no_gaps_or_repeats(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    keys = [make_key(actor, created_at=now - timedelta(seconds=i)) for i in range(7)]
    # Two keys made at the very same instant: the id breaks the tie.
    twins = [make_key(actor, created_at=now - timedelta(seconds=3)) for _ in range(2)]
    await add_keys(storage, actor, *keys, *twins)
    expected = sorted([*keys, *twins], key=lambda k: (k.created_at, k.id), reverse=True)

    pages = await every_page(storage, actor, limit=2)

    assert [len(items) for items in pages] == [2, 2, 2, 2, 1]
    assert [key for items in pages for key in items] == expected


async def test_another_tenants_api_keys_cannot_be_read_listed_or_revoked(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    key = make_key(a)
    await add_keys(storage, a, key)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.api_keys.get(key.id) is None
        assert (await uow.api_keys.list(PageRequest(limit=100))).items == []
        assert await uow.api_keys.revoke(key.id, utc_now()) is False
        await uow.commit()

    assert await get_key(storage, a, key.id) == key


async def test_an_api_key_cannot_be_added_to_another_tenant(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    planted = make_key(b)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await add_keys(storage, a, planted)

    assert await get_key(storage, b, planted.id) is None
    assert await storage.directory.find_api_key(planted.secret_hash) is None


# --- the directory ------------------------------------------------------------------------------


async def test_find_api_key_answers_what_authentication_needs(storage: Storage):
    actor = await storage.new_tenant()
    expires_at = utc_now() + timedelta(days=30)
    key = make_key(
        actor,
        scopes={"customers": Access.WRITE, "audit_logs": Access.READ},
        allowed_origins=("https://widget.example.test",),
        expires_at=expires_at,
    )
    await add_keys(storage, actor, key)

    candidate = await storage.directory.find_api_key(key.secret_hash)

    assert candidate == KeyCandidate(
        key_id=key.id,
        tenant_id=actor.tenant_id,
        scopes={"customers": Access.WRITE, "audit_logs": Access.READ},
        allowed_origins=("https://widget.example.test",),
        expires_at=expires_at,
        revoked_at=None,
        tenant_active=True,
    )
    assert candidate is not None
    assert type(candidate.allowed_origins) is tuple
    assert all(type(access) is Access for access in candidate.scopes.values())


async def test_find_api_key_of_an_unknown_hash_is_none(storage: Storage):
    await storage.new_tenant()
    assert await storage.directory.find_api_key(uuid4().hex) is None


async def test_find_api_key_finds_a_revoked_key_and_says_when_it_was_revoked(storage: Storage):
    actor = await storage.new_tenant()
    key = make_key(actor)
    await add_keys(storage, actor, key)
    at = utc_now()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.api_keys.revoke(key.id, at)
        await uow.commit()

    candidate = await storage.directory.find_api_key(key.secret_hash)

    assert candidate is not None
    assert candidate.key_id == key.id
    assert candidate.revoked_at == at


async def test_find_api_key_says_the_tenant_is_inactive_while_it_is_suspended(storage: Storage):
    actor = await storage.new_tenant()
    key = make_key(actor)
    await add_keys(storage, actor, key)

    for status, active in ((TenantStatus.SUSPENDED, False), (TenantStatus.ACTIVE, True)):
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            await uow.tenants.set_status(status, utc_now())
            await uow.commit()
        candidate = await storage.directory.find_api_key(key.secret_hash)
        assert candidate is not None
        assert candidate.tenant_active is active


async def test_find_api_key_notes_when_the_key_was_last_used_at_most_once_a_minute(storage: Storage):
    actor = await storage.new_tenant()
    key = make_key(actor)
    await add_keys(storage, actor, key)
    before = utc_now()

    assert await storage.directory.find_api_key(key.secret_hash) is not None
    after = utc_now()
    noted = await get_key(storage, actor, key.id)
    assert noted is not None
    assert noted.last_used_at is not None
    # The adapter's clock may be the database's: allow for a little skew.
    assert before - timedelta(seconds=5) <= noted.last_used_at <= after + timedelta(seconds=5)
    assert noted == replace(key, last_used_at=noted.last_used_at)

    assert await storage.directory.find_api_key(key.secret_hash) is not None
    again = await get_key(storage, actor, key.id)
    assert again is not None
    assert again.last_used_at == noted.last_used_at


async def test_find_api_key_never_notes_another_key_as_used(storage: Storage):
    actor = await storage.new_tenant()
    used, idle = make_key(actor), make_key(actor)
    await add_keys(storage, actor, used, idle)

    await storage.directory.find_api_key(used.secret_hash)

    assert await get_key(storage, actor, idle.id) == idle
