"""Reminder use cases: the tenant's settings, scheduling reminders when things happen, and
deciding, when one comes due, whether it still applies and what it says.

Scheduling functions run inside the caller's open unit of work, so a reminder is enqueued in the
same transaction as the booking, move, sending or issuing that calls for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.core.customers.model import ContactChannel, Customer
from switchboard.core.errors import PreconditionFailed
from switchboard.core.flags.model import effective_flags
from switchboard.core.integrations.model import Capability
from switchboard.core.messaging.handlers import opt_out_of
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.reminders.model import (
    REMINDER_KIND,
    SETTINGS_FIELDS,
    ReminderJob,
    ReminderKind,
    ReminderSettings,
    appointment_reminder_due,
    appointment_still_applies,
    clean_settings_changes,
    invoice_overdue_due,
    invoice_still_applies,
    quote_follow_up_due,
    quote_still_applies,
)
from switchboard.core.sales.currencies import format_money
from switchboard.core.sales.model import Invoice, Quote
from switchboard.core.scheduling.model import Appointment
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:
    from switchboard.core.identity.model import Principal
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateReminderSettings:
    changes: dict[str, Any]  # only the fields the client sent
    if_match: int | None = None


async def get_reminder_settings(principal: Principal, uow: UnitOfWork) -> ReminderSettings:
    require(principal, Action.REMINDERS_READ)
    async with uow:
        return await settings_of(uow, principal.tenant_id)


async def update_reminder_settings(
    cmd: UpdateReminderSettings, principal: Principal, uow: UnitOfWork, clock: Clock
) -> ReminderSettings:
    require(principal, Action.REMINDERS_MANAGE)
    changes = clean_settings_changes(cmd.changes)
    async with uow:
        current = await settings_of(uow, principal.tenant_id)
        if cmd.if_match is not None and cmd.if_match != current.version:
            raise PreconditionFailed("the reminder settings changed since they were read")
        updated = replace(current, **changes, updated_at=clock.now(), version=current.version + 1)
        if not await uow.reminder_settings.save(updated, expected_version=current.version):
            raise PreconditionFailed("the reminder settings changed while they were being updated")
        before, after = _fields(current), _fields(updated)
        changed = {k: {"from": before[k], "to": after[k]} for k in SETTINGS_FIELDS if before[k] != after[k]}
        await uow.audit.record(
            "reminder_settings.updated", "reminder_settings", str(principal.tenant_id), changed
        )
        await uow.commit()
    return updated


async def settings_of(uow: UnitOfWork, tenant_id: UUID) -> ReminderSettings:
    return await uow.reminder_settings.get() or ReminderSettings(tenant_id)


def _fields(settings: ReminderSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in SETTINGS_FIELDS}


# --- scheduling, inside the caller's unit of work ------------------------------------------------


async def appointment_booked(uow: UnitOfWork, appointment: Appointment, now: datetime) -> None:
    """A confirmation now and a reminder before the start, as the tenant has them on."""
    settings = await settings_of(uow, appointment.tenant_id)
    if settings.appointment_confirmation:
        job = ReminderJob(
            ReminderKind.APPOINTMENT_CONFIRMATION, appointment.id, starts_at=appointment.starts_at
        )
        await _enqueue(uow, appointment.tenant_id, job, now, now)
    due = appointment_reminder_due(settings, appointment.starts_at)
    if settings.appointment_reminder and due > now:  # booked too late for one: the confirmation says it
        job = ReminderJob(ReminderKind.APPOINTMENT_REMINDER, appointment.id, starts_at=appointment.starts_at)
        await _enqueue(uow, appointment.tenant_id, job, due, now)


async def appointment_changed(
    uow: UnitOfWork, before: Appointment, after: Appointment, now: datetime
) -> None:
    """A move to another start is confirmed and reminded again; the reminders made for the old
    start find the start changed when they come due and send nothing."""
    if after.starts_at != before.starts_at:
        await appointment_booked(uow, after, now)


async def quote_sent(uow: UnitOfWork, quote: Quote, now: datetime) -> None:
    settings = await settings_of(uow, quote.tenant_id)
    if settings.quote_follow_up and quote.sent_at is not None:
        job = ReminderJob(ReminderKind.QUOTE_FOLLOW_UP, quote.id, sent_at=quote.sent_at)
        await _enqueue(uow, quote.tenant_id, job, quote_follow_up_due(settings, quote.sent_at), now)


async def invoice_issued(uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    settings = await settings_of(uow, invoice.tenant_id)
    due = invoice_overdue_due(settings, invoice, 1)
    if settings.invoice_overdue and invoice.amount_due > 0 and due is not None:
        await _enqueue(
            uow, invoice.tenant_id, ReminderJob(ReminderKind.INVOICE_OVERDUE, invoice.id), due, now
        )


async def _enqueue(uow: UnitOfWork, tenant_id: UUID, job: ReminderJob, due: datetime, now: datetime) -> None:
    message = new_outbox_message(tenant_id, REMINDER_KIND, job.payload(), now)
    await uow.outbox.add(replace(message, next_attempt_at=due))


# --- when a reminder comes due -------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A reminder to send now: by ``channel`` ("email" or "sms") to ``to``."""

    job: ReminderJob
    channel: str
    to: str
    subject: str
    text: str


