"""Customers over HTTP: create, read, list with cursors, search, update, delete, idempotency."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import datetime
from typing import Any

import orjson
import psycopg
import pytest
from psycopg.rows import dict_row

from switchboard.entrypoints.http.blueprints.schemas import CustomerOut
from tests.e2e.admin_helpers import audit_entries, only
from tests.e2e.helpers import (
    SignedUp,
    conforms,
    create_customer,
    error_fields,
    expect_problem,
    get_customer,
    list_all,
    list_page,
    sign_up,
)


async def _count(client, who: SignedUp) -> int:
    return len(await list_all(client, who))


def _when(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def _cursor_of(raw: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")


# --- create and read ---------------------------------------------------------------------------


async def test_creating_a_customer_answers_201_with_location_etag_and_the_normalised_customer(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/customers",
        json={"name": "  Grace   Hopper ", "email": " Grace@Example.COM ", "phone": "+1 (415) 555-0100"},
        headers=owner.auth,
    )

    assert response.status_code == 201
    body = await response.get_json()
    conforms(CustomerOut, body)
    assert response.headers["Location"] == f"/v1/customers/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Content-Type"] == "application/json"
    assert body["name"] == "Grace Hopper"
    assert body["email"] == "grace@example.com"
    assert body["phone"] == "+14155550100"
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert "tenant_id" not in body


async def test_creating_a_customer_with_only_a_name_leaves_email_and_phone_null(client):
    owner = await sign_up(client)

    body = await create_customer(client, owner, name="Just A Name", email=None, phone=None)

    assert body["email"] is None
    assert body["phone"] is None


async def test_a_created_customer_can_be_fetched_at_its_location_with_the_same_etag(client):
    owner = await sign_up(client)
    created = await client.post("/v1/customers", json={"name": "Ada"}, headers=owner.auth)

    response = await client.get(created.headers["Location"], headers=owner.auth)

    assert response.status_code == 200
    body = await response.get_json()
    conforms(CustomerOut, body)
    assert body == await created.get_json()
    assert response.headers["ETag"] == created.headers["ETag"]


async def test_fetching_a_customer_that_does_not_exist_answers_404_not_found(client):
    owner = await sign_up(client)

    response = await get_customer(client, owner, str(uuid.uuid4()))

    problem = await expect_problem(response, 404, "not_found")
    assert problem["instance"].startswith("/v1/customers/")


@pytest.mark.parametrize("phone", ["12345", "call me maybe", "+0123456789", "+1" + "2" * 20, "555-0100"])
async def test_an_invalid_phone_answers_400_on_the_phone_field_and_creates_nothing(client, phone):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/customers", json={"name": "Bad Phone", "phone": phone}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"phone"}
    assert await _count(client, owner) == 0


async def test_every_invalid_field_is_reported_at_once(client):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/customers", json={"name": "   ", "email": "nope", "phone": "nope"}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"name", "email", "phone"}
    assert await _count(client, owner) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant_id", "00000000-0000-0000-0000-000000000001"),
        ("id", "00000000-0000-0000-0000-000000000002"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("updated_at", "2020-01-01T00:00:00Z"),
        ("role", "owner"),
        ("version", 7),
        ("object", "customer"),
    ],
)
async def test_a_field_the_client_may_not_set_answers_400_and_creates_nothing(client, field, value):
    owner = await sign_up(client)
    await create_customer(client, owner)

    response = await client.post(
        "/v1/customers", json={"name": "Mass Assign", field: value}, headers=owner.auth
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    assert await _count(client, owner) == 1


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"name": 42}, {"name": "x" * 201}])
async def test_a_missing_or_malformed_name_answers_400_and_creates_nothing(client, body):
    owner = await sign_up(client)

    response = await client.post("/v1/customers", json=body, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert "name" in error_fields(problem)
    assert await _count(client, owner) == 0


# --- listing -----------------------------------------------------------------------------------


async def test_listing_walks_every_page_newest_first_without_duplicates(client):
    owner = await sign_up(client, tenant_name="Pagination Co")
    created = [(await create_customer(client, owner, name=f"Customer {n:02d}"))["id"] for n in range(25)]

    pages = []
    cursor = None
    while True:
        page = await list_page(client, owner, limit=10, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
        assert isinstance(cursor, str)
        assert cursor

    assert [len(page["data"]) for page in pages] == [10, 10, 5]
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert pages[-1]["next_cursor"] is None
    listed = [item["id"] for page in pages for item in page["data"]]
    assert len(set(listed)) == 25
    assert listed == list(reversed(created))


async def test_the_default_page_holds_20_customers(client):
    owner = await sign_up(client)
    for n in range(21):
        await create_customer(client, owner, name=f"C{n}")

    page = await list_page(client, owner)

    assert len(page["data"]) == 20
    assert page["has_more"] is True


async def test_a_cursor_stays_stable_when_customers_are_created_meanwhile(client):
    owner = await sign_up(client)
    created = [(await create_customer(client, owner, name=f"Old {n}"))["id"] for n in range(6)]
    first = await list_page(client, owner, limit=3)

    await create_customer(client, owner, name="Newcomer")
    second = await list_page(client, owner, limit=3, cursor=first["next_cursor"])

    assert [c["id"] for c in first["data"] + second["data"]] == list(reversed(created))
    assert second["has_more"] is False


async def test_an_empty_tenant_lists_nothing(client):
    owner = await sign_up(client)

    page = await list_page(client, owner)

    assert page == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


@pytest.mark.parametrize("limit", [1, 100])
async def test_limits_at_the_bounds_are_accepted(client, limit):
    owner = await sign_up(client)
    await create_customer(client, owner)
    await create_customer(client, owner)

    page = await list_page(client, owner, limit=limit)

    assert len(page["data"]) == min(limit, 2)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
async def test_a_limit_outside_1_to_100_answers_400(client, limit):
    owner = await sign_up(client)

    response = await client.get(f"/v1/customers?limit={limit}", headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert "limit" in error_fields(problem)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%%",
        _cursor_of(["2024-01-01T00:00:00+00:00"]),
        _cursor_of(["2024-01-01T00:00:00+00:00", "not-a-uuid"]),
        _cursor_of(["yesterday", str(uuid.UUID(int=1))]),
        _cursor_of(["2024-01-01T00:00:00", str(uuid.UUID(int=1))]),  # no time zone
        _cursor_of({"created_at": "2024-01-01T00:00:00+00:00", "id": str(uuid.UUID(int=1))}),
        _cursor_of([1, 2]),
        _cursor_of(None),
        _cursor_of(42),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ],
)
async def test_a_cursor_this_api_did_not_issue_answers_400_invalid_cursor(client, cursor):
    owner = await sign_up(client)

    response = await client.get("/v1/customers", query_string={"cursor": cursor}, headers=owner.auth)

    await expect_problem(response, 400, "invalid_cursor")


async def test_an_overlong_cursor_answers_400(client):
    owner = await sign_up(client)

    response = await client.get("/v1/customers", query_string={"cursor": "A" * 201}, headers=owner.auth)

    await expect_problem(response, 400)


async def test_an_unknown_query_parameter_answers_400(client):
    owner = await sign_up(client)

    response = await client.get("/v1/customers?tenant_id=" + str(uuid.uuid4()), headers=owner.auth)

    await expect_problem(response, 400, "validation_error")


# --- search ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def directory(client) -> tuple[SignedUp, dict[str, str]]:
    """A tenant with three customers that share no searchable text."""
    owner = await sign_up(client, tenant_name="Search Co")
    ids = {
        "ada": (
            await create_customer(client, owner, name="Ada Lovelace", email="ada@engine.test", phone=None)
        )["id"],
        "bob": (
            await create_customer(
                client, owner, name="Bob Marley", email="bob@music.test", phone="+442079460000"
            )
        )["id"],
        "cy": (await create_customer(client, owner, name="Cy Twombly", email=None, phone="+33142685300"))[
            "id"
        ],
    }
    return owner, ids


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lovelace", {"ada"}),  # name, any case
        ("MARL", {"bob"}),
        ("engine.test", {"ada"}),  # email
        ("@music", {"bob"}),
        ("2079460", {"bob"}),  # phone
        ("+331", {"cy"}),
        ("y", {"bob", "cy"}),  # Marley, Twombly
        ("nobody-has-this", set()),
        ("%", set()),  # LIKE wildcards are searched for literally
        ("_", set()),
        ("\\", set()),
        ("   ", {"ada", "bob", "cy"}),  # blank means no filter
    ],
)
async def test_q_searches_name_email_and_phone(client, directory, q, expected):
    owner, ids = directory

    found = await list_all(client, owner, q=q)

    names = {name for name, id_ in ids.items() if id_ in {c["id"] for c in found}}
    assert names == expected
    assert len(found) == len(expected)


async def test_search_results_paginate_too(client, directory):
    owner, ids = directory

    found = await list_all(client, owner, limit=1, q="y")

    assert [c["id"] for c in found] == [ids["cy"], ids["bob"]]


async def test_an_overlong_search_answers_400(client, directory):
    owner, _ = directory

    response = await client.get("/v1/customers", query_string={"q": "x" * 101}, headers=owner.auth)

    await expect_problem(response, 400, "validation_error")


# --- update ------------------------------------------------------------------------------------


async def _patch(client, who: SignedUp, customer_id: str, body: dict[str, Any], if_match: str | None = None):
    headers = who.auth | ({"If-Match": if_match} if if_match is not None else {})
    return await client.patch(f"/v1/customers/{customer_id}", json=body, headers=headers)


async def _current(client, who: SignedUp, customer_id: str) -> tuple[dict[str, Any], str]:
    response = await get_customer(client, who, customer_id)
    assert response.status_code == 200
    body = await response.get_json()
    conforms(CustomerOut, body)
    return body, response.headers["ETag"]


async def test_patch_changes_only_the_fields_sent(client):
    owner = await sign_up(client)
    original = await create_customer(
        client, owner, name="Grace", email="grace@example.com", phone="+14155550100"
    )

    response = await _patch(client, owner, original["id"], {"phone": "+44 20 7946 0000"})

    assert response.status_code == 200
    body = await response.get_json()
    conforms(CustomerOut, body)
    assert body["phone"] == "+442079460000"
    assert {k: v for k, v in body.items() if k not in {"phone", "updated_at"}} == {
        k: v for k, v in original.items() if k not in {"phone", "updated_at"}
    }
    assert _when(body["updated_at"]) > _when(original["updated_at"])
    assert response.headers["ETag"] == '"2"'
    assert await _current(client, owner, original["id"]) == (body, '"2"')


async def test_patch_with_email_null_clears_the_email_and_keeps_the_rest(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)

    response = await _patch(client, owner, original["id"], {"email": None})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["email"] is None
    assert body["name"] == original["name"]
    assert body["phone"] == original["phone"]


async def test_patch_with_phone_null_clears_the_phone(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)

    body = await (await _patch(client, owner, original["id"], {"phone": None})).get_json()

    assert body["phone"] is None
    assert body["email"] == original["email"]


@pytest.mark.parametrize("name", [None, "", "   "])
async def test_patch_with_a_null_or_blank_name_answers_400_and_changes_nothing(client, name):
    owner = await sign_up(client)
    original = await create_customer(client, owner)
    _, etag = await _current(client, owner, original["id"])

    response = await _patch(client, owner, original["id"], {"name": name})

    problem = await expect_problem(response, 400, "validation_error")
    assert "name" in error_fields(problem)
    assert await _current(client, owner, original["id"]) == (original, etag)


@pytest.mark.parametrize("field", ["tenant_id", "id", "created_at", "role"])
async def test_patch_with_a_field_the_client_may_not_set_answers_400_and_changes_nothing(client, field):
    owner = await sign_up(client)
    original = await create_customer(client, owner)

    response = await _patch(client, owner, original["id"], {"name": "New", field: str(uuid.uuid4())})

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    assert (await _current(client, owner, original["id"]))[0] == original


async def test_patch_with_the_current_etag_succeeds(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)
    _, etag = await _current(client, owner, original["id"])

    response = await _patch(client, owner, original["id"], {"name": "Fresh"}, if_match=etag)

    assert response.status_code == 200
    assert (await response.get_json())["name"] == "Fresh"


async def test_patch_with_a_stale_etag_answers_412_and_changes_nothing(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)
    _, stale = await _current(client, owner, original["id"])
    assert (
        await _patch(client, owner, original["id"], {"name": "First Writer"}, if_match=stale)
    ).status_code == 200
    before = await _current(client, owner, original["id"])

    response = await _patch(client, owner, original["id"], {"name": "Lost Update"}, if_match=stale)

    await expect_problem(response, 412, "precondition_failed")
    assert await _current(client, owner, original["id"]) == before


async def test_patch_of_a_customer_that_does_not_exist_answers_404(client):
    owner = await sign_up(client)

    await expect_problem(await _patch(client, owner, str(uuid.uuid4()), {"name": "Ghost"}), 404, "not_found")


# --- delete ------------------------------------------------------------------------------------


async def test_delete_with_the_current_etag_answers_204_and_the_customer_is_then_gone(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    _, etag = await _current(client, owner, customer["id"])

    response = await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth | {"If-Match": etag})

    assert response.status_code == 204
    assert await response.get_data() == b""
    await expect_problem(await get_customer(client, owner, customer["id"]), 404, "not_found")
    await expect_problem(await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth), 404)
    assert await list_all(client, owner) == []


async def test_delete_with_a_stale_etag_answers_412_and_keeps_the_customer(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    _, stale = await _current(client, owner, customer["id"])
    await _patch(client, owner, customer["id"], {"name": "Changed"})

    response = await client.delete(
        f"/v1/customers/{customer['id']}", headers=owner.auth | {"If-Match": stale}
    )

    await expect_problem(response, 412, "precondition_failed")
    assert (await _current(client, owner, customer["id"]))[0]["name"] == "Changed"


async def test_delete_without_if_match_works(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)

    response = await client.delete(f"/v1/customers/{customer['id']}", headers=owner.auth)

    assert response.status_code == 204
    await expect_problem(await get_customer(client, owner, customer["id"]), 404)


# --- idempotency -------------------------------------------------------------------------------


async def _post_with_key(client, who: SignedUp, key: str, body: dict[str, Any]):
    return await client.post("/v1/customers", json=body, headers=who.auth | {"Idempotency-Key": key})


async def test_a_retry_with_the_same_key_and_body_replays_the_first_answer_and_creates_one_customer(client):
    owner = await sign_up(client)
    key = f"retry-{uuid.uuid4()}"
    body = {"name": "Once Only", "email": "once@example.com"}

    first = await _post_with_key(client, owner, key, body)
    second = await _post_with_key(client, owner, key, body)

    assert first.status_code == second.status_code == 201
    assert await second.get_data() == await first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Type"] == "application/json"
    conforms(CustomerOut, await second.get_json())
    assert [c["id"] for c in await list_all(client, owner)] == [(await first.get_json())["id"]]


async def test_the_same_key_with_a_different_body_answers_422_and_creates_nothing_more(client):
    owner = await sign_up(client)
    key = f"reuse-{uuid.uuid4()}"
    assert (await _post_with_key(client, owner, key, {"name": "First"})).status_code == 201

    response = await _post_with_key(client, owner, key, {"name": "Second"})

    await expect_problem(response, 422, "idempotency_key_reused")
    assert [c["name"] for c in await list_all(client, owner)] == ["First"]


async def test_idempotency_keys_belong_to_one_tenant(client):
    alpha = await sign_up(client, tenant_name="Alpha")
    beta = await sign_up(client, tenant_name="Beta")
    key = f"shared-{uuid.uuid4()}"

    from_alpha = await _post_with_key(client, alpha, key, {"name": "Same Body"})
    from_beta = await _post_with_key(client, beta, key, {"name": "Same Body"})
    other_body_in_beta = await _post_with_key(client, beta, key, {"name": "Different"})

    assert from_alpha.status_code == from_beta.status_code == 201
    assert "Idempotent-Replayed" not in from_beta.headers
    alpha_id = (await from_alpha.get_json())["id"]
    beta_id = (await from_beta.get_json())["id"]
    assert alpha_id != beta_id
    await expect_problem(other_body_in_beta, 422, "idempotency_key_reused")
    assert [c["id"] for c in await list_all(client, alpha)] == [alpha_id]
    assert [c["id"] for c in await list_all(client, beta)] == [beta_id]


async def test_a_key_whose_request_failed_stores_nothing_and_can_be_used_again(client):
    owner = await sign_up(client)
    key = f"failed-{uuid.uuid4()}"

    failed = await _post_with_key(client, owner, key, {"name": "Bad Phone", "phone": "nope"})
    retried = await _post_with_key(client, owner, key, {"name": "Good Phone", "phone": "+14155550100"})

    await expect_problem(failed, 400, "validation_error")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert [c["name"] for c in await list_all(client, owner)] == ["Good Phone"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there", "ünïcode"])
async def test_an_idempotency_key_that_is_not_1_to_255_visible_ascii_characters_answers_400(client, key):
    owner = await sign_up(client)

    response = await _post_with_key(client, owner, key, {"name": "Whatever"})

    await expect_problem(response, 400, "invalid_idempotency_key")
    assert await _count(client, owner) == 0


# --- hostile input and races ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "email", "phone"])
async def test_a_nul_character_in_a_text_field_answers_400_not_500_and_creates_nothing(client, field):
    owner = await sign_up(client)
    body = {"name": "Nul Test", "email": "nul@example.com", "phone": "+14155550100"}
    body[field] = body[field][:3] + "\u0000" + body[field][3:]

    response = await client.post("/v1/customers", json=body, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert field in error_fields(problem)
    assert await _count(client, owner) == 0


async def test_a_nul_character_in_a_patch_answers_400_not_500_and_changes_nothing(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)

    response = await _patch(client, owner, original["id"], {"name": "Evil\u0000Name"})

    await expect_problem(response, 400, "validation_error")
    assert (await _current(client, owner, original["id"]))[0] == original


async def test_a_nul_character_in_the_search_answers_400_not_500(client):
    owner = await sign_up(client)

    response = await client.get("/v1/customers", query_string={"q": "a\u0000b"}, headers=owner.auth)

    await expect_problem(response, 400, "validation_error")


async def test_racing_patches_with_the_same_etag_let_exactly_one_win(client):
    owner = await sign_up(client)
    customer = await create_customer(client, owner)
    _, etag = await _current(client, owner, customer["id"])

    responses = await asyncio.gather(
        *[_patch(client, owner, customer["id"], {"name": f"Writer {n}"}, if_match=etag) for n in range(4)]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200)
    for loser in (r for r in responses if r.status_code == 412):
        await expect_problem(loser, 412, "precondition_failed")
    assert await _current(client, owner, customer["id"]) == (await winner.get_json(), '"2"')


async def test_racing_requests_with_one_idempotency_key_create_exactly_one_customer(client):
    owner = await sign_up(client)
    key = f"race-{uuid.uuid4()}"

    responses = await asyncio.gather(
        *[_post_with_key(client, owner, key, {"name": "Raced"}) for _ in range(4)]
    )

    fresh = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(fresh) == 1
    for response in responses:
        if response.status_code == 409:
            await expect_problem(response, 409, "idempotency_in_progress")
        else:
            assert response.status_code == 201
            assert await response.get_data() == await fresh[0].get_data()
    assert [c["id"] for c in await list_all(client, owner)] == [(await fresh[0].get_json())["id"]]


# --- details: addresses, tags, notes, preferred channel -------------------------------------------

HOME = {
    "label": "Home",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
}
SITE = {"line1": "1 Infinite Loop", "line2": "Suite 2", "city": "Cupertino", "region": "CA", "country": "US"}


def _stored(address: dict[str, Any]) -> dict[str, Any]:
    """An address as the API answers it: every field present, the country upper case."""
    keys = ("label", "line1", "line2", "city", "region", "postal_code", "country")
    return {key: address.get(key) for key in keys} | {"country": address["country"].upper()}


async def test_a_customer_is_created_with_addresses_tags_notes_and_a_preferred_channel(client):
    owner = await sign_up(client)

    body = await create_customer(
        client,
        owner,
        addresses=[HOME, SITE],
        tags=["VIP", "Late  Payer", "vip"],
        notes="  Gate code 1234\r\nRing twice  ",
        preferred_channel="sms",
    )

    assert body["addresses"] == [_stored(HOME), _stored(SITE)]
    assert body["tags"] == ["late-payer", "vip"]
    assert body["notes"] == "Gate code 1234\nRing twice"
    assert body["preferred_channel"] == "sms"
    fetched, _ = await _current(client, owner, body["id"])
    assert fetched == body


async def test_a_customer_created_without_details_has_none(client):
    owner = await sign_up(client)

    body = await create_customer(client, owner, name="Plain")

    assert (body["addresses"], body["tags"], body["notes"], body["preferred_channel"]) == (
        [],
        [],
        None,
        "none",
    )


@pytest.mark.parametrize(
    ("details", "fields"),
    [
        ({"addresses": [HOME | {"country": "XX"}]}, {"addresses.0.country"}),
        ({"addresses": [HOME | {"country": "UK"}]}, {"addresses.0.country"}),
        ({"addresses": [SITE, HOME | {"country": "USA"}]}, {"addresses.1.country"}),
        (
            {"addresses": [{"label": "Empty"}]},
            {"addresses.0.line1", "addresses.0.city", "addresses.0.country"},
        ),
        ({"addresses": [HOME | {"street": "Main"}]}, {"addresses.0.street"}),
        ({"addresses": [HOME, HOME | {"label": "HOME"}]}, {"addresses.1.label"}),
        ({"addresses": [SITE] * 11}, {"addresses"}),
        ({"addresses": "12 St James's Square"}, {"addresses"}),
        ({"addresses": [HOME | {"city": " "}]}, {"addresses.0.city"}),
        ({"addresses": [HOME | {"line1": "x" * 201}]}, {"addresses.0.line1"}),
        ({"tags": ["ok", "not ok!"]}, {"tags.1"}),
        ({"tags": ["x" * 33]}, {"tags.0"}),
        ({"tags": [f"t{n}" for n in range(21)]}, {"tags"}),
        ({"tags": "vip"}, {"tags"}),
        ({"notes": "x" * 10_001}, {"notes"}),
        ({"notes": "bell\u0007"}, {"notes"}),
        ({"preferred_channel": "fax"}, {"preferred_channel"}),
        ({"preferred_channel": None}, {"preferred_channel"}),
        ({"phone": None, "preferred_channel": "sms"}, {"preferred_channel"}),
        ({"email": None, "preferred_channel": "email"}, {"preferred_channel"}),
    ],
)
async def test_invalid_details_answer_400_naming_each_field_and_create_nothing(client, details, fields):
    owner = await sign_up(client)

    response = await client.post(
        "/v1/customers",
        json={"name": "Detailed", "email": "d@example.com", "phone": "+14155550100"} | details,
        headers=owner.auth,
    )

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == fields
    assert await _count(client, owner) == 0


async def test_patch_replaces_the_details_sent_and_leaves_the_others(client):
    owner = await sign_up(client)
    original = await create_customer(
        client, owner, addresses=[HOME], tags=["vip"], notes="Old", preferred_channel="email"
    )

    response = await _patch(
        client, owner, original["id"], {"tags": ["b2b", "Gold"], "addresses": [SITE]}, if_match='"1"'
    )

    assert response.status_code == 200
    body = await response.get_json()
    conforms(CustomerOut, body)
    assert body["tags"] == ["b2b", "gold"]
    assert body["addresses"] == [_stored(SITE)]
    assert (body["notes"], body["preferred_channel"]) == ("Old", "email")
    assert response.headers["ETag"] == '"2"'


async def test_patch_with_null_clears_addresses_tags_and_notes(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner, addresses=[HOME], tags=["vip"], notes="Old")

    body = await (
        await _patch(client, owner, original["id"], {"addresses": None, "tags": None, "notes": None})
    ).get_json()

    assert (body["addresses"], body["tags"], body["notes"]) == ([], [], None)


async def test_patch_that_would_leave_the_preferred_channel_unreachable_answers_400_and_changes_nothing(
    client,
):
    owner = await sign_up(client)
    original = await create_customer(client, owner, preferred_channel="sms")
    _, etag = await _current(client, owner, original["id"])

    response = await _patch(client, owner, original["id"], {"phone": None})

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"preferred_channel"}
    assert await _current(client, owner, original["id"]) == (original, etag)
    both = await _patch(client, owner, original["id"], {"phone": None, "preferred_channel": "email"})
    assert both.status_code == 200
    assert (await both.get_json())["preferred_channel"] == "email"


async def test_patch_with_null_preferred_channel_answers_400(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner)

    response = await _patch(client, owner, original["id"], {"preferred_channel": None})

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"preferred_channel"}


async def test_patch_of_details_with_a_stale_etag_answers_412_and_changes_nothing(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner, tags=["vip"])
    await _patch(client, owner, original["id"], {"notes": "First writer"})
    before = await _current(client, owner, original["id"])

    response = await _patch(client, owner, original["id"], {"tags": ["lost"]}, if_match='"1"')

    await expect_problem(response, 412, "precondition_failed")
    assert await _current(client, owner, original["id"]) == before


async def test_details_changes_are_audited_from_and_to(client):
    owner = await sign_up(client)
    original = await create_customer(client, owner, tags=["vip"])

    await _patch(
        client, owner, original["id"], {"tags": ["gold"], "addresses": [SITE], "preferred_channel": "phone"}
    )

    entries = await audit_entries(client, owner, target_id=original["id"])
    assert only(entries, "customer.created")["changes"]["tags"] == ["vip"]
    assert only(entries, "customer.updated")["changes"] == {
        "tags": {"from": ["vip"], "to": ["gold"]},
        "addresses": {"from": [], "to": [_stored(SITE)]},
        "preferred_channel": {"from": "none", "to": "phone"},
    }


async def test_webhook_events_carry_the_details(client, database):
    owner = await sign_up(client)
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.216.34/hook", "event_types": ["customer.updated"]},
        headers=owner.auth,
    )
    assert endpoint.status_code == 201, await endpoint.get_data()
    customer = await create_customer(client, owner)

    await _patch(client, owner, customer["id"], {"addresses": [HOME], "tags": ["vip"], "notes": "n"})

    with psycopg.connect(database.owner_url, row_factory=dict_row) as conn:
        [row] = conn.execute(
            "SELECT payload FROM outbox WHERE tenant_id = %s AND kind = 'webhook.deliver'", (owner.tenant_id,)
        ).fetchall()
    event = row["payload"]["event"]
    assert event["type"] == "customer.updated"
    data = event["data"]
    assert (data["addresses"], data["tags"], data["notes"]) == ([_stored(HOME)], ["vip"], "n")
    assert data["preferred_channel"] == "none"


# --- filtering by tag -------------------------------------------------------------------------------


async def test_tag_filters_the_list_with_the_tag_normalised(client):
    owner = await sign_up(client)
    gold = await create_customer(client, owner, name="Gold", tags=["Gold", "vip"])
    golden = await create_customer(client, owner, name="Golden", tags=["golden"])
    vip = await create_customer(client, owner, name="Vip", tags=["VIP"])
    await create_customer(client, owner, name="Untagged")

    assert [c["id"] for c in await list_all(client, owner, tag="GOLD")] == [gold["id"]]
    assert [c["id"] for c in await list_all(client, owner, tag="vip", limit=1)] == [vip["id"], gold["id"]]
    assert [c["id"] for c in await list_all(client, owner, tag="golden", q="gold")] == [golden["id"]]
    assert await list_all(client, owner, tag="silver") == []
    assert len(await list_all(client, owner, tag="  ")) == 4


async def test_a_tag_filter_never_reaches_another_tenant(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    await create_customer(client, stranger, tags=["shared-tag"])

    assert await list_all(client, owner, tag="shared-tag") == []


@pytest.mark.parametrize("tag", ["a/b", "#vip", "x" * 33, "x" * 101])
async def test_a_tag_filter_that_is_no_tag_answers_400(client, tag):
    owner = await sign_up(client)

    response = await client.get("/v1/customers", query_string={"tag": tag}, headers=owner.auth)

    problem = await expect_problem(response, 400, "validation_error")
    assert error_fields(problem) == {"tag"}


async def test_a_nul_character_in_the_tag_filter_answers_400_not_500(client):
    owner = await sign_up(client)

    response = await client.get("/v1/customers", query_string={"tag": "a\u0000b"}, headers=owner.auth)

    await expect_problem(response, 400, "validation_error")
