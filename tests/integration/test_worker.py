"""The worker on real PostgreSQL: outbox delivery, retries and dead letters, inbox processing,
leases that survive a dead worker, and several workers side by side.

The database is shared by the session and a worker claims due rows of every tenant, so workers
here claim generous batches and every assertion looks only at rows of the test's own tenants.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest
from dependency_injector import providers

from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.core.queues.model import (
    FIRST_RETRY,
    InboxEvent,
    JobStatus,
    OutboxMessage,
    new_outbox_message,
)
from switchboard.plugins.fake import FakeRecord
from switchboard.ports.providers import EmailMessage, PaymentsPort, ProviderError, SmsSender
from tests.e2e.helpers import SignedUp, sign_up

ROOMY = 1000  # a batch large enough for every due row the session may hold
EMAIL = {"to": "ada@example.test", "subject": "Your appointment", "text": "See you at 10."}
SMS = {"to": "+14155550100", "body": "See you at 10."}


class NoJitter(random.Random):
    """Retry at once: the backoff's random share is always zero."""

    def random(self) -> float:
        return 0.0


# --- helpers --------------------------------------------------------------------------------------


async def new_tenant(client) -> tuple[SignedUp, UUID]:
    who = await sign_up(client)
    return who, UUID(who.tenant_id)


async def connect(client, who: SignedUp, provider: str) -> None:
    """Connect one of the fake plugin's providers for this tenant, over the API."""
    payload = {"provider": provider, "config": {"api_key": f"sk_test_{uuid4().hex}", "label": "worker"}}
    response = await client.post("/v1/integrations", json=payload | {"enabled": True}, headers=who.auth)
    assert response.status_code == 201, await response.get_data()


async def enable_features(container, tenant_id: UUID, *keys: str) -> None:
    """Turn plan-gated capabilities on for one tenant, as a platform admin would."""
    await set_flags(
        SetFlags(tenant_id, dict.fromkeys(keys, True)),
        uuid4(),
        container.units()(tenant_id),
        container.clock(),
    )


def fake_record(container) -> FakeRecord:
    record: FakeRecord = container.plugins().manager.get_plugin("fake").record
    return record


def emails_sent(container, job_ids: list[UUID]) -> Counter[str]:
    """How many times the fake email provider was asked to send each of these jobs."""
    keys = {str(job_id) for job_id in job_ids}
    return Counter(
        message.idempotency_key
        for _, message in fake_record(container).emails
        if message.idempotency_key in keys
    )


async def enqueue(
    container, tenant_id: UUID, kind: str, payload: dict[str, Any], **changes: Any
) -> OutboxMessage:
    """Add an outbox message in a unit of work of the tenant, as a use case would."""
    message = replace(new_outbox_message(tenant_id, kind, payload, container.clock().now()), **changes)
    async with container.units()(tenant_id) as uow:
        await uow.outbox.add(message)
        await uow.commit()
    return message


async def enqueue_many(container, tenant_id: UUID, count: int) -> list[OutboxMessage]:
    now = container.clock().now()
    messages = [
        new_outbox_message(tenant_id, "email.send", EMAIL | {"subject": f"Message {n}"}, now)
        for n in range(count)
    ]
    async with container.units()(tenant_id) as uow:
        for message in messages:
            await uow.outbox.add(message)
        await uow.commit()
    return messages


async def stored_message(container, tenant_id: UUID, job_id: UUID) -> OutboxMessage:
    async with container.units()(tenant_id) as uow:
        message = await uow.outbox.get(job_id)
    assert message is not None
    return message


