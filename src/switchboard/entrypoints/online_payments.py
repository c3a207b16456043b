"""Paying invoices online and refunding through the tenant's payments provider: the provider calls
around the core's decisions (core/sales/provider_payments.py), for the HTTP routes and the worker.

The core decides what to ask for and records what happened; here the request is built in the
port's words, the provider is called with no transaction open, and its failures become the
core's errors (``ProviderUnavailable``: try again later; ``ProviderRefused``: it said no).

The worker gets two things from here: a handler for every payment event a payments plugin reads
(``ProviderSpec.payment_events``), and the performer of the ``payments.refund`` outbox job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from switchboard.core.errors import Conflict, DomainError
from switchboard.core.identity.model import Principal
from switchboard.core.queues.model import InboxEvent, OutboxMessage, PermanentFailure
from switchboard.core.sales import provider_payments as core
from switchboard.core.sales.provider_payments import (
    PaymentNotice,
    PaymentPlan,
    PaymentSucceeded,
    RefundChanged,
    RequestPayment,
)
from switchboard.entrypoints.provider_jobs import guarded, retry_or_fail
from switchboard.plugins.manager import PluginCatalog
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.providers import (
    PaymentIntent,
    PaymentIntentRequest,
    PaymentLink,
    PaymentLinkRequest,
    PaymentsPort,
    ProviderError,
    ProviderEvent,
    ProviderRegistry,
    RefundRequest,
)

_FAILED = "payments_provider_failed"  # the log event of a provider failure in a request
EventHandler = Callable[[InboxEvent], Awaitable[None]]
Performer = Callable[[OutboxMessage], Awaitable[None]]


@dataclass(frozen=True)
class Requested:
    plan: PaymentPlan
    intent: PaymentIntent | None = None
    link: PaymentLink | None = None


async def create_payment_intent(
    cmd: RequestPayment,
    principal: Principal,
    unit: Callable[[], UnitOfWork],
    registry: ProviderRegistry,
) -> Requested:
    """A payment intent for the invoice (the amount due unless less is asked), to confirm with
    its client secret; the same request again answers the same intent."""
    plan = await core.plan_payment(cmd, principal, unit())
    payments = await registry.payments_for(plan.tenant_id)
    request = PaymentIntentRequest(
        amount=plan.amount,
        currency=plan.currency,
        description=plan.description,
        metadata=plan.metadata,
        idempotency_key=plan.idempotency_key,
    )
    intent = await guarded(plan.provider, payments.create_payment_intent(request), _FAILED)
    await core.note_payment_requested(plan, "payment_intent", intent.provider_id, unit())
    return Requested(plan, intent=intent)


async def create_payment_link(
    cmd: RequestPayment,
    principal: Principal,
    unit: Callable[[], UnitOfWork],
    registry: ProviderRegistry,
    default_success_url: str,
) -> Requested:
    """A page the provider hosts where the customer pays the invoice."""
    plan = await core.plan_payment(cmd, principal, unit(), link=True)
    payments: PaymentsPort = await registry.payments_for(plan.tenant_id)
    if not callable(getattr(payments, "create_payment_link", None)):
        raise Conflict(f"{plan.provider} cannot make payment links", code="provider_cannot_link")
    request = PaymentLinkRequest(
        amount=plan.amount,
        currency=plan.currency,
        description=plan.description,
        success_url=plan.success_url or default_success_url,
        cancel_url=plan.cancel_url,
        customer_email=plan.customer_email,
        metadata=plan.metadata,
        idempotency_key=plan.idempotency_key,
    )
    link = await guarded(plan.provider, payments.create_payment_link(request), _FAILED)
    await core.note_payment_requested(plan, "payment_link", link.provider_id, unit())
    return Requested(plan, link=link)


# --- the worker ----------------------------------------------------------------------------------


def payment_event_handlers(
    catalog: PluginCatalog, units: UnitOfWorkFactory, clock: Clock
) -> dict[tuple[str, str], EventHandler]:
    """A handler for each (provider, event type) a payments plugin reads."""
    handlers: dict[tuple[str, str], EventHandler] = {}
    for slug, spec in catalog.specs.items():
        for event_type, read in spec.payment_events.items():
            handlers[(slug, event_type)] = partial(_handle_event, read, units, clock)
    return handlers


async def _handle_event(
    read: Callable[[ProviderEvent], list[PaymentNotice]],
    units: UnitOfWorkFactory,
    clock: Clock,
    event: InboxEvent,
) -> None:
    notices = read(ProviderEvent(event.event_id, event.type, event.data, event.occurred_at))
    for notice in notices:  # each applies once, so a retry of the event may replay them all
        if isinstance(notice, PaymentSucceeded):
            await core.record_online_payment(
                notice, event.provider, event.tenant_id, event.occurred_at, units(event.tenant_id), clock
            )
        else:
            await core.apply_refund_notice(
                notice, event.provider, event.tenant_id, units(event.tenant_id), clock
            )


def payment_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock
) -> dict[str, Performer]:
    return {core.REFUND_KIND: partial(send_refund, units, registry, clock)}


async def send_refund(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, job: OutboxMessage
) -> None:
    """Send a reserved refund to the provider, with our refund's id as the idempotency key, and
    settle it with the answer. A refusal, or failures until the last attempt, release it."""
    try:
        refund_id = UUID(str(job.payload["refund_id"]))
    except (KeyError, ValueError) as error:
        raise PermanentFailure(f"malformed {job.kind} payload: {error}") from error
    tenant_id = job.tenant_id
    plan = await core.refund_to_send(refund_id, units(tenant_id))
    if plan is None:
        return  # settled already (its event came first) or gone
    refund = plan.refund
    if plan.current_provider != refund.provider:
        reason = f"{refund.provider}, which took the payment, is no longer the connected payments provider"
        await core.fail_refund(refund_id, reason, units(tenant_id), clock)
        return
    request = RefundRequest(
        payment_id=refund.provider_payment_id,
        amount=refund.amount,
        reason=refund.reason,
        idempotency_key=str(refund.id),
        metadata=plan.metadata,
    )
    try:
        payments = await registry.payments_for(tenant_id)
        answer = await payments.refund(request)
    except ProviderError as error:  # retried with the same key while attempts remain
        await retry_or_fail(
            error,
            job,
            refund.provider,
            lambda reason: core.fail_refund(refund_id, reason, units(tenant_id), clock),
        )
        return
    except DomainError as error:  # payments turned off, or the provider disconnected meanwhile
        await core.fail_refund(refund_id, error.detail, units(tenant_id), clock)
        return
    notice = RefundChanged(
        provider_refund_id=answer.provider_id,
        provider_payment_id=refund.provider_payment_id,
        amount=answer.amount or refund.amount,
        currency=answer.currency or refund.currency,
        status=core.refund_status(answer.status),
        metadata=plan.metadata,
    )
    await core.apply_refund_notice(notice, refund.provider, tenant_id, units(tenant_id), clock)
