"""Reminders: what a tenant sends its customers before appointments, after quotes and when
invoices are overdue, and the rules deciding, when one comes due, whether it still applies.

A reminder is an outbox job of kind ``reminder.send`` whose ``next_attempt_at`` is when it is
due. Its payload names the reminder kind and the subject; what the job checks when it runs
(``still_applies``) is what keeps moved, cancelled, decided or paid things from stale reminders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any
from uuid import UUID

from switchboard.core.errors import DomainError, InvalidInput, gather
from switchboard.core.sales.model import Invoice, InvoiceStatus, Quote, QuoteStatus, end_of
from switchboard.core.scheduling.model import Appointment, AppointmentStatus

REMINDER_KIND = "reminder.send"  # the outbox job kind


class ReminderKind(StrEnum):
    APPOINTMENT_CONFIRMATION = "appointment_confirmation"
    APPOINTMENT_REMINDER = "appointment_reminder"
    QUOTE_FOLLOW_UP = "quote_follow_up"
    INVOICE_OVERDUE = "invoice_overdue"


@dataclass(frozen=True)
class ReminderSettings:
    """A tenant's reminder switches and timings; version 0: never saved, the defaults apply."""

    tenant_id: UUID
    appointment_confirmation: bool = True
    appointment_reminder: bool = True
    appointment_reminder_hours: int = 24
    quote_follow_up: bool = True
    quote_follow_up_days: int = 3
    invoice_overdue: bool = True
    invoice_overdue_days: int = 1
    invoice_overdue_repeat_days: int = 7
    invoice_overdue_max: int = 3
    updated_at: datetime | None = None
    version: int = 0

    def enabled(self, kind: ReminderKind) -> bool:
        return bool(getattr(self, kind.value))


SETTINGS_FIELDS = (
    "appointment_confirmation",
    "appointment_reminder",
    "appointment_reminder_hours",
    "quote_follow_up",
    "quote_follow_up_days",
    "invoice_overdue",
    "invoice_overdue_days",
    "invoice_overdue_repeat_days",
    "invoice_overdue_max",
)
# name: (smallest, largest)
_LIMITS: dict[str, tuple[int, int]] = {
    "appointment_reminder_hours": (1, 24 * 14),
    "quote_follow_up_days": (1, 90),
    "invoice_overdue_days": (1, 90),
    "invoice_overdue_repeat_days": (1, 90),
    "invoice_overdue_max": (1, 12),
}


def clean_settings_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes checked, every problem reported at once."""
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise InvalidInput.single(unknown[0], "is not a reminder setting")
    checks: dict[str, Callable[[], Any]] = {
        name: partial(_whole, name, value, *_LIMITS[name])
        if name in _LIMITS
        else partial(_switch, name, value)
        for name, value in changes.items()
    }
    return gather(checks)


def _whole(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput.single(name, "must be a whole number")
    if not low <= value <= high:
        raise InvalidInput.single(name, f"must be between {low} and {high}")
    return value


def _switch(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput.single(name, "must be true or false")
    return value


# --- when a reminder is due ----------------------------------------------------------------------


def appointment_reminder_due(settings: ReminderSettings, starts_at: datetime) -> datetime:
    return starts_at - timedelta(hours=settings.appointment_reminder_hours)


def quote_follow_up_due(settings: ReminderSettings, sent_at: datetime) -> datetime:
    return sent_at + timedelta(days=settings.quote_follow_up_days)


def invoice_overdue_due(settings: ReminderSettings, invoice: Invoice, sequence: int) -> datetime | None:
    """The ``sequence``-th overdue reminder (1: the first), or None past the last one."""
    if invoice.due_date is None or sequence > settings.invoice_overdue_max:
        return None
    first = end_of(invoice.due_date) + timedelta(days=settings.invoice_overdue_days - 1)
    return first + timedelta(days=settings.invoice_overdue_repeat_days * (sequence - 1))


# --- whether a reminder that came due still applies ----------------------------------------------


class ReminderPayloadInvalid(DomainError):
    code = "reminder_payload_invalid"


@dataclass(frozen=True)
class ReminderJob:
    """The payload of a ``reminder.send`` job."""

    kind: ReminderKind
    subject_id: UUID
    starts_at: datetime | None = None  # appointments: the start it was scheduled for
    sent_at: datetime | None = None  # quotes: the sending it follows up
    sequence: int = 1  # invoices: which overdue reminder this is

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reminder": self.kind.value, "subject_id": str(self.subject_id)}
        if self.starts_at is not None:
            data["starts_at"] = self.starts_at.isoformat()
        if self.sent_at is not None:
            data["sent_at"] = self.sent_at.isoformat()
        if self.kind is ReminderKind.INVOICE_OVERDUE:
            data["sequence"] = self.sequence
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ReminderJob:
        try:
            return cls(
                kind=ReminderKind(data["reminder"]),
                subject_id=UUID(str(data["subject_id"])),
                starts_at=datetime.fromisoformat(data["starts_at"]) if data.get("starts_at") else None,
                sent_at=datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None,
                sequence=int(data.get("sequence", 1)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ReminderPayloadInvalid(f"malformed reminder payload: {error}") from error


_LIVE = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)


def appointment_still_applies(
    job: ReminderJob, settings: ReminderSettings, appointment: Appointment | None, now: datetime
) -> bool:
    """Setting on; the appointment still there, scheduled or confirmed, at the start the
    reminder was made for (a move makes a new reminder), and not begun yet."""
    return (
        settings.enabled(job.kind)
        and appointment is not None
        and appointment.status in _LIVE
        and appointment.starts_at == job.starts_at
        and now < appointment.starts_at
    )


def quote_still_applies(
    job: ReminderJob, settings: ReminderSettings, quote: Quote | None, now: datetime
) -> bool:
    """Setting on; the quote still sent and undecided, from the same sending (sending again
    makes a new follow-up), and still valid."""
    return (
        settings.enabled(job.kind)
        and quote is not None
        and quote.status is QuoteStatus.SENT
        and quote.sent_at == job.sent_at
        and now < end_of(quote.valid_until)
    )


def invoice_still_applies(
    job: ReminderJob, settings: ReminderSettings, invoice: Invoice | None, now: datetime
) -> bool:
    """Setting on; the invoice still unpaid (sent or partly paid) and past its due date, and
    this reminder within the number the tenant allows."""
    return (
        settings.enabled(job.kind)
        and invoice is not None
        and invoice.status in (InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID)
        and invoice.amount_due > 0
        and invoice.overdue(now)
        and job.sequence <= settings.invoice_overdue_max
    )
