"""The OutboxRepository, InboxRepository and JobClaims contracts, on both adapters.

The PostgreSQL database is shared by the session and a claim takes due rows of every tenant, so
claims here use generous limits and every assertion looks only at rows of the test's own tenants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

import pytest

from switchboard.adapters.clock import SystemClock
from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import (
    MemoryIdentityDirectory,
    MemoryJobClaims,
    MemoryUnitOfWork,
)
from switchboard.adapters.postgres.unit_of_work import (
    PostgresIdentityDirectory,
    PostgresJobClaims,
    PostgresUnitOfWork,
)
from switchboard.core.queues.model import InboxEvent, JobStatus, OutboxMessage, new_outbox_message
from switchboard.ports.persistence import JobClaims, UnitOfWork
from tests.contract.conftest import Storage, utc_now

ROOMY = 1000  # a claim limit large enough for every due row the session may hold
LONG_LEASE = 60

J = TypeVar("J", OutboxMessage, InboxEvent)


@dataclass
class QueueStorage(Storage):
    """An adapter's storage together with its way of claiming queue rows across tenants."""

    claims: JobClaims


@pytest.fixture(params=["memory", "postgres"])
def queues(request: pytest.FixtureRequest) -> QueueStorage:
    """Mirrors the ``storage`` fixture, adding the adapter's JobClaims over the same data."""
    if request.param == "memory":
        store = MemoryStore()
        return QueueStorage(
            "memory",
            partial(MemoryUnitOfWork, store),
            MemoryIdentityDirectory(store),
            MemoryJobClaims(store, SystemClock()),
        )
    pool = request.getfixturevalue("app_pool")
    return QueueStorage(
        "postgres",
        partial(PostgresUnitOfWork, pool),
        PostgresIdentityDirectory(pool),
        PostgresJobClaims(pool),
    )


def make_message(tenant_id: UUID, **changes: Any) -> OutboxMessage:
    payload = {"to": "ada@example.test", "subject": "Hello", "nested": {"list": [1, "two", None], "ok": True}}
    return replace(new_outbox_message(tenant_id, "test.noop", payload, utc_now()), **changes)


