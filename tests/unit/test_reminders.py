"""Reminder rules: settings checks, when reminders are due, and whether one that came due still
applies to its appointment, quote or invoice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.core.customers.model import ContactChannel, Customer
from switchboard.core.errors import InvalidInput
from switchboard.core.reminders.handlers import reminder_route
from switchboard.core.reminders.model import (
    ReminderJob,
    ReminderKind,
    ReminderPayloadInvalid,
    ReminderSettings,
    appointment_reminder_due,
    appointment_still_applies,
    clean_settings_changes,
    invoice_overdue_due,
    invoice_still_applies,
    quote_follow_up_due,
    quote_still_applies,
)
from switchboard.core.sales.model import BillTo, Invoice, InvoiceStatus, Quote, QuoteStatus
from switchboard.core.sales.totals import Totals
from switchboard.core.scheduling.model import Appointment, AppointmentStatus

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)
SETTINGS = ReminderSettings(uuid4())


def _appointment(
    status: AppointmentStatus = AppointmentStatus.SCHEDULED, start: datetime = START
) -> Appointment:
    return Appointment(
        uuid4(), uuid4(), uuid4(), uuid4(), "Haircut", start, start + timedelta(minutes=30),
        start, start + timedelta(minutes=30), None, None, status, NOW, NOW,
    )  # fmt: skip


def _quote(status: QuoteStatus = QuoteStatus.SENT, sent_at: datetime = NOW) -> Quote:
    return Quote(
        uuid4(), uuid4(), "Q-1", BillTo(uuid4(), "G", "g@example.com"), "USD", (), Totals(total=100), "",
        (NOW + timedelta(days=30)).date(), status, NOW, NOW, sent_at=sent_at,
    )  # fmt: skip


def _invoice(
    status: InvoiceStatus = InvoiceStatus.SENT, due: date = NOW.date() - timedelta(days=3)
) -> Invoice:
    return Invoice(
        uuid4(), uuid4(), "I-1", BillTo(uuid4(), "G", "g@example.com"), "USD", (), Totals(total=100), "", 30,
        status, NOW, NOW, due_date=due,
    )  # fmt: skip


def _customer(
    channel: ContactChannel, email: str | None = "a@example.com", phone: str | None = "+14155550123"
):
    return Customer(uuid4(), uuid4(), "Ada", email, phone, NOW, NOW, preferred_channel=channel)


# --- settings ----------------------------------------------------------------------------------


def test_the_defaults_turn_every_reminder_on_a_day_before_appointments():
    assert all(SETTINGS.enabled(kind) for kind in ReminderKind)
    assert SETTINGS.appointment_reminder_hours == 24
    assert SETTINGS.version == 0


def test_settings_changes_are_checked_and_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as caught:
        clean_settings_changes(
            {"appointment_reminder_hours": 0, "quote_follow_up": "yes", "invoice_overdue_max": 1.5}
        )

    assert {e.field for e in caught.value.errors} == {
        "appointment_reminder_hours",
        "quote_follow_up",
        "invoice_overdue_max",
    }


def test_a_boolean_is_not_a_number_of_hours_and_unknown_settings_are_refused():
    with pytest.raises(InvalidInput):
        clean_settings_changes({"appointment_reminder_hours": True})
    with pytest.raises(InvalidInput):
        clean_settings_changes({"colour": "red"})
    assert clean_settings_changes({"invoice_overdue_max": 5, "quote_follow_up": False}) == {
        "invoice_overdue_max": 5,
        "quote_follow_up": False,
    }


# --- when due ------------------------------------------------------------------------------------


def test_reminders_come_due_by_the_tenants_timing():
    assert appointment_reminder_due(SETTINGS, START) == START - timedelta(hours=24)
    assert quote_follow_up_due(replace(SETTINGS, quote_follow_up_days=5), NOW) == NOW + timedelta(days=5)


def test_overdue_reminders_start_the_days_after_the_due_date_and_stop_after_the_last():
    invoice = _invoice(due=date(2026, 3, 1))
    settings = replace(SETTINGS, invoice_overdue_days=2, invoice_overdue_repeat_days=7, invoice_overdue_max=2)

    assert invoice_overdue_due(settings, invoice, 1) == datetime(2026, 3, 3, tzinfo=UTC)
    assert invoice_overdue_due(settings, invoice, 2) == datetime(2026, 3, 10, tzinfo=UTC)
    assert invoice_overdue_due(settings, invoice, 3) is None


def test_a_job_payload_round_trips_and_a_malformed_one_is_refused():
    job = ReminderJob(ReminderKind.APPOINTMENT_REMINDER, uuid4(), starts_at=START)

    assert ReminderJob.from_payload(job.payload()) == job
    with pytest.raises(ReminderPayloadInvalid):
        ReminderJob.from_payload({"reminder": "birthday", "subject_id": str(uuid4())})


# --- still applies -------------------------------------------------------------------------------


def test_an_appointment_reminder_applies_while_the_appointment_is_live_at_the_same_start():
    job = ReminderJob(ReminderKind.APPOINTMENT_REMINDER, uuid4(), starts_at=START)

    assert appointment_still_applies(job, SETTINGS, _appointment(), NOW)
    assert appointment_still_applies(job, SETTINGS, _appointment(AppointmentStatus.CONFIRMED), NOW)


@pytest.mark.parametrize(
    "status", [AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW]
)
def test_a_final_appointment_gets_no_reminder(status):
    job = ReminderJob(ReminderKind.APPOINTMENT_REMINDER, uuid4(), starts_at=START)

    assert not appointment_still_applies(job, SETTINGS, _appointment(status), NOW)


def test_a_moved_deleted_or_begun_appointment_or_a_setting_turned_off_stops_the_reminder():
    job = ReminderJob(ReminderKind.APPOINTMENT_REMINDER, uuid4(), starts_at=START)

    assert not appointment_still_applies(job, SETTINGS, _appointment(start=START + timedelta(hours=1)), NOW)
    assert not appointment_still_applies(job, SETTINGS, None, NOW)
    assert not appointment_still_applies(job, SETTINGS, _appointment(), START)
    assert not appointment_still_applies(
        job, replace(SETTINGS, appointment_reminder=False), _appointment(), NOW
    )


def test_a_quote_is_followed_up_only_while_sent_undecided_from_the_same_sending():
    job = ReminderJob(ReminderKind.QUOTE_FOLLOW_UP, uuid4(), sent_at=NOW)
    later = NOW + timedelta(days=3)

    assert quote_still_applies(job, SETTINGS, _quote(), later)
    assert not quote_still_applies(job, SETTINGS, _quote(QuoteStatus.ACCEPTED), later)
    assert not quote_still_applies(job, SETTINGS, _quote(QuoteStatus.REJECTED), later)
    assert not quote_still_applies(job, SETTINGS, _quote(sent_at=NOW + timedelta(days=1)), later)
    assert not quote_still_applies(job, SETTINGS, _quote(), NOW + timedelta(days=40))  # expired
    assert not quote_still_applies(job, replace(SETTINGS, quote_follow_up=False), _quote(), later)


def test_an_invoice_is_reminded_only_while_unpaid_past_due_and_within_the_limit():
    job = ReminderJob(ReminderKind.INVOICE_OVERDUE, uuid4())

    assert invoice_still_applies(job, SETTINGS, _invoice(), NOW)
    assert invoice_still_applies(job, SETTINGS, _invoice(InvoiceStatus.PARTIALLY_PAID), NOW)
    assert not invoice_still_applies(job, SETTINGS, _invoice(InvoiceStatus.PAID), NOW)
    assert not invoice_still_applies(job, SETTINGS, _invoice(InvoiceStatus.VOID), NOW)
    assert not invoice_still_applies(job, SETTINGS, _invoice(due=NOW.date()), NOW)  # not yet overdue
    assert not invoice_still_applies(replace(job, sequence=4), SETTINGS, _invoice(), NOW)


# --- the channel ---------------------------------------------------------------------------------


def test_the_customers_preferred_channel_picks_how_the_reminder_goes():
    assert reminder_route(_customer(ContactChannel.EMAIL), sms_ready=True, email_ready=True) == (
        "email",
        "a@example.com",
    )
    assert reminder_route(_customer(ContactChannel.SMS), sms_ready=True, email_ready=True) == (
        "sms",
        "+14155550123",
    )
    assert reminder_route(_customer(ContactChannel.PHONE), sms_ready=True, email_ready=True) == (
        "sms",
        "+14155550123",
    )
    assert reminder_route(_customer(ContactChannel.SMS), sms_ready=False, email_ready=True) == (
        "email",
        "a@example.com",
    )
    assert reminder_route(_customer(ContactChannel.NONE), sms_ready=True, email_ready=True) is None
    assert (
        reminder_route(_customer(ContactChannel.SMS, email=None), sms_ready=False, email_ready=True) is None
    )
    assert reminder_route(_customer(ContactChannel.EMAIL), sms_ready=True, email_ready=False) is None
    assert reminder_route(None, sms_ready=True, email_ready=True) is None
