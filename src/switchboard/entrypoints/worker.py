"""The worker: claims due outbox messages and inbox events of every tenant and runs them.

Several workers can run side by side: a claim leases its rows (``FOR UPDATE SKIP LOCKED``), so
each row goes to one worker; a worker that dies loses its leases and the rows are claimed again.
Delivery is therefore at least once: a message is retried until it is settled, and providers get
the message id as their idempotency key where they accept one (Stripe does; Twilio and SendGrid
do not, so a crash between their answer and the settling can send twice).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog

from switchboard.core.identity.sessions import ACCOUNT_EMAIL
from switchboard.core.queues.handlers import run_inbox_event, run_outbox_message
from switchboard.core.queues.model import InboxEvent, OutboxMessage, PermanentFailure
from switchboard.core.reminders.handlers import prepare_reminder, reminder_sent
from switchboard.core.reminders.model import REMINDER_KIND, ReminderPayloadInvalid
from switchboard.core.webhooks.handlers import DELIVER, deliver
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import JobClaims, UnitOfWorkFactory
from switchboard.ports.providers import (
    EmailMessage,
    ProviderError,
    ProviderRegistry,
    SecretBox,
    SmsMessage,
    WebhookSender,
)

log = structlog.get_logger("switchboard.worker")

EventHandler = Callable[[InboxEvent], Awaitable[None]]
# Picks the handler of an event no exact (provider, type) handler claims, e.g. by what the
# provider's plugin offers (every event of a voice platform); None: not its business.
EventRouter = Callable[[InboxEvent], EventHandler | None]
Performer = Callable[[OutboxMessage], Awaitable[None]]
IDLE_SLICE_SECONDS = 0.25


class Worker:
    def __init__(
        self,
        claims: JobClaims,
        units: UnitOfWorkFactory,
        registry: ProviderRegistry,
        clock: Clock,
        webhook_sender: WebhookSender,
        box: SecretBox,
        *,
        batch: int = 20,
        lease_seconds: int = 60,
        idle_seconds: float = 1.0,
        event_handlers: dict[tuple[str, str], EventHandler] | None = None,
        event_routers: Sequence[EventRouter] = (),
        performers: dict[str, Performer] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._claims = claims
        self._units = units
        self._registry = registry
        self._clock = clock
        self._webhook_sender = webhook_sender
        self._box = box
        self._batch = batch
        self._lease_seconds = lease_seconds
        self._idle_seconds = idle_seconds
        self._event_handlers = event_handlers or {}
        self._event_routers = tuple(event_routers)
        self._rng = rng or random.Random()  # noqa: S311 (retry jitter, not security)
        self._performers: dict[str, Performer] = {
            "email.send": self._send_email,
            ACCOUNT_EMAIL: self._send_account_email,
            "sms.send": self._send_sms,
            DELIVER: self._deliver_webhook,
            REMINDER_KIND: self._send_reminder,
            **(performers or {}),  # other kinds, by the use cases that enqueue them
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: run what is due; when nothing is, sleep until new work is announced,
        or for ``idle_seconds`` at most (retries come due without any announcement)."""
        log.info("worker_started", batch=self._batch, lease_seconds=self._lease_seconds)
        try:
            while not stop.is_set():
                if await self.run_once() == 0:
                    await self._idle(stop)
        finally:
            await self._claims.close()
        log.info("worker_stopped")

    async def _idle(self, stop: asyncio.Event) -> None:
        # Short slices: a stop request is noticed quickly and no wait is ever cancelled midway.
        deadline = asyncio.get_running_loop().time() + self._idle_seconds
        while not stop.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or await self._claims.wait_for_work(min(remaining, IDLE_SLICE_SECONDS)):
                return

    async def run_once(self) -> int:
        """Claim one batch of each queue, run it; the number of rows claimed."""
        outbox = await self._claims.claim_outbox(self._batch, self._lease_seconds)
        inbox = await self._claims.claim_inbox(self._batch, self._lease_seconds)
        await asyncio.gather(
            *(self._run_outbox(tenant_id, job_id) for tenant_id, job_id in outbox),
            *(
                run_inbox_event(tenant_id, job_id, self._units, self._process, self._clock, self._rng)
                for tenant_id, job_id in inbox
            ),
        )
        return len(outbox) + len(inbox)

    async def _run_outbox(self, tenant_id: Any, job_id: Any) -> None:
        status = await run_outbox_message(
            tenant_id, job_id, self._units, self._perform, self._clock, self._rng
        )
        log.info("outbox_message", tenant_id=str(tenant_id), job_id=str(job_id), status=status)

    async def _perform(self, job: OutboxMessage) -> None:
        performer = self._performers.get(job.kind)
        if performer is None:
            raise PermanentFailure(f"no worker knows how to perform {job.kind!r}")
        try:
            await performer(job)
        except ProviderError as error:
            # Providers' errors say whether retrying can help (a declined card cannot).
            if not error.retryable:
                raise PermanentFailure(str(error)) from error
            raise

    async def _process(self, event: InboxEvent) -> None:
        handler = self._event_handlers.get((event.provider, event.type))
        if handler is None:
            handler = next((h for route in self._event_routers if (h := route(event)) is not None), None)
        if handler is not None:
            await handler(event)

    async def _send_email(self, job: OutboxMessage) -> None:
        message = _build(EmailMessage, job)
        sender = await self._registry.email_for(job.tenant_id)
        await sender.send_email(message)

    async def _send_account_email(self, job: OutboxMessage) -> None:
        sender = await self._registry.account_email_for(job.tenant_id)
        await sender.send_email(_build(EmailMessage, job))

    async def _deliver_webhook(self, job: OutboxMessage) -> None:
        await deliver(
            job.tenant_id,
            job.payload,
            job.attempts,
            self._units,
            self._webhook_sender,
            self._box,
            self._clock,
        )

    async def _send_reminder(self, job: OutboxMessage) -> None:
        """Decide at send time whether the reminder still applies, send it by the customer's
        channel through the tenant's provider, then record it (and schedule the next overdue one)."""
        try:
            outgoing = await prepare_reminder(job.tenant_id, job.payload, self._units, self._clock)
        except ReminderPayloadInvalid as error:
            raise PermanentFailure(str(error)) from error
        if outgoing is None:
            return
        key = str(job.id)
        if outgoing.channel == "sms":
            sms = await self._registry.sms_for(job.tenant_id)
            await sms.send_sms(SmsMessage(outgoing.to, f"{outgoing.subject}. {outgoing.text}", key))
        else:
            email = await self._registry.email_for(job.tenant_id)
            await email.send_email(
                EmailMessage(outgoing.to, outgoing.subject, outgoing.text, idempotency_key=key)
            )
        await reminder_sent(job.tenant_id, outgoing, self._units, self._clock)

    async def _send_sms(self, job: OutboxMessage) -> None:
        message = _build(SmsMessage, job)
        sender = await self._registry.sms_for(job.tenant_id)
        await sender.send_sms(message)


M = TypeVar("M", EmailMessage, SmsMessage)


def _build(message_type: type[M], job: OutboxMessage) -> M:
    """The message a job describes; a payload that does not fit can never be sent."""
    try:
        return message_type(**job.payload, idempotency_key=str(job.id))
    except TypeError as error:
        raise PermanentFailure(f"malformed {job.kind} payload: {error}") from error
