"""Reminders over HTTP and the worker: settings, appointment confirmations and reminders, quote
follow-ups and overdue invoice reminders sent through the tenant's fake email provider, and
nothing stale for moved, cancelled, decided or paid things.

The worker claims what is due by the database's clock, so each test acts with the application's
clock days in the past (everything it schedules is already due for the database) and runs the
worker with the application's clock at the moment the reminders are meant to go out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from switchboard.entrypoints.http.blueprints.reminders import ReminderSettingsOut
from tests.e2e.admin_helpers import audit_entries, clock_at
from tests.e2e.helpers import SignedUp, conforms, create_customer, error_fields, expect_problem, sign_up
from tests.e2e.team_helpers import join
from tests.e2e.test_integrations import connected, enable_features, fake_record
from tests.e2e.test_sales import issued_invoice, pay, sent_quote
from tests.e2e.test_scheduling import booked, iso, make_resource
from tests.e2e.test_webhook_endpoints import deliver_due


def days_ago(days: int) -> datetime:
    moment = datetime.now(UTC) - timedelta(days=days)
    return moment.replace(hour=9, minute=0, second=0, microsecond=0)


async def reminded_customer(client: Any, owner: SignedUp, **fields: Any) -> tuple[dict[str, Any], str]:
    email = f"c-{uuid.uuid4().hex[:10]}@example.com"
    customer = await create_customer(
        client, owner, name="Ada", email=email, preferred_channel="email", **fields
    )
    return customer, email


def emails_to(container: Any, address: str) -> list[Any]:
    return [message for _label, message in fake_record(container).emails if message.to == address]


def reminder_jobs(database: Any, tenant_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT payload, next_attempt_at, status FROM outbox"
            " WHERE tenant_id = %s AND kind = 'reminder.send' ORDER BY next_attempt_at",
            (tenant_id,),
        ).fetchall()


async def run_worker_at(container: Any, at: datetime) -> None:
    with clock_at(container, at):
        await deliver_due(container)


async def test_the_reminder_settings_have_documented_defaults_and_managers_change_them(client):
    owner = await sign_up(client)
    response = await client.get("/v1/reminders/settings", headers=owner.auth)
    assert response.status_code == 200
    body = conforms(ReminderSettingsOut, await response.get_json())
    assert body.appointment_confirmation
    assert body.appointment_reminder
    assert body.appointment_reminder_hours == 24
    assert (body.quote_follow_up, body.quote_follow_up_days) == (True, 3)
    assert (body.invoice_overdue_days, body.invoice_overdue_repeat_days, body.invoice_overdue_max) == (
        1,
        7,
        3,
    )
    changed = await client.patch(
        "/v1/reminders/settings",
        json={"appointment_reminder_hours": 48, "quote_follow_up": False},
        headers=owner.auth | {"If-Match": response.headers["ETag"]},
    )
    assert changed.status_code == 200, await changed.get_data()
    after = await changed.get_json()
    assert (after["appointment_reminder_hours"], after["quote_follow_up"]) == (48, False)
    entry = [e for e in await audit_entries(client, owner) if e["action"] == "reminder_settings.updated"]
    assert entry[0]["changes"]["appointment_reminder_hours"] == {"from": 24, "to": 48}


async def test_bad_reminder_settings_are_refused_and_change_nothing(client):
    owner = await sign_up(client)
    bad = {"appointment_reminder_hours": 0, "invoice_overdue_max": 100, "quote_follow_up": None}
    problem = await expect_problem(
        await client.patch("/v1/reminders/settings", json=bad, headers=owner.auth), 400, "validation_error"
    )
    assert error_fields(problem) == {"appointment_reminder_hours", "invoice_overdue_max", "quote_follow_up"}
    await expect_problem(
        await client.patch("/v1/reminders/settings", json={"colour": "red"}, headers=owner.auth), 400
    )
    body = await (await client.get("/v1/reminders/settings", headers=owner.auth)).get_json()
    assert body["appointment_reminder_hours"] == 24
    assert body["updated_at"] is None


async def test_a_member_reads_the_reminder_settings_but_cannot_change_them(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    assert (await client.get("/v1/reminders/settings", headers=member.auth)).status_code == 200
    refused = await client.patch(
        "/v1/reminders/settings", json={"quote_follow_up": False}, headers=member.auth
    )
    await expect_problem(refused, 403)


async def test_a_booking_is_confirmed_and_reminded_a_day_before_through_the_tenants_email(
    client, container, database
):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    start = booked_at + timedelta(days=2)
    with clock_at(container, booked_at):
        appointment = await booked(client, owner, resource, customer, start)
    jobs = reminder_jobs(database, owner.tenant_id)
    by_kind = {job["payload"]["reminder"]: job for job in jobs}
    assert by_kind["appointment_confirmation"]["next_attempt_at"] == booked_at
    assert by_kind["appointment_reminder"]["next_attempt_at"] == start - timedelta(hours=24)
    assert by_kind["appointment_reminder"]["payload"]["subject_id"] == appointment["id"]

    await run_worker_at(container, start - timedelta(hours=23))

    sent = emails_to(container, email)
    assert sorted(message.subject for message in sent) == [
        "Reminder: your appointment with Acme Plumbing",
        "Your appointment with Acme Plumbing is booked",
    ]
    assert all("Haircut" in message.text for message in sent)
    assert {job["status"] for job in reminder_jobs(database, owner.tenant_id)} == {"done"}
    actions = [e["action"] for e in await audit_entries(client, owner, target_id=appointment["id"])]
    assert actions.count("reminder.sent") == 2


async def test_a_moved_appointment_is_reminded_of_its_new_time_only(client, container, database):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    first, moved_to = booked_at + timedelta(days=2), booked_at + timedelta(days=3)
    with clock_at(container, booked_at):
        appointment = await booked(client, owner, resource, customer, first)
        response = await client.patch(
            f"/v1/appointments/{appointment['id']}",
            json={"start": iso(moved_to), "end": iso(moved_to + timedelta(minutes=30))},
            headers=owner.auth,
        )
        assert response.status_code == 200, await response.get_data()

    await run_worker_at(container, moved_to - timedelta(hours=2))

    sent = emails_to(container, email)
    assert len(sent) == 2  # the confirmation and the reminder of the new time
    assert all(moved_to.strftime("%d %B %Y at %H:%M") in message.text for message in sent)
    assert not any(first.strftime("%d %B %Y at %H:%M") in message.text for message in sent)
    skipped = [e for e in await audit_entries(client, owner) if e["action"] == "reminder.skipped"]
    assert len(skipped) == 2  # the old time's confirmation and reminder


async def test_a_cancelled_appointment_gets_no_reminder(client, container):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    start = booked_at + timedelta(days=2)
    with clock_at(container, booked_at):
        appointment = await booked(client, owner, resource, customer, start)
        response = await client.post(
            f"/v1/appointments/{appointment['id']}/status", json={"status": "cancelled"}, headers=owner.auth
        )
        assert response.status_code == 200, await response.get_data()

    await run_worker_at(container, start - timedelta(hours=23))

    assert emails_to(container, email) == []


async def test_turning_a_reminder_off_stops_ones_already_scheduled(client, container):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    start = booked_at + timedelta(days=2)
    with clock_at(container, booked_at):
        await booked(client, owner, resource, customer, start)
    off = {"appointment_confirmation": False, "appointment_reminder": False}
    assert (await client.patch("/v1/reminders/settings", json=off, headers=owner.auth)).status_code == 200

    await run_worker_at(container, start - timedelta(hours=23))

    assert emails_to(container, email) == []


async def test_a_customer_who_wants_no_contact_gets_no_reminder(client, container):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    quiet = await client.patch(
        f"/v1/customers/{customer['id']}", json={"preferred_channel": "none"}, headers=owner.auth
    )
    assert quiet.status_code == 200, await quiet.get_data()
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    with clock_at(container, booked_at):
        await booked(client, owner, resource, customer, booked_at + timedelta(days=2))

    await run_worker_at(container, booked_at + timedelta(days=1, hours=1))

    assert emails_to(container, email) == []


async def test_a_customer_preferring_sms_is_texted_when_the_tenant_has_sms_and_emailed_otherwise(
    client, container
):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    texted, _ = await reminded_customer(client, owner, phone="+14155550199")
    await client.patch(f"/v1/customers/{texted['id']}", json={"preferred_channel": "sms"}, headers=owner.auth)
    resource = await make_resource(client, owner)
    booked_at = days_ago(10)
    with clock_at(container, booked_at):
        await booked(client, owner, resource, texted, booked_at + timedelta(days=2))
    await run_worker_at(container, booked_at + timedelta(days=1, hours=1))
    # No sms flag on the free plan: email instead.
    assert len(emails_to(container, texted["email"])) == 2

    await enable_features(container, owner, "sms")
    await connected(client, owner, "fake_sms")
    with clock_at(container, booked_at):
        await booked(client, owner, resource, texted, booked_at + timedelta(days=3))
    await run_worker_at(container, booked_at + timedelta(days=2, hours=1))

    texts = sorted(m.body for _label, m in fake_record(container).sms if m.to == "+14155550199")
    assert len(texts) == 2
    assert texts[0].startswith("Reminder: your appointment with Acme Plumbing")
    assert texts[1].startswith("Your appointment with Acme Plumbing is booked")
    assert len(emails_to(container, texted["email"])) == 2


async def test_an_undecided_quote_is_followed_up_and_a_decided_one_is_not(client, container, database):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    undecided, undecided_email = await reminded_customer(client, owner)
    decided, decided_email = await reminded_customer(client, owner)
    sent_at = days_ago(10)
    with clock_at(container, sent_at):
        quote, _page = await sent_quote(client, owner, undecided["id"])
        _other, page = await sent_quote(client, owner, decided["id"])
    # Answered on the public page with the real clock (the page's service keeps the clock it is made with).
    assert (await client.post(f"{page}/accept")).status_code == 303
    follow_ups = [
        j for j in reminder_jobs(database, owner.tenant_id) if j["payload"]["reminder"] == "quote_follow_up"
    ]
    assert {job["next_attempt_at"] for job in follow_ups} == {sent_at + timedelta(days=3)}

    await run_worker_at(container, sent_at + timedelta(days=4))

    subjects = [message.subject for message in emails_to(container, undecided_email)]
    assert f"Following up: quote {quote['number']} from Acme Plumbing" in subjects
    assert not any(
        s.startswith("Following up") for s in (m.subject for m in emails_to(container, decided_email))
    )


def make_due(database: Any, tenant_id: str) -> None:
    """The database's clock cannot be moved: bring the tenant's pending reminders due instead."""
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "UPDATE outbox SET next_attempt_at = now() - interval '1 second'"
            " WHERE tenant_id = %s AND kind = 'reminder.send' AND status = 'pending'",
            (tenant_id,),
        )


async def test_an_overdue_invoice_is_reminded_again_until_paid(client, container, database):
    owner = await sign_up(client)
    await connected(client, owner, "fake_email")
    customer, email = await reminded_customer(client, owner)
    with clock_at(container, days_ago(32)):
        invoice = await issued_invoice(client, owner, customer["id"])
    due = datetime.fromisoformat(invoice["due_date"]).replace(tzinfo=UTC)
    jobs = reminder_jobs(database, owner.tenant_id)
    assert [job["next_attempt_at"] for job in jobs] == [due + timedelta(days=1)]

    now = datetime.now(UTC)
    await run_worker_at(container, now)
    overdue = [m for m in emails_to(container, email) if "is overdue" in m.subject]
    assert len(overdue) == 1
    assert invoice["number"] in overdue[0].subject
    pending = [j for j in reminder_jobs(database, owner.tenant_id) if j["status"] == "pending"]
    assert [(j["payload"]["sequence"], j["next_attempt_at"]) for j in pending] == [
        (2, now + timedelta(days=7))
    ]

    make_due(database, owner.tenant_id)
    await run_worker_at(container, now + timedelta(days=7))
    assert len([m for m in emails_to(container, email) if "is overdue" in m.subject]) == 2

    with clock_at(container, now + timedelta(days=8)):
        paid = await pay(client, owner, invoice["id"], invoice["amount_due"]["amount"])
        assert paid.status_code == 201, await paid.get_data()
    make_due(database, owner.tenant_id)
    await run_worker_at(container, now + timedelta(days=14))

    assert len([m for m in emails_to(container, email) if "is overdue" in m.subject]) == 2
    assert {job["status"] for job in reminder_jobs(database, owner.tenant_id)} == {"done"}
