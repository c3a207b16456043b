"""A customer's timeline over HTTP: what happened, newest first, cursor paginated, per tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard.entrypoints.http.blueprints.schemas import TimelineEntryOut, TimelineOut
from tests.e2e.admin_helpers import audit_entries
from tests.e2e.helpers import SignedUp, conforms, create_customer, error_fields, expect_problem, sign_up
from tests.e2e.team_helpers import bearer


def _url(customer_id: str) -> str:
    return f"/v1/customers/{customer_id}/timeline"


async def timeline_page(client, headers: dict[str, str], customer_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(_url(customer_id), query_string=params, headers=headers)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(TimelineOut, body)
    for item in body["data"]:
        conforms(TimelineEntryOut, item)
        assert item["occurred_at"].endswith("Z")
    return body


async def whole_timeline(client, who: SignedUp, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = await timeline_page(client, who.auth, customer_id, **params)
        entries.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return entries
        assert len(page["data"]) == limit
        cursor = page["next_cursor"]


async def _patch(client, who: SignedUp, customer_id: str, body: dict[str, Any]) -> None:
    response = await client.patch(f"/v1/customers/{customer_id}", json=body, headers=who.auth)
    assert response.status_code == 200, await response.get_data()


async def test_a_new_customer_has_one_entry_saying_it_was_created(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    [entry] = await whole_timeline(client, owner, customer["id"])

    assert entry["object"] == "timeline_entry"
    assert entry["kind"] == "customer"
    assert entry["summary"] == "Customer created"
    assert entry["ref"] == {"object": "customer", "id": customer["id"]}


async def test_updates_appear_newest_first_naming_the_fields_changed_but_not_their_values(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner, notes="The alarm code is 4321")
    await _patch(client, owner, customer["id"], {"tags": ["vip"]})
    await _patch(client, owner, customer["id"], {"notes": "The alarm code is 9876", "phone": None})

    entries = await whole_timeline(client, owner, customer["id"])

    assert [e["summary"] for e in entries] == [
        "Customer updated: notes, phone",
        "Customer updated: tags",
        "Customer created",
    ]
    assert [e["occurred_at"] for e in entries] == sorted((e["occurred_at"] for e in entries), reverse=True)
    assert all("4321" not in e["summary"] and "9876" not in e["summary"] for e in entries)
    audited = await audit_entries(client, owner, target_type="customer", target_id=customer["id"])
    assert [e["id"] for e in entries] == [e["id"] for e in audited]


async def test_the_timeline_walks_every_page_by_cursor_without_repeats_or_gaps(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    for n in range(6):
        await _patch(client, owner, customer["id"], {"name": f"Name {n}"})

    whole = await whole_timeline(client, owner, customer["id"])
    paged = await whole_timeline(client, owner, customer["id"], limit=3)
    one_by_one = await whole_timeline(client, owner, customer["id"], limit=1)

    assert len(whole) == 7
    assert paged == whole
    assert one_by_one == whole
    assert len({e["id"] for e in whole}) == 7


async def test_a_cursor_stays_stable_when_entries_are_added_meanwhile(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    for n in range(3):
        await _patch(client, owner, customer["id"], {"name": f"Name {n}"})
    first = await timeline_page(client, owner.auth, customer["id"], limit=2)

    await _patch(client, owner, customer["id"], {"name": "Newcomer"})
    second = await timeline_page(client, owner.auth, customer["id"], limit=2, cursor=first["next_cursor"])

    assert [e["summary"] for e in second["data"]] == ["Customer updated: name", "Customer created"]
    assert second["has_more"] is False
    assert {e["id"] for e in first["data"]}.isdisjoint(e["id"] for e in second["data"])


async def test_another_tenants_customer_has_no_timeline_here(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    theirs = await create_customer(client, stranger)

    response = await client.get(_url(theirs["id"]), headers=owner.auth)

    problem = await expect_problem(response, 404, "not_found")
    assert problem["instance"] == _url(theirs["id"])


async def test_an_unknown_or_deleted_customer_has_no_timeline(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    assert (await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth)).status_code == 204

    await expect_problem(await client.get(_url(customer["id"]), headers=owner.auth), 404, "not_found")
    await expect_problem(await client.get(_url(str(uuid.uuid4())), headers=owner.auth), 404, "not_found")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"kind": "invoice"}, "kind")],
)
async def test_bad_query_parameters_answer_400(client, params, field):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    response = await client.get(_url(customer["id"]), query_string=params, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)


async def test_a_cursor_this_api_did_not_issue_answers_400(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    response = await client.get(
        _url(customer["id"]), query_string={"cursor": "nonsense!"}, headers=owner.auth
    )

    await expect_problem(response, 400, "invalid_cursor")


async def test_an_api_key_reads_the_timeline_with_customer_read_scope_only(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    keys = {}
    for name, scopes in (("reader", {"customers": "read"}), ("other", {"tenant": "read"})):
        response = await client.post(
            "/v1/api-keys", json={"name": name, "scopes": scopes}, headers=owner.auth
        )
        assert response.status_code == 201, await response.get_data()
        keys[name] = (await response.get_json())["secret"]

    page = await timeline_page(client, bearer(keys["reader"]), customer["id"])
    refused = await client.get(_url(customer["id"]), headers=bearer(keys["other"]))

    assert [e["summary"] for e in page["data"]] == ["Customer created"]
    await expect_problem(refused, 403, "forbidden")


# --- every source, through the routes that make their rows ------------------------------------------

ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


async def _post(client, who: SignedUp, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post(url, json=body or {}, headers=who.auth)
    assert response.status_code in (200, 201), (url, await response.get_data())
    created: dict[str, Any] = await response.get_json()
    return created


async def _key(client, owner: SignedUp, scopes: dict[str, str]) -> dict[str, str]:
    created = await _post(client, owner, "/v1/api-keys", {"name": "Timeline reader", "scopes": scopes})
    return bearer(created["secret"])


async def test_appointments_quotes_invoices_and_payments_join_the_timeline_for_who_may_read_them(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    resource = await _post(
        client,
        owner,
        "/v1/resources",
        {"name": "Van 1", "kind": "vehicle", "time_zone": "UTC", "working_hours": ALL_WEEK},
    )
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    appointment = await _post(
        client,
        owner,
        "/v1/appointments",
        {
            "resource_id": resource["id"],
            "customer_id": customer["id"],
            "service": "Boiler service",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    line = {
        "description": "Boiler service",
        "quantity": "1",
        "unit_price": {"amount": 12000, "currency": "USD"},
    }
    quote = await _post(client, owner, "/v1/quotes", {"customer_id": customer["id"], "lines": [line]})
    invoice = await _post(client, owner, "/v1/invoices", {"customer_id": customer["id"], "lines": [line]})
    await _post(client, owner, f"/v1/invoices/{invoice['id']}/issue")
    payment = await _post(
        client,
        owner,
        f"/v1/invoices/{invoice['id']}/payments",
        {"amount": {"amount": 5000, "currency": "USD"}, "method": "cash"},
    )
    elsewhere = await create_customer(client, owner, name="Someone Else")
    await _post(client, owner, "/v1/quotes", {"customer_id": elsewhere["id"], "lines": [line]})

    entries = await whole_timeline(client, owner, customer["id"], limit=2)

    refs = {(e["kind"], e["ref"]["object"], e["ref"]["id"]) for e in entries}
    assert refs == {
        ("customer", "customer", customer["id"]),
        ("appointment", "appointment", appointment["id"]),
        ("quote", "quote", quote["id"]),
        ("invoice", "invoice", invoice["id"]),
        ("payment", "payment", payment["id"]),
    }
    assert entries[0]["kind"] == "appointment"  # placed at its start, three days ahead
    assert [e["occurred_at"] for e in entries] == sorted((e["occurred_at"] for e in entries), reverse=True)

    customers_only = await timeline_page(
        client, await _key(client, owner, {"customers": "read"}), customer["id"]
    )
    with_sales = await timeline_page(
        client, await _key(client, owner, {"customers": "read", "sales": "read"}), customer["id"]
    )
    assert {e["kind"] for e in customers_only["data"]} == {"customer"}
    assert {e["kind"] for e in with_sales["data"]} == {"customer", "quote", "invoice", "payment"}
