"""Quotes, invoices and manual payments over HTTP: from a drafted quote, through the customer's
public page, to a paid invoice and its PDF; the refusals along the way; exactly-once conversion
under concurrent requests."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pypdf
import pytest

from switchboard.core.sales.handlers import EMAIL_KIND
from switchboard.entrypoints.http.blueprints.audit import AuditEventOut
from switchboard.entrypoints.http.blueprints.sales import (
    InvoiceListOut,
    InvoiceOut,
    PaymentListOut,
    PaymentOut,
    QuoteListOut,
    QuoteOut,
    SentQuoteOut,
    SettingsOut,
)
from tests.e2e.helpers import SignedUp, conforms, create_customer, error_fields, expect_problem, sign_up
from tests.e2e.team_helpers import Person, join

BOILER = {
    "description": "Boiler service",
    "quantity": "1.5",
    "unit_price": {"amount": 8000, "currency": "USD"},
    "tax_rate": "20",
    "discount_percent": "10",
}
VALVE = {"description": "Valve", "quantity": "2", "unit_price": {"amount": 1250, "currency": "USD"}}
# 1.5 x 80.00 = 120.00, less 10% = 108.00, plus 20% tax = 129.60; 2 x 12.50 = 25.00 untaxed.
TOTAL = 12960 + 2500


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def new_quote(client: Any, who: SignedUp | Person, customer_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"customer_id": customer_id, "lines": [BOILER, VALVE]} | fields
    body = await ok(await client.post("/v1/quotes", json=payload, headers=who.auth), 201)
    conforms(QuoteOut, body)
    return body


async def sent_quote(client: Any, who: SignedUp, customer_id: str) -> tuple[dict[str, Any], str]:
    quote = await new_quote(client, who, customer_id)
    sent = await ok(await client.post(f"/v1/quotes/{quote['id']}/send", headers=who.auth))
    conforms(SentQuoteOut, sent)
    return sent, "/q/" + sent["link"].rsplit("/q/", 1)[1]


async def accepted_quote(client: Any, who: SignedUp, customer_id: str) -> dict[str, Any]:
    sent, page = await sent_quote(client, who, customer_id)
    assert (await client.post(f"{page}/accept")).status_code == 303
    return sent


async def new_invoice(client: Any, who: SignedUp | Person, customer_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"customer_id": customer_id, "lines": [BOILER, VALVE]} | fields
    body = await ok(await client.post("/v1/invoices", json=payload, headers=who.auth), 201)
    conforms(InvoiceOut, body)
    return body


async def issued_invoice(client: Any, who: SignedUp, customer_id: str) -> dict[str, Any]:
    draft = await new_invoice(client, who, customer_id)
    return await ok(await client.post(f"/v1/invoices/{draft['id']}/issue", headers=who.auth))


async def pay(client: Any, who: SignedUp | Person, invoice_id: str, amount: int, **fields: Any) -> Any:
    payload = {"amount": usd(amount), "method": "cash"} | fields
    return await client.post(f"/v1/invoices/{invoice_id}/payments", json=payload, headers=who.auth)


def quote_mails(owner_url: str, email: str) -> list[dict[str, Any]]:
    with psycopg.connect(owner_url) as connection:
        rows = connection.execute(
            "SELECT payload FROM outbox WHERE kind = %s AND payload->>'to' = %s ORDER BY created_at DESC",
            (EMAIL_KIND, email),
        ).fetchall()
    return [row[0] for row in rows]


def audit_actions(owner_url: str, target_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(owner_url) as connection:
        rows = connection.execute(
            "SELECT action, actor_type FROM audit_events WHERE target_id = %s ORDER BY occurred_at",
            (target_id,),
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


@pytest.fixture
async def shop(client: Any) -> tuple[SignedUp, str]:
    owner = await sign_up(client, tenant_name="Hopper Plumbing")
    customer = await create_customer(client, owner, name="Grace Hopper", email="grace-sales@example.com")
    return owner, customer["id"]


# --- the whole chain ---------------------------------------------------------------------------


async def test_a_quote_goes_from_draft_to_a_paid_invoice_through_the_customers_public_page(
    client, database, shop
):
    owner, customer_id = shop

    quote = await new_quote(client, owner, customer_id, notes="Parts ordered on acceptance.")
    assert quote["number"] == f"QUO-{datetime.now(UTC).year}-00001"
    assert quote["status"] == "draft"
    assert quote["total"] == usd(TOTAL)
    assert [line["total"] for line in quote["lines"]] == [usd(12960), usd(2500)]

    sent = await ok(await client.post(f"/v1/quotes/{quote['id']}/send", headers=owner.auth))
    conforms(SentQuoteOut, sent)
    assert sent["status"] == "sent"
    assert sent["link_active"] is True
    mail = quote_mails(database.owner_url, "grace-sales@example.com")[0]
    assert sent["link"] in mail["text"]
    assert "154.60 USD" in mail["text"]
    page = "/q/" + sent["link"].rsplit("/q/", 1)[1]

    shown = await client.get(page)
    html = (await shown.get_data()).decode()
    assert shown.status_code == 200
    assert shown.headers["Content-Type"].startswith("text/html")
    assert shown.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    assert "Hopper Plumbing" in html
    assert "154.60 USD" in html
    assert 'action="' + page + '/accept"' in html

    accepted = await client.post(f"{page}/accept")
    assert accepted.status_code == 303
    assert accepted.headers["Location"] == page
    again = await client.post(f"{page}/accept")  # idempotent: nothing changes, same answer
    assert again.status_code == 303
    assert "You accepted this quote" in (await (await client.get(page)).get_data()).decode()

    invoice = await ok(await client.post(f"/v1/quotes/{quote['id']}/convert", headers=owner.auth), 201)
    conforms(InvoiceOut, invoice)
    assert invoice["status"] == "draft"
    assert invoice["number"] is None
    assert invoice["quote_id"] == quote["id"]
    assert invoice["lines"] == quote["lines"]
    linked = await ok(await client.get(f"/v1/quotes/{quote['id']}", headers=owner.auth))
    assert linked["status"] == "accepted"
    assert linked["invoice_id"] == invoice["id"]

    issued = await ok(await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=owner.auth))
    conforms(InvoiceOut, issued)
    assert issued["status"] == "sent"
    assert issued["number"] == f"INV-{datetime.now(UTC).year}-00001"
    assert issued["amount_due"] == usd(TOTAL)
    assert issued["due_date"] == str(datetime.now(UTC).date() + timedelta(days=30))

    first = await pay(client, owner, invoice["id"], 5000, method="bank_transfer", reference="TRX 1")
    conforms(PaymentOut, await ok(first, 201))
    partly = await ok(await client.get(f"/v1/invoices/{invoice['id']}", headers=owner.auth))
    assert partly["status"] == "partially_paid"
    assert partly["amount_due"] == usd(TOTAL - 5000)

    rest = await pay(client, owner, invoice["id"], TOTAL - 5000, method="cheque", reference="No 0042")
    assert rest.status_code == 201
    paid = await ok(await client.get(f"/v1/invoices/{invoice['id']}", headers=owner.auth))
    assert paid["status"] == "paid"
    assert paid["amount_paid"] == usd(TOTAL)
    assert paid["amount_due"] == usd(0)
    assert paid["paid_at"] is not None

    listed = await ok(await client.get(f"/v1/invoices/{invoice['id']}/payments", headers=owner.auth))
    conforms(PaymentListOut, listed)
    assert [(p["method"], p["amount"]["amount"]) for p in listed["data"]] == [
        ("bank_transfer", 5000),
        ("cheque", TOTAL - 5000),
    ]

    assert audit_actions(database.owner_url, quote["id"]) == [
        ("quote.created", "user"),
        ("quote.sent", "user"),
        ("quote.accepted", "customer"),
        ("quote.converted", "user"),
    ]
    assert [action for action, _ in audit_actions(database.owner_url, invoice["id"])] == [
        "invoice.created",
        "invoice.issued",
        "invoice.status_changed",
        "invoice.status_changed",
    ]


async def test_an_invoice_pdf_carries_its_number_customer_lines_and_totals(client, shop):
    owner, customer_id = shop
    invoice = await issued_invoice(client, owner, customer_id)
    await pay(client, owner, invoice["id"], 1000)

    response = await client.get(f"/v1/invoices/{invoice['id']}.pdf", headers=owner.auth)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    body = await response.get_data()
    assert body.startswith(b"%PDF-")
    text = pdf_text(body)
    for expected in (
        f"Invoice {invoice['number']}",
        "Hopper Plumbing",
        "Grace Hopper",
        "Boiler service",
        "129.60 USD",
        "Total 154.60 USD",
        "Paid 10.00 USD",
        "Amount due 144.60 USD",
    ):
        assert expected in text, (expected, text)


async def test_a_quote_pdf_is_served_and_another_tenants_is_not(client, shop):
    owner, customer_id = shop
    quote = await new_quote(client, owner, customer_id)
    stranger = await sign_up(client)

    mine = await client.get(f"/v1/quotes/{quote['id']}.pdf", headers=owner.auth)
    theirs = await client.get(f"/v1/quotes/{quote['id']}.pdf", headers=stranger.auth)

    assert mine.status_code == 200
    assert f"Quote {quote['number']}" in pdf_text(await mine.get_data())
    await expect_problem(theirs, 404, "not_found")


# --- settings ----------------------------------------------------------------------------------


async def test_settings_start_at_the_defaults_and_new_documents_follow_changes(client, shop):
    owner, customer_id = shop

    defaults = await ok(await client.get("/v1/sales/settings", headers=owner.auth))
    conforms(SettingsOut, defaults)
    assert defaults["currency"] == "USD"
    assert defaults["invoice_number_pattern"] == "INV-{yyyy}-{seq:05}"

    changed = await client.patch(
        "/v1/sales/settings",
        json={"currency": "eur", "invoice_number_pattern": "F/{yy}/{seq:03}", "payment_terms_days": 14},
        headers=owner.auth | {"If-Match": '"0"'},
    )
    body = await ok(changed)
    assert body["currency"] == "EUR"
    assert changed.headers["ETag"] == '"1"'

    euro_line = VALVE | {"unit_price": {"amount": 1250, "currency": "EUR"}}
    invoice = await new_invoice(client, owner, customer_id, lines=[euro_line])
    issued = await ok(await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=owner.auth))
    assert issued["currency"] == "EUR"
    assert issued["number"] == f"F/{datetime.now(UTC).year % 100:02d}/001"
    assert issued["payment_terms_days"] == 14


async def test_bad_settings_are_refused_each_with_its_field_and_nothing_changes(client, shop):
    owner, _ = shop

    refused = await client.patch(
        "/v1/sales/settings",
        json={"currency": "XYZ", "invoice_number_pattern": "INV-{yyyy}", "quote_validity_days": 9999},
        headers=owner.auth,
    )
    stale = await client.patch(
        "/v1/sales/settings", json={"currency": "EUR"}, headers=owner.auth | {"If-Match": '"7"'}
    )
    unknown = await client.patch("/v1/sales/settings", json={"tenant_id": "x"}, headers=owner.auth)

    problem = await expect_problem(refused, 400, "validation_error")
    assert error_fields(problem) == {"currency", "invoice_number_pattern", "quote_validity_days"}
    await expect_problem(stale, 412, "precondition_failed")
    await expect_problem(unknown, 400)
    assert (await ok(await client.get("/v1/sales/settings", headers=owner.auth)))["currency"] == "USD"


async def test_only_managers_change_settings_void_and_refund_but_members_draft_send_and_take_payments(
    client, database, shop
):
    owner, customer_id = shop
    member = await join(client, database, owner, "member")
    admin = await join(client, database, owner, "admin")

    quote = await new_quote(client, member, customer_id)
    sent = await client.post(f"/v1/quotes/{quote['id']}/send", headers=member.auth)
    invoice = await issued_invoice(client, owner, customer_id)
    paid = await pay(client, member, invoice["id"], 1000)
    refund = {"amount": usd(500)}

    assert sent.status_code == 200
    assert paid.status_code == 201
    for response in (
        await client.patch("/v1/sales/settings", json={"currency": "EUR"}, headers=member.auth),
        await client.post(f"/v1/invoices/{invoice['id']}/refunds", json=refund, headers=member.auth),
        await client.post(f"/v1/invoices/{invoice['id']}/void", json={"reason": "x"}, headers=member.auth),
    ):
        await expect_problem(response, 403, "forbidden")
    by_admin = await client.post(f"/v1/invoices/{invoice['id']}/refunds", json=refund, headers=admin.auth)
    assert by_admin.status_code == 201


# --- quotes ------------------------------------------------------------------------------------


async def test_quote_lines_are_checked_field_by_field_and_in_the_documents_currency(client, shop):
    owner, customer_id = shop
    lines = [
        {"description": "   ", "quantity": "1e3", "unit_price": usd(100)},
        {"description": "Ok", "quantity": "1.00001", "unit_price": usd(100), "tax_rate": "101"},
        {"description": "Euro", "quantity": "1", "unit_price": {"amount": 100, "currency": "EUR"}},
    ]

    response = await client.post(
        "/v1/quotes", json={"customer_id": customer_id, "lines": lines}, headers=owner.auth
    )
    floats = await client.post(
        "/v1/quotes",
        json={"customer_id": customer_id, "lines": [VALVE | {"quantity": 1.5}]},
        headers=owner.auth,
    )
    stranger = await client.post(
        "/v1/quotes", json={"customer_id": str(uuid.uuid4()), "lines": []}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) >= {
        "lines.0.description",
        "lines.0.quantity",
        "lines.1.quantity",
        "lines.1.tax_rate",
        "lines.2.unit_price.currency",
    }
    await expect_problem(floats, 400, "validation_error")
    assert error_fields(await expect_problem(stranger, 400)) == {"customer_id"}
    listed = await ok(await client.get("/v1/quotes", headers=owner.auth))
    conforms(QuoteListOut, listed)
    assert listed["data"] == []


async def test_a_draft_quote_changes_with_if_match_and_a_sent_one_is_locked(client, shop):
    owner, customer_id = shop
    quote = await new_quote(client, owner, customer_id)

    changed = await client.patch(
        f"/v1/quotes/{quote['id']}",
        json={"lines": [VALVE], "notes": "Just the valve"},
        headers=owner.auth | {"If-Match": '"1"'},
    )
    stale = await client.patch(
        f"/v1/quotes/{quote['id']}", json={"notes": "late"}, headers=owner.auth | {"If-Match": '"1"'}
    )
    await client.post(f"/v1/quotes/{quote['id']}/send", headers=owner.auth)
    locked = await client.patch(f"/v1/quotes/{quote['id']}", json={"notes": "after"}, headers=owner.auth)
    undeletable = await client.delete(f"/v1/quotes/{quote['id']}", headers=owner.auth)

    body = await ok(changed)
    assert body["total"] == usd(2500)
    assert changed.headers["ETag"] == '"2"'
    await expect_problem(stale, 412, "precondition_failed")
    await expect_problem(locked, 409, "quote_locked")
    await expect_problem(undeletable, 409, "quote_locked")


async def test_a_quote_is_sent_only_with_lines_an_email_and_a_future_validity(client, shop):
    owner, customer_id = shop
    no_email = await create_customer(client, owner, name="No Mail", email=None, phone=None)
    empty = await new_quote(client, owner, customer_id, lines=[])
    unmailable = await new_quote(client, owner, no_email["id"])

    await expect_problem(
        await client.post(f"/v1/quotes/{empty['id']}/send", headers=owner.auth), 409, "quote_incomplete"
    )
    await expect_problem(
        await client.post(f"/v1/quotes/{unmailable['id']}/send", headers=owner.auth), 409, "no_email"
    )
    past = await client.post(
        "/v1/quotes",
        json={"customer_id": customer_id, "valid_until": str(datetime.now(UTC).date() - timedelta(days=1))},
        headers=owner.auth,
    )
    assert error_fields(await expect_problem(past, 400)) == {"valid_until"}


async def test_sending_again_replaces_the_link_and_a_revoked_link_opens_nothing(client, shop):
    owner, customer_id = shop
    sent, first_page = await sent_quote(client, owner, customer_id)

    resent = await ok(await client.post(f"/v1/quotes/{sent['id']}/send", headers=owner.auth))
    second_page = "/q/" + resent["link"].rsplit("/q/", 1)[1]
    replaced = await client.get(first_page)
    live = await client.get(second_page)
    revoked = await client.delete(f"/v1/quotes/{sent['id']}/link", headers=owner.auth)
    after = await client.get(second_page)
    post_after = await client.post(f"{second_page}/accept")

    assert replaced.status_code == 404
    assert live.status_code == 200
    assert revoked.status_code == 204
    assert after.status_code == 404
    assert post_after.status_code == 404
    assert (await ok(await client.get(f"/v1/quotes/{sent['id']}", headers=owner.auth)))["status"] == "sent"


async def test_a_quote_link_stops_at_the_end_of_its_validity_date(client, database, shop):
    owner, customer_id = shop
    sent, page = await sent_quote(client, owner, customer_id)
    with psycopg.connect(database.owner_url) as connection:
        connection.execute(
            "UPDATE quotes SET valid_until = %s WHERE id = %s",
            (datetime.now(UTC).date() - timedelta(days=1), sent["id"]),
        )

    shown = await client.get(page)
    answered = await client.post(f"{page}/accept")
    by_staff = await client.post(f"/v1/quotes/{sent['id']}/accept", headers=owner.auth)
    quote = await ok(await client.get(f"/v1/quotes/{sent['id']}", headers=owner.auth))

    assert shown.status_code == 410
    assert "expired" in (await shown.get_data()).decode()
    assert answered.status_code == 410
    await expect_problem(by_staff, 409, "quote_expired")
    assert quote["expired"] is True
    assert quote["status"] == "sent"
    assert quote["link_active"] is False


async def test_a_declined_quote_cannot_then_be_accepted_or_converted(client, shop):
    owner, customer_id = shop
    sent, page = await sent_quote(client, owner, customer_id)

    declined = await client.post(f"{page}/reject")
    accept_after = await client.post(f"{page}/accept")
    convert = await client.post(f"/v1/quotes/{sent['id']}/convert", headers=owner.auth)

    assert declined.status_code == 303
    assert accept_after.status_code == 409
    assert "already rejected" in (await accept_after.get_data()).decode()
    await expect_problem(convert, 409, "quote_not_accepted")


async def test_the_public_page_escapes_what_the_tenant_wrote(client, shop):
    owner, customer_id = shop
    quote = await new_quote(
        client, owner, customer_id, lines=[VALVE | {"description": "<script>alert(1)</script>"}]
    )
    sent = await ok(await client.post(f"/v1/quotes/{quote['id']}/send", headers=owner.auth))

    html = (await (await client.get("/q/" + sent["link"].rsplit("/q/", 1)[1])).get_data()).decode()

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


async def test_an_unknown_or_malformed_link_is_a_plain_404_page(client):
    for path in ("/q/sbq_nothing", "/q/" + "x" * 300):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("text/html")


async def test_an_accepted_quote_converted_by_10_concurrent_requests_makes_one_invoice(client, shop):
    owner, customer_id = shop
    quote = await accepted_quote(client, owner, customer_id)

    responses = await asyncio.gather(
        *(client.post(f"/v1/quotes/{quote['id']}/convert", headers=owner.auth) for _ in range(10))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9
    for response in responses:
        if response.status_code == 409:
            await expect_problem(response, 409, "already_converted")
    invoices = await ok(
        await client.get("/v1/invoices", query_string={"customer_id": customer_id}, headers=owner.auth)
    )
    conforms(InvoiceListOut, invoices)
    assert len(invoices["data"]) == 1


# --- invoices and payments ---------------------------------------------------------------------


async def test_an_issued_invoice_is_locked_and_voided_only_without_payments(client, shop):
    owner, customer_id = shop
    invoice = await issued_invoice(client, owner, customer_id)

    patched = await client.patch(f"/v1/invoices/{invoice['id']}", json={"notes": "x"}, headers=owner.auth)
    deleted = await client.delete(f"/v1/invoices/{invoice['id']}", headers=owner.auth)
    reissued = await client.post(f"/v1/invoices/{invoice['id']}/issue", headers=owner.auth)
    await pay(client, owner, invoice["id"], 100)
    held = await client.post(
        f"/v1/invoices/{invoice['id']}/void", json={"reason": "Wrong"}, headers=owner.auth
    )
    await client.post(f"/v1/invoices/{invoice['id']}/refunds", json={"amount": usd(100)}, headers=owner.auth)
    voided = await client.post(
        f"/v1/invoices/{invoice['id']}/void", json={"reason": "Wrong"}, headers=owner.auth
    )
    pay_void = await pay(client, owner, invoice["id"], 100)

    await expect_problem(patched, 409, "invoice_locked")
    await expect_problem(deleted, 409, "invoice_locked")
    await expect_problem(reissued, 409, "already_issued")
    await expect_problem(held, 409, "invoice_has_payments")
    body = await ok(voided)
    assert body["status"] == "void"
    assert body["number"] == invoice["number"]
    assert body["void_reason"] == "Wrong"
    await expect_problem(pay_void, 409, "invoice_void")


async def test_a_draft_invoice_is_edited_or_deleted_and_leaves_no_gap_in_the_numbers(client, shop):
    owner, customer_id = shop
    first = await issued_invoice(client, owner, customer_id)
    draft = await new_invoice(client, owner, customer_id)
    edited = await client.patch(f"/v1/invoices/{draft['id']}", json={"lines": [VALVE]}, headers=owner.auth)
    deleted = await client.delete(f"/v1/invoices/{draft['id']}", headers=owner.auth)
    second = await issued_invoice(client, owner, customer_id)

    assert (await ok(edited))["total"] == usd(2500)
    assert deleted.status_code == 204
    numbers = [int(invoice["number"].rsplit("-", 1)[1]) for invoice in (first, second)]
    assert numbers == [1, 2]


async def test_overpayment_is_refused_and_a_repeated_external_id_is_recorded_once(client, shop):
    owner, customer_id = shop
    invoice = await issued_invoice(client, owner, customer_id)
    draft = await new_invoice(client, owner, customer_id)

    over = await pay(client, owner, invoice["id"], TOTAL + 1)
    first = await pay(client, owner, invoice["id"], 700, method="bank_transfer", external_id="bank-777")
    repeat = await pay(client, owner, invoice["id"], 700, method="bank_transfer", external_id="bank-777")
    wrong_currency = await client.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"amount": {"amount": 100, "currency": "EUR"}, "method": "cash"},
        headers=owner.auth,
    )
    on_draft = await pay(client, owner, draft["id"], 100)

    await expect_problem(over, 409, "overpayment")
    assert first.status_code == 201
    assert repeat.status_code == 200
    assert (await repeat.get_json())["id"] == (await first.get_json())["id"]
    assert error_fields(await expect_problem(wrong_currency, 400)) == {"amount.currency"}
    await expect_problem(on_draft, 409, "invoice_not_issued")
    stored = await ok(await client.get(f"/v1/invoices/{invoice['id']}", headers=owner.auth))
    assert stored["amount_paid"] == usd(700)


async def test_refunds_never_exceed_what_was_paid_in_total_or_per_payment(client, shop):
    owner, customer_id = shop
    invoice = await issued_invoice(client, owner, customer_id)
    cash = await ok(await pay(client, owner, invoice["id"], 1000), 201)
    await pay(client, owner, invoice["id"], 500, method="cheque")
    url = f"/v1/invoices/{invoice['id']}/refunds"

    too_much = await client.post(url, json={"amount": usd(1501)}, headers=owner.auth)
    of_cash = await client.post(url, json={"amount": usd(800), "payment_id": cash["id"]}, headers=owner.auth)
    past_cash = await client.post(
        url, json={"amount": usd(300), "payment_id": cash["id"]}, headers=owner.auth
    )
    rest = await client.post(url, json={"amount": usd(700), "reason": "Cancelled"}, headers=owner.auth)

    await expect_problem(too_much, 409, "refund_exceeds_paid")
    refund = await ok(of_cash, 201)
    conforms(PaymentOut, refund)
    assert (refund["kind"], refund["method"], refund["refunded_payment_id"]) == ("refund", "cash", cash["id"])
    await expect_problem(past_cash, 409, "refund_exceeds_payment")
    assert rest.status_code == 201
    stored = await ok(await client.get(f"/v1/invoices/{invoice['id']}", headers=owner.auth))
    assert stored["status"] == "sent"
    assert (stored["amount_paid"], stored["amount_refunded"]) == (usd(0), usd(1500))


async def test_overdue_invoices_are_flagged_and_filtered(client, database, shop):
    owner, customer_id = shop
    late = await issued_invoice(client, owner, customer_id)
    await issued_invoice(client, owner, customer_id)
    with psycopg.connect(database.owner_url) as connection:
        connection.execute(
            "UPDATE invoices SET due_date = %s WHERE id = %s",
            (datetime.now(UTC).date() - timedelta(days=3), late["id"]),
        )

    overdue = await ok(await client.get("/v1/invoices", query_string={"overdue": "true"}, headers=owner.auth))
    false = await client.get("/v1/invoices", query_string={"overdue": "false"}, headers=owner.auth)

    assert [(i["id"], i["overdue"]) for i in overdue["data"]] == [(late["id"], True)]
    await expect_problem(false, 400)


async def test_another_tenants_quotes_and_invoices_are_404_everywhere(client, shop):
    owner, customer_id = shop
    quote = await new_quote(client, owner, customer_id)
    invoice = await issued_invoice(client, owner, customer_id)
    stranger = await sign_up(client)

    calls = [
        client.get(f"/v1/quotes/{quote['id']}", headers=stranger.auth),
        client.post(f"/v1/quotes/{quote['id']}/send", headers=stranger.auth),
        client.get(f"/v1/invoices/{invoice['id']}", headers=stranger.auth),
        client.get(f"/v1/invoices/{invoice['id']}.pdf", headers=stranger.auth),
        client.get(f"/v1/invoices/{invoice['id']}/payments", headers=stranger.auth),
    ]
    for response in [await call for call in calls]:
        await expect_problem(response, 404, "not_found")
    payment = await pay(client, stranger, invoice["id"], 100)
    await expect_problem(payment, 404, "not_found")


async def test_the_sales_routes_are_documented_in_openapi(client):
    spec = await ok(await client.get("/openapi.json"))

    paths = set(spec["paths"])

    assert {"/v1/quotes", "/v1/invoices/{invoice_id}/payments", "/v1/sales/settings"} <= paths
    assert not any(path.startswith("/q/") for path in paths)  # the customer's page is not the API


async def test_a_customers_answer_shows_in_the_audit_log_with_the_customer_as_actor(client, shop):
    owner, customer_id = shop
    sent, page = await sent_quote(client, owner, customer_id)
    await client.post(f"{page}/accept")

    log = await ok(
        await client.get("/v1/audit-logs", query_string={"target_id": sent["id"]}, headers=owner.auth)
    )

    answer = next(event for event in log["data"] if event["action"] == "quote.accepted")
    conforms(AuditEventOut, answer)
    assert answer["actor"] == {"type": "customer", "id": customer_id, "on_behalf_of_admin": None}