def make_event(tenant_id: UUID, **changes: Any) -> InboxEvent:
    now = utc_now()
    event = InboxEvent(
        id=uuid4(),
        tenant_id=tenant_id,
        integration_id=uuid4(),
        provider="fake_email",
        event_id=f"evt_{uuid4().hex}",
        type="delivered",
        data={"message_id": "m-1", "detail": {"attempt": 1, "tags": ["a", "b"]}},
        occurred_at=now - timedelta(seconds=5),
        received_at=now,
        status=JobStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    return replace(event, **changes)


@dataclass(frozen=True)
class Queue(Generic[J]):
    """One of the two queues, seen through the operations every claim test needs."""

    name: str
    make: Callable[..., J]
    add: Callable[[UnitOfWork, J], Awaitable[object]]
    repository: Callable[[UnitOfWork], Any]
    claim: Callable[[JobClaims, int, int], Awaitable[list[tuple[UUID, UUID]]]]


OUTBOX: Queue[OutboxMessage] = Queue(
    "outbox",
    make_message,
    lambda uow, job: uow.outbox.add(job),
    lambda uow: uow.outbox,
    lambda claims, limit, lease: claims.claim_outbox(limit, lease),
)
INBOX: Queue[InboxEvent] = Queue(
    "inbox",
    make_event,
    lambda uow, job: uow.inbox.add_if_new(job),
    lambda uow: uow.inbox,
    lambda claims, limit, lease: claims.claim_inbox(limit, lease),
)


@pytest.fixture(params=[OUTBOX, INBOX], ids=lambda queue: queue.name)
def queue(request: pytest.FixtureRequest) -> Queue[Any]:
    return request.param  # type: ignore[no-any-return]


async def add_jobs(queues: QueueStorage, queue: Queue[Any], tenant_id: UUID, *jobs: Any) -> None:
    async with queues.units(tenant_id) as uow:
        for job in jobs:
            await queue.add(uow, job)
        await uow.commit()


async def read_job(queues: QueueStorage, queue: Queue[Any], tenant_id: UUID, job_id: UUID) -> Any:
    async with queues.units(tenant_id) as uow:
        return await queue.repository(uow).get(job_id)


async def save_job(queues: QueueStorage, queue: Queue[Any], job: Any) -> None:
    async with queues.units(job.tenant_id) as uow:
        await queue.repository(uow).save(job)
        await uow.commit()


def own(claimed: list[tuple[UUID, UUID]], *tenant_ids: UUID) -> list[tuple[UUID, UUID]]:
    """The claimed rows of these tenants only: other tests' rows may come back too."""
    return [pair for pair in claimed if pair[0] in tenant_ids]


# --- outbox ---------------------------------------------------------------------------------------


async def test_an_outbox_message_reads_back_exactly_as_it_was_added(queues: QueueStorage):
    actor = await queues.new_tenant()
    message = make_message(actor.tenant_id, max_attempts=3)

    await add_jobs(queues, OUTBOX, actor.tenant_id, message)

    stored = await read_job(queues, OUTBOX, actor.tenant_id, message.id)
    assert stored == message
    assert stored.payload == {
        "to": "ada@example.test",
        "subject": "Hello",
        "nested": {"list": [1, "two", None], "ok": True},
    }
    assert isinstance(stored.status, JobStatus)
    assert stored.status is JobStatus.PENDING


async def test_a_stored_payload_does_not_follow_later_changes_to_the_callers_dict(queues: QueueStorage):
    actor = await queues.new_tenant()
    message = make_message(actor.tenant_id)
    await add_jobs(queues, OUTBOX, actor.tenant_id, message)

    message.payload["to"] = "someone-else@example.test"
    message.payload["nested"]["list"].append("added later")

    stored = await read_job(queues, OUTBOX, actor.tenant_id, message.id)
    assert stored.payload["to"] == "ada@example.test"
    assert stored.payload["nested"]["list"] == [1, "two", None]


async def test_an_outbox_message_is_invisible_from_another_tenant(queues: QueueStorage):
    owner, other = await queues.new_tenant(), await queues.new_tenant()
    message = make_message(owner.tenant_id)
    await add_jobs(queues, OUTBOX, owner.tenant_id, message)

    assert await read_job(queues, OUTBOX, other.tenant_id, message.id) is None


async def test_an_outbox_message_of_another_tenant_cannot_be_added(queues: QueueStorage):
    owner, other = await queues.new_tenant(), await queues.new_tenant()

    async with queues.units(other.tenant_id) as uow:
        with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
            await uow.outbox.add(make_message(owner.tenant_id))


async def test_saving_an_outbox_message_changes_only_its_queue_state(queues: QueueStorage):
    actor = await queues.new_tenant()
    message = make_message(actor.tenant_id)
    await add_jobs(queues, OUTBOX, actor.tenant_id, message)
    later = utc_now() + timedelta(minutes=5)

    tampered = replace(
        message,
        kind="something.else",
        payload={"changed": True},
        max_attempts=99,
        created_at=message.created_at - timedelta(days=1),
        status=JobStatus.DEAD,
        attempts=4,
        next_attempt_at=later,
        locked_until=later,
        last_error="RuntimeError: boom",
        finished_at=later,
    )
    await save_job(queues, OUTBOX, tampered)

    stored = await read_job(queues, OUTBOX, actor.tenant_id, message.id)
    assert stored == replace(
        message,
        status=JobStatus.DEAD,
        attempts=4,
        next_attempt_at=later,
        locked_until=later,
        last_error="RuntimeError: boom",
        finished_at=later,
    )


# --- inbox ----------------------------------------------------------------------------------------


async def test_an_inbox_event_reads_back_exactly_as_it_was_added(queues: QueueStorage):
    actor = await queues.new_tenant()
    event = make_event(actor.tenant_id)

    async with queues.units(actor.tenant_id) as uow:
        assert await uow.inbox.add_if_new(event) is True
        await uow.commit()

    stored = await read_job(queues, INBOX, actor.tenant_id, event.id)
    assert stored == event
    assert stored.data == {"message_id": "m-1", "detail": {"attempt": 1, "tags": ["a", "b"]}}
    assert stored.status is JobStatus.PENDING


async def test_an_inbox_event_is_stored_once_per_provider_and_event_id(queues: QueueStorage):
    actor = await queues.new_tenant()
    first = make_event(actor.tenant_id)
    again = make_event(actor.tenant_id, event_id=first.event_id, type="bounced", data={"again": True})
    other_provider = make_event(actor.tenant_id, event_id=first.event_id, provider="fake_sms")

    async with queues.units(actor.tenant_id) as uow:
        assert await uow.inbox.add_if_new(first) is True
        await uow.commit()
    async with queues.units(actor.tenant_id) as uow:
        assert await uow.inbox.add_if_new(again) is False
        assert await uow.inbox.add_if_new(other_provider) is True
        await uow.commit()

    assert await read_job(queues, INBOX, actor.tenant_id, first.id) == first
    assert await read_job(queues, INBOX, actor.tenant_id, again.id) is None
    assert await read_job(queues, INBOX, actor.tenant_id, other_provider.id) == other_provider


async def test_a_duplicate_in_the_same_unit_of_work_is_not_stored_either(queues: QueueStorage):
    actor = await queues.new_tenant()
    first = make_event(actor.tenant_id)
    again = make_event(actor.tenant_id, event_id=first.event_id)

    async with queues.units(actor.tenant_id) as uow:
        assert await uow.inbox.add_if_new(first) is True
        assert await uow.inbox.add_if_new(again) is False
        await uow.commit()

    assert await read_job(queues, INBOX, actor.tenant_id, again.id) is None


async def test_the_same_event_id_in_another_tenant_is_a_separate_event(queues: QueueStorage):
    first, second = await queues.new_tenant(), await queues.new_tenant()
    event = make_event(first.tenant_id)
    twin = make_event(second.tenant_id, event_id=event.event_id)

    async with queues.units(first.tenant_id) as uow:
        assert await uow.inbox.add_if_new(event) is True
        await uow.commit()
    async with queues.units(second.tenant_id) as uow:
        assert await uow.inbox.add_if_new(twin) is True
        await uow.commit()

    assert await read_job(queues, INBOX, first.tenant_id, event.id) == event
    assert await read_job(queues, INBOX, second.tenant_id, twin.id) == twin
    assert await read_job(queues, INBOX, first.tenant_id, twin.id) is None


async def test_concurrent_deliveries_of_one_event_store_exactly_one(queues: QueueStorage):
    actor = await queues.new_tenant()
    event_id = f"evt_{uuid4().hex}"
    copies = [make_event(actor.tenant_id, event_id=event_id) for _ in range(10)]

    async def deliver(copy: InboxEvent) -> bool:
        async with queues.units(actor.tenant_id) as uow:
            stored = await uow.inbox.add_if_new(copy)
            await uow.commit()
        return stored

    answers = await asyncio.gather(*(deliver(copy) for copy in copies))

    assert answers.count(True) == 1
    kept = [copy for copy in copies if await read_job(queues, INBOX, actor.tenant_id, copy.id) is not None]
    assert kept == [copies[answers.index(True)]]


async def test_saving_an_inbox_event_changes_only_its_queue_state(queues: QueueStorage):
    actor = await queues.new_tenant()
    event = make_event(actor.tenant_id)
    await add_jobs(queues, INBOX, actor.tenant_id, event)
    later = utc_now() + timedelta(minutes=5)

    tampered = replace(
        event,
        provider="other",
        event_id="changed",
        type="changed",
        data={"changed": True},
        received_at=event.received_at - timedelta(days=1),
        status=JobStatus.DONE,
        attempts=2,
        next_attempt_at=later,
        locked_until=None,
        last_error=None,
        finished_at=later,
    )
    await save_job(queues, INBOX, tampered)

    stored = await read_job(queues, INBOX, actor.tenant_id, event.id)
    assert stored == replace(
        event, status=JobStatus.DONE, attempts=2, next_attempt_at=later, finished_at=later
    )


# --- claims (both queues) -------------------------------------------------------------------------


async def test_a_claim_leases_due_pending_rows_and_counts_an_attempt(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    jobs = [queue.make(actor.tenant_id) for _ in range(3)]
    await add_jobs(queues, queue, actor.tenant_id, *jobs)
    before = utc_now()

    claimed = await queue.claim(queues.claims, ROOMY, LONG_LEASE)

    assert sorted(own(claimed, actor.tenant_id)) == sorted((actor.tenant_id, job.id) for job in jobs)
    for job in jobs:
        stored = await read_job(queues, queue, actor.tenant_id, job.id)
        assert stored.attempts == 1
        assert stored.status is JobStatus.PENDING
        assert stored.locked_until is not None
        assert before + timedelta(seconds=LONG_LEASE - 5) < stored.locked_until
        assert stored.locked_until <= utc_now() + timedelta(seconds=LONG_LEASE)


async def test_a_leased_row_is_not_claimed_again_before_its_lease_ends(
    queues: QueueStorage, queue: Queue[Any]
):
    actor = await queues.new_tenant()
    job = queue.make(actor.tenant_id)
    await add_jobs(queues, queue, actor.tenant_id, job)
    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == [
        (actor.tenant_id, job.id)
    ]

    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == []
    assert (await read_job(queues, queue, actor.tenant_id, job.id)).attempts == 1


async def test_a_row_due_later_is_not_claimed(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    later = queue.make(actor.tenant_id, next_attempt_at=utc_now() + timedelta(minutes=10))
    await add_jobs(queues, queue, actor.tenant_id, later)

    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == []
    stored = await read_job(queues, queue, actor.tenant_id, later.id)
    assert stored.attempts == 0
    assert stored.locked_until is None


@pytest.mark.parametrize("status", [JobStatus.DONE, JobStatus.DEAD])
async def test_settled_rows_are_not_claimed(queues: QueueStorage, queue: Queue[Any], status: JobStatus):
    actor = await queues.new_tenant()
    job = queue.make(actor.tenant_id)
    await add_jobs(queues, queue, actor.tenant_id, job)
    await save_job(queues, queue, replace(job, status=status, attempts=1, finished_at=utc_now()))

    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == []
    stored = await read_job(queues, queue, actor.tenant_id, job.id)
    assert stored.status is status
    assert stored.attempts == 1
    assert stored.locked_until is None


async def test_a_row_is_claimed_again_once_its_lease_ends(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    job = queue.make(actor.tenant_id)
    await add_jobs(queues, queue, actor.tenant_id, job)
    assert own(await queue.claim(queues.claims, ROOMY, 1), actor.tenant_id) == [(actor.tenant_id, job.id)]

    await asyncio.sleep(1.2)

    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == [
        (actor.tenant_id, job.id)
    ]
    stored = await read_job(queues, queue, actor.tenant_id, job.id)
    assert stored.attempts == 2
    assert stored.locked_until > utc_now() + timedelta(seconds=LONG_LEASE - 5)


async def test_a_lease_saved_into_the_past_frees_the_row(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    job = queue.make(actor.tenant_id)
    await add_jobs(queues, queue, actor.tenant_id, job)
    await queue.claim(queues.claims, ROOMY, LONG_LEASE)
    leased = await read_job(queues, queue, actor.tenant_id, job.id)

    await save_job(queues, queue, replace(leased, locked_until=utc_now() - timedelta(seconds=1)))

    assert own(await queue.claim(queues.claims, ROOMY, LONG_LEASE), actor.tenant_id) == [
        (actor.tenant_id, job.id)
    ]
    assert (await read_job(queues, queue, actor.tenant_id, job.id)).attempts == 2


async def test_concurrent_claims_never_hand_out_the_same_row(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    jobs = [queue.make(actor.tenant_id) for _ in range(20)]
    await add_jobs(queues, queue, actor.tenant_id, *jobs)
    expected = {(actor.tenant_id, job.id) for job in jobs}

    handed_out: list[tuple[UUID, UUID]] = []
    for _ in range(50):  # small limits, so the claimants compete; other tests' due rows may come first
        batches = await asyncio.gather(*(queue.claim(queues.claims, 5, LONG_LEASE) for _ in range(4)))
        assert all(len(batch) <= 5 for batch in batches)
        handed_out += [pair for batch in batches for pair in batch]
        if expected <= set(handed_out):
            break

    mine = own(handed_out, actor.tenant_id)
    assert len(mine) == len(set(mine)), "a row was handed to two claimants"
    assert set(mine) == expected
    for job in jobs:
        assert (await read_job(queues, queue, actor.tenant_id, job.id)).attempts == 1


async def test_a_claim_takes_due_rows_of_every_tenant(queues: QueueStorage, queue: Queue[Any]):
    first, second = await queues.new_tenant(), await queues.new_tenant()
    first_job, second_job = queue.make(first.tenant_id), queue.make(second.tenant_id)
    await add_jobs(queues, queue, first.tenant_id, first_job)
    await add_jobs(queues, queue, second.tenant_id, second_job)

    claimed = await queue.claim(queues.claims, ROOMY, LONG_LEASE)

    assert sorted(own(claimed, first.tenant_id, second.tenant_id)) == sorted(
        [(first.tenant_id, first_job.id), (second.tenant_id, second_job.id)]
    )


async def test_a_claim_changes_nothing_but_the_lease_and_the_attempt_count(
    queues: QueueStorage, queue: Queue[Any]
):
    actor = await queues.new_tenant()
    job = queue.make(actor.tenant_id, attempts=2, last_error="TimeoutError: slow")
    await add_jobs(queues, queue, actor.tenant_id, job)

    await queue.claim(queues.claims, ROOMY, LONG_LEASE)

    stored = await read_job(queues, queue, actor.tenant_id, job.id)
    assert stored.locked_until is not None
    assert stored == replace(job, attempts=3, locked_until=stored.locked_until)


async def test_a_claim_takes_the_longest_waiting_rows_first(queues: QueueStorage, queue: Queue[Any]):
    actor = await queues.new_tenant()
    now = utc_now()
    # Older than anything another test leaves due, so a limit of two reaches exactly these.
    oldest = queue.make(actor.tenant_id, next_attempt_at=now - timedelta(days=3650))
    older = queue.make(actor.tenant_id, next_attempt_at=now - timedelta(days=3649))
    newer = queue.make(actor.tenant_id, next_attempt_at=now - timedelta(days=3648))
    await add_jobs(queues, queue, actor.tenant_id, newer, oldest, older)

    claimed = await queue.claim(queues.claims, 2, LONG_LEASE)

    assert sorted(claimed) == sorted([(actor.tenant_id, oldest.id), (actor.tenant_id, older.id)])
    assert (await read_job(queues, queue, actor.tenant_id, newer.id)).attempts == 0


async def test_a_committed_queue_row_wakes_whoever_waits_for_work(queues: QueueStorage):
    actor = await queues.new_tenant()
    assert await queues.claims.wait_for_work(0.05) is False  # nothing new: it times out

    async def add_later() -> None:
        await asyncio.sleep(0.2)
        async with queues.units(actor.tenant_id) as uow:
            await uow.outbox.add(make_message(actor.tenant_id))
            await uow.commit()

    adding = asyncio.create_task(add_later())
    try:
        assert await queues.claims.wait_for_work(5) is True
    finally:
        await adding
        await queues.claims.close()


async def test_an_uncommitted_queue_row_wakes_nobody(queues: QueueStorage):
    actor = await queues.new_tenant()
    await queues.claims.wait_for_work(0.05)  # listening from here on
    async with queues.units(actor.tenant_id) as uow:
        await uow.outbox.add(make_message(actor.tenant_id))  # rolled back

    try:
        assert await queues.claims.wait_for_work(0.3) is False
    finally:
        await queues.claims.close()