async def receive(
    container, tenant_id: UUID, provider: str = "fake_email", type_: str = "delivered"
) -> InboxEvent:
    """Store an incoming event in the inbox, as the webhook endpoint does."""
    now = container.clock().now()
    event = InboxEvent(
        id=uuid4(),
        tenant_id=tenant_id,
        integration_id=uuid4(),
        provider=provider,
        event_id=f"evt_{uuid4().hex}",
        type=type_,
        data={"message_id": "fake_email_000001"},
        occurred_at=now,
        received_at=now,
        status=JobStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    async with container.units()(tenant_id) as uow:
        assert await uow.inbox.add_if_new(event) is True
        await uow.commit()
    return event


async def stored_event(container, tenant_id: UUID, job_id: UUID) -> InboxEvent:
    async with container.units()(tenant_id) as uow:
        event = await uow.inbox.get(job_id)
    assert event is not None
    return event


class RefusingEmail:
    def __init__(self, retryable: bool) -> None:
        self.retryable = retryable
        self.asked: list[EmailMessage] = []

    async def send_email(self, message: EmailMessage) -> str:
        self.asked.append(message)
        raise ProviderError("no", retryable=self.retryable, status=503 if self.retryable else 400)


class RefusingRegistry:
    """A ProviderRegistry whose every email provider refuses, retryably or not."""

    def __init__(self, retryable: bool) -> None:
        self.email = RefusingEmail(retryable)

    async def email_for(self, tenant_id: UUID) -> RefusingEmail:
        return self.email

    async def sms_for(self, tenant_id: UUID) -> SmsSender:
        raise AssertionError("not used here")

    async def payments_for(self, tenant_id: UUID) -> PaymentsPort:
        raise AssertionError("not used here")


# --- outbox ---------------------------------------------------------------------------------------


async def test_an_email_is_sent_through_the_tenants_provider_and_the_job_ends_done(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    message = await enqueue(container, tenant_id, "email.send", EMAIL)
    worker = container.worker(batch=ROOMY, lease_seconds=60)

    claimed = await worker.run_once()

    assert claimed >= 1
    sent = [(label, m) for label, m in fake_record(container).emails if m.idempotency_key == str(message.id)]
    assert sent == [("worker", EmailMessage(**EMAIL, idempotency_key=str(message.id)))]
    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.DONE
    assert stored.attempts == 1
    assert stored.finished_at is not None
    assert stored.finished_at >= message.created_at
    assert stored.locked_until is None
    assert stored.last_error is None


async def test_a_done_email_is_not_sent_again_by_later_runs(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    message = await enqueue(container, tenant_id, "email.send", EMAIL)
    worker = container.worker(batch=ROOMY, lease_seconds=1)

    await worker.run_once()
    await asyncio.sleep(1.2)
    await worker.run_once()

    assert emails_sent(container, [message.id]) == {str(message.id): 1}
    assert (await stored_message(container, tenant_id, message.id)).attempts == 1


async def test_without_an_email_integration_the_console_sender_is_used_and_the_job_ends_done(
    client, container
):
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "email.send", EMAIL)

    await container.worker(batch=ROOMY).run_once()

    assert emails_sent(container, [message.id]) == {}
    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.DONE
    assert stored.finished_at is not None


async def test_a_text_message_is_sent_through_the_tenants_sms_provider(client, container):
    who, tenant_id = await new_tenant(client)
    await enable_features(container, tenant_id, "sms")
    await connect(client, who, "fake_sms")
    message = await enqueue(container, tenant_id, "sms.send", SMS)

    await container.worker(batch=ROOMY).run_once()

    sent = [m for _, m in fake_record(container).sms if m.idempotency_key == str(message.id)]
    assert len(sent) == 1
    assert (sent[0].to, sent[0].body) == (SMS["to"], SMS["body"])
    assert (await stored_message(container, tenant_id, message.id)).status is JobStatus.DONE


@pytest.mark.parametrize(
    ("sms_feature", "error"),
    [(False, "FeatureDisabled"), (True, "Conflict")],
    ids=["sms-feature-off", "no-sms-provider"],
)
async def test_a_text_message_a_tenant_cannot_send_stays_pending_and_backs_off(
    client, container, sms_feature, error
):
    _, tenant_id = await new_tenant(client)
    if sms_feature:
        await enable_features(container, tenant_id, "sms")
    message = await enqueue(container, tenant_id, "sms.send", SMS)
    worker = container.worker(batch=ROOMY, lease_seconds=60, rng=random.Random(7))
    before = container.clock().now()

    await worker.run_once()

    after = container.clock().now()
    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.PENDING
    assert stored.attempts == 1
    assert stored.last_error is not None
    assert stored.last_error.startswith(f"{error}: ")
    assert stored.locked_until is None
    assert stored.finished_at is None
    assert before < stored.next_attempt_at <= after + FIRST_RETRY
    # Not due yet: an immediate second run leaves it alone.
    await worker.run_once()
    assert (await stored_message(container, tenant_id, message.id)).attempts == 1


async def test_a_message_that_keeps_failing_is_dead_after_its_last_attempt(client, container):
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "sms.send", SMS, max_attempts=2)
    worker = container.worker(batch=ROOMY, lease_seconds=60, rng=NoJitter())

    await worker.run_once()
    first = await stored_message(container, tenant_id, message.id)
    await worker.run_once()
    second = await stored_message(container, tenant_id, message.id)

    assert (first.status, first.attempts) == (JobStatus.PENDING, 1)
    assert (second.status, second.attempts) == (JobStatus.DEAD, 2)
    assert second.last_error is not None
    assert second.last_error.startswith("FeatureDisabled: ")
    assert second.finished_at is not None
    assert second.locked_until is None
    await worker.run_once()
    assert (await stored_message(container, tenant_id, message.id)).attempts == 2


async def test_a_message_of_an_unknown_kind_is_dead_at_once(client, container):
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "carrier.pigeon", {"to": "somewhere"})

    await container.worker(batch=ROOMY).run_once()

    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.DEAD
    assert stored.attempts == 1
    assert stored.last_error is not None
    assert stored.last_error.startswith("PermanentFailure: ")
    assert "carrier.pigeon" in stored.last_error
    assert stored.finished_at is not None


