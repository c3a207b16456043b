"""Idempotency keys: claim, replay, release, expiry and stale take-over, per tenant."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import uuid4

from switchboard.ports.persistence import IdempotencyRecord, StoredResponse
from tests.contract.conftest import Actor, Storage, utc_now

LIFETIME = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=1)

RESPONSE = StoredResponse(
    status=201,
    headers={"content-type": "application/json", "location": "/v1/customers/42", "x-empty": ""},
    body=b'{"id": 42, "name": "Ada \xc3\xa9"}\x00\xff',
)


def record(
    key: str | None = None, *, at: datetime | None = None, fingerprint: str | None = None
) -> IdempotencyRecord:
    created_at = at or utc_now()
    return IdempotencyRecord(
        key=key or f"key-{uuid4().hex}",
        fingerprint=fingerprint or f"sha256:{uuid4().hex}",
        created_at=created_at,
        expires_at=created_at + LIFETIME,
    )


async def claim(storage: Storage, actor: Actor, rec: IdempotencyRecord, stale_before: datetime | None = None):
    """Claim in a unit of work of its own, committed; what claim answered."""
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        held = await uow.idempotency_keys.claim(rec, stale_before or rec.created_at - STALE_AFTER)
        await uow.commit()
    return held


async def complete(storage: Storage, actor: Actor, key: str, response: StoredResponse = RESPONSE) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.idempotency_keys.complete(key, response)
        await uow.commit()


async def test_claiming_a_fresh_key_answers_none_and_stores_it(storage: Storage):
    actor = await storage.new_tenant()
    first = record()

    assert await claim(storage, actor, first) is None
    retry = record(first.key, at=first.created_at + timedelta(seconds=1))
    assert await claim(storage, actor, retry) == first


async def test_a_second_claim_answers_the_unanswered_holder(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)

    held = await claim(storage, actor, record(first.key, at=first.created_at + timedelta(seconds=5)))

    assert held is not None
    assert held.key == first.key
    assert held.fingerprint == first.fingerprint
    assert held.created_at == first.created_at
    assert held.expires_at == first.expires_at
    assert held.response is None


async def test_a_completed_key_answers_its_stored_response_intact(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)
    await complete(storage, actor, first.key)

    held = await claim(storage, actor, record(first.key, at=first.created_at + timedelta(seconds=5)))

    assert held == replace(first, response=RESPONSE)
    assert held is not None
    assert held.response is not None
    assert type(held.response.headers) is dict
    assert type(held.response.body) is bytes


async def test_a_released_key_is_free_again(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.idempotency_keys.release(first.key)
        await uow.commit()

    again = record(first.key, at=first.created_at + timedelta(seconds=1))
    assert await claim(storage, actor, again) is None
    assert await claim(storage, actor, record(first.key, at=again.created_at)) == again


async def test_an_expired_key_can_be_claimed_again_even_when_it_was_answered(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)
    await complete(storage, actor, first.key)

    at_expiry = record(first.key, at=first.expires_at)  # expires_at <= the new created_at: expired
    assert await claim(storage, actor, at_expiry, stale_before=first.created_at) is None
    assert await claim(storage, actor, record(first.key, at=at_expiry.created_at)) == at_expiry


async def test_a_key_is_held_until_the_instant_it_expires(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)
    await complete(storage, actor, first.key)

    just_before = record(first.key, at=first.expires_at - timedelta(microseconds=1))
    assert await claim(storage, actor, just_before, stale_before=first.created_at) == replace(
        first, response=RESPONSE
    )


async def test_an_unanswered_key_older_than_stale_before_can_be_taken_over(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)

    later = record(first.key, at=first.created_at + timedelta(minutes=5))
    assert (
        await claim(storage, actor, later, stale_before=first.created_at + timedelta(microseconds=1)) is None
    )
    assert await claim(storage, actor, record(first.key, at=later.created_at)) == later


async def test_an_unanswered_key_claimed_at_stale_before_is_still_held(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)

    later = record(first.key, at=first.created_at + timedelta(minutes=5))
    assert await claim(storage, actor, later, stale_before=first.created_at) == first


async def test_an_answered_key_never_goes_stale_while_it_lives(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    await claim(storage, actor, first)
    await complete(storage, actor, first.key)

    later = record(first.key, at=first.created_at + timedelta(hours=1))
    assert await claim(storage, actor, later, stale_before=later.created_at) == replace(
        first, response=RESPONSE
    )


async def test_completing_a_key_that_was_never_claimed_stores_nothing(storage: Storage):
    actor = await storage.new_tenant()
    unclaimed = record()
    await complete(storage, actor, unclaimed.key)

    assert await claim(storage, actor, unclaimed) is None


async def test_a_claim_that_is_not_committed_leaves_the_key_free(storage: Storage):
    actor = await storage.new_tenant()
    first = record()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.idempotency_keys.claim(first, first.created_at - STALE_AFTER) is None

    assert await claim(storage, actor, first) is None


async def test_the_same_key_in_two_tenants_is_two_independent_keys(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    key = f"shared-{uuid4().hex}"
    in_a = record(key, fingerprint="fingerprint-a")
    in_b = record(key, fingerprint="fingerprint-b")

    assert await claim(storage, a, in_a) is None
    assert await claim(storage, b, in_b) is None
    await complete(storage, a, key)

    retry_at = in_a.created_at + timedelta(seconds=1)
    assert await claim(storage, a, record(key, at=retry_at)) == replace(in_a, response=RESPONSE)
    assert await claim(storage, b, record(key, at=retry_at)) == in_b

    async with storage.units(b.tenant_id, b.user_id) as uow:
        await uow.idempotency_keys.release(key)
        await uow.commit()
    assert await claim(storage, a, record(key, at=retry_at)) == replace(in_a, response=RESPONSE)