async def prepare_reminder(
    tenant_id: UUID, payload: dict[str, Any], units: UnitOfWorkFactory, clock: Clock
) -> Outgoing | None:
    """The message to send, or None when the reminder no longer applies or the customer cannot
    be reached (that outcome is audited as ``reminder.skipped`` with the reason)."""
    job = ReminderJob.from_payload(payload)
    now = clock.now()
    async with units(tenant_id) as uow:
        settings = await settings_of(uow, tenant_id)
        tenant = await uow.tenants.get()
        seller = tenant.name if tenant else "Switchboard"
        found = await _subject(uow, job, settings, now, seller)
        if found is None:
            await _record(uow, job, "reminder.skipped", {"reason": "no_longer_applies"})
            await uow.commit()
            return None
        customer_id, subject, text = found
        customer = await uow.customers.get(customer_id)
        flags = effective_flags(tenant.plan, await uow.flags.overrides()) if tenant else {}
        sms_ready = (
            "sms" in flags
            and flags["sms"].enabled
            and await uow.integrations.enabled_for(Capability.SMS) is not None
        )
        email_ready = "email" in flags and flags["email"].enabled
        route = reminder_route(customer, sms_ready=sms_ready, email_ready=email_ready)
        if route is None:
            await _record(uow, job, "reminder.skipped", {"reason": "no_usable_channel"})
            await uow.commit()
            return None
        if route[0] == "sms" and await opt_out_of(uow, route[1]) is not None:
            # The number texted STOP: no text goes to it, reminders included.
            await _record(uow, job, "reminder.skipped", {"reason": "recipient_opted_out"})
            await uow.commit()
            return None
    channel, to = route
    return Outgoing(job, channel, to, subject, text)


def reminder_route(
    customer: Customer | None, *, sms_ready: bool, email_ready: bool
) -> tuple[str, str] | None:
    """The customer's preferred channel: sms (for "sms" or "phone") when the tenant can send
    SMS, else email; email when that is what they prefer; nothing when they said none."""
    if customer is None or customer.preferred_channel is ContactChannel.NONE:
        return None
    wants_text = customer.preferred_channel in (ContactChannel.SMS, ContactChannel.PHONE)
    if wants_text and sms_ready and customer.phone:
        return "sms", customer.phone
    if email_ready and customer.email:
        return "email", customer.email
    return None


async def reminder_sent(tenant_id: UUID, outgoing: Outgoing, units: UnitOfWorkFactory, clock: Clock) -> None:
    """Record the sending; an overdue reminder schedules the next one, up to the tenant's limit."""
    now = clock.now()
    job = outgoing.job
    async with units(tenant_id) as uow:
        await _record(uow, job, "reminder.sent", {"channel": outgoing.channel, "to": outgoing.to})
        if job.kind is ReminderKind.INVOICE_OVERDUE:
            settings = await settings_of(uow, tenant_id)
            if settings.invoice_overdue and job.sequence < settings.invoice_overdue_max:
                following = replace(job, sequence=job.sequence + 1)
                due = now + timedelta(days=settings.invoice_overdue_repeat_days)
                await _enqueue(uow, tenant_id, following, due, now)
        await uow.commit()


async def _record(uow: UnitOfWork, job: ReminderJob, action: str, changes: dict[str, Any]) -> None:
    target = job.kind.value.split("_", 1)[0]  # appointment, quote, invoice
    details = {"reminder": job.kind.value} | changes
    if job.kind is ReminderKind.INVOICE_OVERDUE:
        details["sequence"] = job.sequence
    await uow.audit.record(action, target, str(job.subject_id), details)


async def _subject(
    uow: UnitOfWork, job: ReminderJob, settings: ReminderSettings, now: datetime, seller: str
) -> tuple[UUID, str, str] | None:
    """(customer id, subject line, text) when the reminder still applies, else None."""
    if job.kind in (ReminderKind.APPOINTMENT_CONFIRMATION, ReminderKind.APPOINTMENT_REMINDER):
        appointment = await uow.appointments.get(job.subject_id)
        if appointment is None or not appointment_still_applies(job, settings, appointment, now):
            return None
        resource = await uow.resources.get(appointment.resource_id)
        when = _local(appointment.starts_at, resource.time_zone if resource else "UTC")
        customer = await uow.customers.get(appointment.customer_id)
        name = customer.name if customer else "there"
        what = f"your {appointment.service} appointment with {seller}"
        if job.kind is ReminderKind.APPOINTMENT_CONFIRMATION:
            subject = f"Your appointment with {seller} is booked"
            text = f"Hello {name},\n\n{what} is booked for {when}."
        else:
            subject = f"Reminder: your appointment with {seller}"
            text = f"Hello {name},\n\na reminder of {what} on {when}."
        if appointment.location:
            text += f"\n\nWhere: {appointment.location}"
        return appointment.customer_id, subject, text
    if job.kind is ReminderKind.QUOTE_FOLLOW_UP:
        quote = await uow.quotes.get(job.subject_id)
        if quote is None or not quote_still_applies(job, settings, quote, now):
            return None
        total = format_money(quote.totals.total, quote.currency)
        text = (
            f"Hello {quote.bill_to.name},\n\n{seller} sent you quote {quote.number} for {total}. "
            f"It is valid until {quote.valid_until:%Y-%m-%d}: the link in our earlier email lets you "
            "accept or decline it."
        )
        return quote.bill_to.customer_id, f"Following up: quote {quote.number} from {seller}", text
    invoice = await uow.invoices.get(job.subject_id)
    if invoice is None or not invoice_still_applies(job, settings, invoice, now):
        return None
    due = format_money(invoice.amount_due, invoice.currency)
    text = (
        f"Hello {invoice.bill_to.name},\n\ninvoice {invoice.number} from {seller} was due on "
        f"{invoice.due_date:%Y-%m-%d}; {due} is still outstanding."
    )
    return invoice.bill_to.customer_id, f"Invoice {invoice.number} from {seller} is overdue", text


def _local(at: datetime, time_zone: str) -> str:
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%A %d %B %Y at %H:%M (%Z)")