async def test_an_email_with_a_malformed_payload_is_dead_at_once(client, container):
    """Retrying cannot fix a payload that is not an email (PermanentFailure: "bad payload")."""
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "email.send", {"to": "ada@example.test", "colour": "red"})

    await container.worker(batch=ROOMY).run_once()

    stored = await stored_message(container, tenant_id, message.id)
    assert stored.last_error is not None
    assert (stored.status, stored.attempts) == (JobStatus.DEAD, 1), stored.last_error


async def test_a_message_whose_claims_used_up_its_attempts_is_not_run_again(client, container):
    """Attempts are counted when claimed "so a job that kills workers still ends" (model.py)."""
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    message = await enqueue(container, tenant_id, "email.send", EMAIL, max_attempts=2)
    for _ in range(2):  # two workers claim it and die mid-delivery, without settling it
        assert (tenant_id, message.id) in await container.job_claims().claim_outbox(ROOMY, 1)
        await asyncio.sleep(1.2)

    await container.worker(batch=ROOMY, lease_seconds=60).run_once()

    stored = await stored_message(container, tenant_id, message.id)
    assert stored.attempts == 3
    assert emails_sent(container, [message.id]) == {}, "run a third time though max_attempts is 2"
    assert stored.status is JobStatus.DEAD
    assert stored.finished_at is not None


async def test_a_provider_refusal_that_retrying_cannot_fix_is_dead_at_once(client, container):
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "email.send", EMAIL)
    registry = RefusingRegistry(retryable=False)
    with container.provider_registry.override(providers.Object(registry)):
        worker = container.worker(batch=ROOMY)

    await worker.run_once()

    assert str(message.id) in {asked.idempotency_key for asked in registry.email.asked}
    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.DEAD
    assert stored.attempts == 1
    assert stored.last_error == "PermanentFailure: no"
    assert stored.finished_at is not None


async def test_a_provider_failure_that_may_pass_stays_pending_for_a_retry(client, container):
    _, tenant_id = await new_tenant(client)
    message = await enqueue(container, tenant_id, "email.send", EMAIL)
    registry = RefusingRegistry(retryable=True)
    with container.provider_registry.override(providers.Object(registry)):
        worker = container.worker(batch=ROOMY)

    await worker.run_once()

    stored = await stored_message(container, tenant_id, message.id)
    assert stored.status is JobStatus.PENDING
    assert stored.attempts == 1
    assert stored.last_error == "ProviderError: no"
    assert stored.finished_at is None


# --- inbox ----------------------------------------------------------------------------------------


async def test_an_incoming_event_is_handed_to_its_handler_once_and_ends_done(client, container):
    _, tenant_id = await new_tenant(client)
    event = await receive(container, tenant_id, "fake_email", "delivered")
    handled: list[InboxEvent] = []

    async def on_delivered(received: InboxEvent) -> None:
        handled.append(received)

    worker = container.worker(
        batch=ROOMY, lease_seconds=1, event_handlers={("fake_email", "delivered"): on_delivered}
    )

    await worker.run_once()
    await asyncio.sleep(1.2)
    await worker.run_once()

    mine = [received for received in handled if received.id == event.id]
    assert len(mine) == 1
    assert (mine[0].tenant_id, mine[0].type, mine[0].data) == (tenant_id, "delivered", event.data)
    stored = await stored_event(container, tenant_id, event.id)
    assert stored.status is JobStatus.DONE
    assert stored.attempts == 1
    assert stored.finished_at is not None


async def test_an_incoming_event_nobody_handles_is_simply_done(client, container):
    _, tenant_id = await new_tenant(client)
    event = await receive(container, tenant_id, "fake_email", "opened")

    await container.worker(batch=ROOMY).run_once()

    stored = await stored_event(container, tenant_id, event.id)
    assert stored.status is JobStatus.DONE


