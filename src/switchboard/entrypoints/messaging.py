"""Text messages in the worker: sending a queued message through the tenant's SMS provider, and
recording what SMS providers tell (inbound messages, status callbacks) from the inbox.

The core decides (core/messaging/handlers.py); here the provider is called with no transaction
open and its failures become the message's outcome. Each SMS plugin reads its own events into the
core's notices (``ProviderSpec.message_events``); this module gives each one a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from uuid import UUID

import structlog

from switchboard.core.errors import DomainError
from switchboard.core.messaging import handlers as core
from switchboard.core.messaging.model import SEND_KIND, InboundMessage, MessageNotice
from switchboard.core.queues.model import InboxEvent, OutboxMessage, PermanentFailure
from switchboard.entrypoints.provider_jobs import retry_or_fail
from switchboard.plugins.manager import PluginCatalog
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderError, ProviderEvent, ProviderRegistry, SmsMessage

log = structlog.get_logger("switchboard.messaging")

EventHandler = Callable[[InboxEvent], Awaitable[None]]
Performer = Callable[[OutboxMessage], Awaitable[None]]

# A status callback can overtake the worker's record of the provider's id for the message (the
# provider answers, calls back, and only then is the answer stored): it is tried again, up to
# this many claims, before it is taken to be about a message sent from elsewhere.
UNKNOWN_MESSAGE_ATTEMPTS = 5


class MessageNotYetKnown(Exception):
    """A status report for a provider id no message has yet; the inbox tries again later."""


def message_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock
) -> dict[str, Performer]:
    return {SEND_KIND: partial(send_message, units, registry, clock)}


async def send_message(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, job: OutboxMessage
) -> None:
    """Send a queued message, unless its number opted out meanwhile (then it is blocked), with
    its id as the idempotency key where the provider takes one; record the provider's answer."""
    try:
        message_id = UUID(str(job.payload["message_id"]))
    except (KeyError, ValueError) as error:
        raise PermanentFailure(f"malformed {job.kind} payload: {error}") from error
    tenant_id = job.tenant_id
    outgoing = await core.prepare_send(message_id, units(tenant_id), clock)
    if outgoing is None:
        return  # gone, settled already, or blocked by an opt-out
    message = outgoing.message
    try:
        sms = await registry.sms_for(tenant_id)
        provider_message_id = await sms.send_sms(SmsMessage(message.to_number, message.body, str(message.id)))
    except ProviderError as error:
        await retry_or_fail(
            error,
            job,
            outgoing.provider,
            lambda reason: core.message_failed(message_id, reason, units(tenant_id), clock),
        )
        return
    except DomainError as error:  # SMS turned off, or the provider disconnected, since it was queued
        await core.message_failed(message_id, error.detail, units(tenant_id), clock)
        return
    await core.message_sent(message_id, outgoing.provider, provider_message_id, units(tenant_id), clock)


def message_event_handlers(
    catalog: PluginCatalog, units: UnitOfWorkFactory, clock: Clock
) -> dict[tuple[str, str], EventHandler]:
    """A handler for each (provider, event type) an SMS plugin reads."""
    handlers: dict[tuple[str, str], EventHandler] = {}
    for slug, spec in catalog.specs.items():
        for event_type, read in spec.message_events.items():
            handlers[(slug, event_type)] = partial(_handle_event, read, units, clock)
    return handlers


async def _handle_event(
    read: Callable[[ProviderEvent], list[MessageNotice]],
    units: UnitOfWorkFactory,
    clock: Clock,
    event: InboxEvent,
) -> None:
    notices = read(ProviderEvent(event.event_id, event.type, event.data, event.occurred_at))
    for notice in notices:  # each applies once, so a retry of the event may replay them all
        unit = units(event.tenant_id)
        if isinstance(notice, InboundMessage):
            await core.receive_message(
                notice, event.provider, event.tenant_id, unit, clock, event.received_at
            )
            continue
        if await core.apply_status(notice, event.provider, unit, clock) is not None:
            continue
        if event.attempts < UNKNOWN_MESSAGE_ATTEMPTS:
            raise MessageNotYetKnown(f"no message has {event.provider} id {notice.provider_message_id} yet")
        log.info(
            "message_status_for_unknown_message",
            provider=event.provider,
            provider_message_id=notice.provider_message_id,
            tenant_id=str(event.tenant_id),
        )