async def test_an_incoming_event_whose_handler_fails_stays_pending_for_a_retry(client, container):
    _, tenant_id = await new_tenant(client)
    event = await receive(container, tenant_id, "fake_email", "bounced")

    async def on_bounced(received: InboxEvent) -> None:
        if received.id == event.id:
            raise RuntimeError("customer store unavailable")

    worker = container.worker(batch=ROOMY, event_handlers={("fake_email", "bounced"): on_bounced})

    await worker.run_once()

    stored = await stored_event(container, tenant_id, event.id)
    assert stored.status is JobStatus.PENDING
    assert stored.attempts == 1
    assert stored.last_error == "RuntimeError: customer store unavailable"
    assert stored.next_attempt_at > stored.received_at


# --- crashes and concurrency ------------------------------------------------------------------------


async def test_killing_a_worker_mid_delivery_loses_nothing(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    messages = await enqueue_many(container, tenant_id, 3)
    ids = [message.id for message in messages]

    # A worker claims the rows, then dies before settling them.
    claimed = await container.job_claims().claim_outbox(ROOMY, 2)
    assert {(tenant_id, job_id) for job_id in ids} <= set(claimed)

    survivor = container.worker(batch=ROOMY, lease_seconds=60)
    await survivor.run_once()
    assert emails_sent(container, ids) == {}, "a leased row was taken from under its worker"
    for job_id in ids:
        stored = await stored_message(container, tenant_id, job_id)
        assert (stored.status, stored.attempts) == (JobStatus.PENDING, 1)

    await asyncio.sleep(2.2)  # the dead worker's lease ends
    await survivor.run_once()
    await survivor.run_once()

    assert emails_sent(container, ids) == {str(job_id): 1 for job_id in ids}
    for job_id in ids:
        stored = await stored_message(container, tenant_id, job_id)
        assert (stored.status, stored.attempts) == (JobStatus.DONE, 2)


async def test_two_workers_side_by_side_deliver_each_message_exactly_once(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    messages = await enqueue_many(container, tenant_id, 30)
    ids = [message.id for message in messages]
    first = container.worker(batch=5, lease_seconds=60)
    second = container.worker(batch=5, lease_seconds=60)

    for _ in range(40):
        await asyncio.gather(first.run_once(), second.run_once())
        states = [await stored_message(container, tenant_id, job_id) for job_id in ids]
        if all(state.status is JobStatus.DONE for state in states):
            break

    assert emails_sent(container, ids) == {str(job_id): 1 for job_id in ids}
    for job_id in ids:
        stored = await stored_message(container, tenant_id, job_id)
        assert (stored.status, stored.attempts) == (JobStatus.DONE, 1)


# --- the loop -------------------------------------------------------------------------------------


async def test_a_running_worker_delivers_new_messages_and_stops_when_asked(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    stop = asyncio.Event()
    task = asyncio.create_task(container.worker(batch=ROOMY, idle_seconds=0.05).run(stop))
    try:
        message = await enqueue(container, tenant_id, "email.send", EMAIL)
        deadline = asyncio.get_running_loop().time() + 5
        while (await stored_message(container, tenant_id, message.id)).status is not JobStatus.DONE:
            assert asyncio.get_running_loop().time() < deadline, "the worker did not deliver in 5 s"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    finally:
        task.cancel()

    assert emails_sent(container, [message.id]) == {str(message.id): 1}


async def test_a_new_message_wakes_an_idle_worker_long_before_its_fallback_poll(client, container):
    who, tenant_id = await new_tenant(client)
    await connect(client, who, "fake_email")
    stop = asyncio.Event()
    task = asyncio.create_task(container.worker(batch=ROOMY, idle_seconds=30).run(stop))
    try:
        await asyncio.sleep(0.5)  # idle, listening
        started = asyncio.get_running_loop().time()
        message = await enqueue(container, tenant_id, "email.send", EMAIL)
        while (await stored_message(container, tenant_id, message.id)).status is not JobStatus.DONE:
            assert asyncio.get_running_loop().time() - started < 5, "no wake-up: it waited for the 30 s poll"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    finally:
        task.cancel()


async def test_an_idle_worker_stops_at_once_when_asked(client, container):
    stop = asyncio.Event()
    task = asyncio.create_task(container.worker(batch=ROOMY, idle_seconds=30).run(stop))
    await asyncio.sleep(0.3)  # claimed whatever was due, now idling

    stop.set()

    await asyncio.wait_for(task, timeout=1)
    assert task.done()
