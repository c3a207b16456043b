"""Every error is problem+json; every response carries the request id and the security headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.helpers import (
    SignedUp,
    create_customer,
    expect_problem,
    list_all,
    problem_of,
    sign_up,
)

GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
OVERSIZE = 1_100_000  # above the 1 MiB default of MAX_CONTENT_LENGTH


@pytest.fixture(scope="module")
async def owner(client) -> SignedUp:
    return await sign_up(client, tenant_name="Headers Co")


async def _customer_names(client, who: SignedUp) -> list[str]:
    return [c["name"] for c in await list_all(client, who)]


# --- error bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"name": ', b"{'name': 'single quotes'}", b"not json", b'{"name": "x"}}'])
async def test_malformed_json_answers_400_problem_json_and_creates_nothing(client, owner, raw):
    before = await _customer_names(client, owner)

    response = await client.post(
        "/v1/customers", data=raw, headers=owner.auth | {"Content-Type": "application/json"}
    )

    problem = await expect_problem(response, 400)
    assert problem["instance"] == "/v1/customers"
    assert await _customer_names(client, owner) == before


@pytest.mark.parametrize("raw", [b"[1, 2]", b"42", b'"a string"', b"null"])
async def test_json_that_is_not_an_object_answers_400_problem_json(client, owner, raw):
    response = await client.post(
        "/v1/customers", data=raw, headers=owner.auth | {"Content-Type": "application/json"}
    )

    await expect_problem(response, 400)


async def test_malformed_json_on_an_unauthenticated_route_answers_400_problem_json(client):
    response = await client.post(
        "/v1/auth/login", data=b'{"email": "a@b.c", ', headers={"Content-Type": "application/json"}
    )

    await expect_problem(response, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/html"])
async def test_a_body_that_is_not_json_answers_415_and_creates_nothing(client, owner, content_type):
    before = await _customer_names(client, owner)

    response = await client.post(
        "/v1/customers", data=b'{"name": "Plain Text"}', headers=owner.auth | {"Content-Type": content_type}
    )

    await expect_problem(response, 415, "unsupported_media_type")
    assert await _customer_names(client, owner) == before


async def test_a_text_plain_patch_answers_415_and_changes_nothing(client, owner):
    customer = await create_customer(client, owner, name="Unpatched")

    response = await client.patch(
        f"/v1/customers/{customer['id']}",
        data=b'{"name": "Patched"}',
        headers=owner.auth | {"Content-Type": "text/plain"},
    )

    await expect_problem(response, 415, "unsupported_media_type")
    got = await client.get(f"/v1/customers/{customer['id']}", headers=owner.auth)
    assert (await got.get_json())["name"] == "Unpatched"


async def test_a_body_over_the_size_limit_answers_413_and_creates_nothing(client, owner):
    before = await _customer_names(client, owner)

    response = await client.post("/v1/customers", json={"name": "x" * OVERSIZE}, headers=owner.auth)

    await expect_problem(response, 413, "payload_too_large")
    assert await _customer_names(client, owner) == before


async def test_an_oversize_body_before_authentication_answers_413(client):
    response = await client.post(
        "/v1/auth/register",
        json={"tenant_name": "Big", "name": "Big", "email": "big@example.com", "password": "p" * OVERSIZE},
    )

    await expect_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    "path", ["/v1/nothing-here", "/nothing-here", "/v1/customers/not-a-uuid", "/v2/customers"]
)
async def test_an_unknown_route_answers_404_problem_json(client, owner, path):
    response = await client.get(path, headers=owner.auth)

    problem = await expect_problem(response, 404, "not_found")
    assert problem["instance"] == path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/customers", {"GET", "POST"}),
        ("DELETE", "/v1/customers", {"GET", "POST"}),
        ("PUT", "/v1/customers/00000000-0000-0000-0000-000000000001", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/v1/tenant", {"GET", "PATCH"}),
        ("GET", "/v1/auth/login", {"POST"}),
        ("POST", "/health/live", {"GET"}),
    ],
)
async def test_a_wrong_method_answers_405_with_an_allow_header(client, owner, method, path, allowed):
    response = await client.open(path, method=method, json={}, headers=owner.auth)

    await expect_problem(response, 405, "method_not_allowed")
    offered = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= offered
    assert method not in offered


# --- headers on every response -----------------------------------------------------------------

Call = Callable[[Any, SignedUp], Awaitable[Any]]

RESPONSES: dict[str, Call] = {
    "200 health": lambda c, o: c.get("/health/live"),
    "200 me": lambda c, o: c.get("/v1/me", headers=o.auth),
    "200 list": lambda c, o: c.get("/v1/customers", headers=o.auth),
    "201 create": lambda c, o: c.post("/v1/customers", json={"name": "Header Check"}, headers=o.auth),
    "200 openapi": lambda c, o: c.get("/openapi.json"),
    "400 malformed": lambda c, o: c.post(
        "/v1/customers", data=b"{", headers=o.auth | {"Content-Type": "application/json"}
    ),
    "400 validation": lambda c, o: c.post("/v1/customers", json={"nope": 1}, headers=o.auth),
    "400 credential in query": lambda c, o: c.get("/v1/customers?access_token=x"),
    "401": lambda c, o: c.get("/v1/me"),
    "404 unknown route": lambda c, o: c.get("/v1/nowhere"),
    "404 outside v1": lambda c, o: c.get("/nowhere"),
    "405": lambda c, o: c.put("/v1/customers", json={}, headers=o.auth),
    "412": lambda c, o: c.patch("/v1/tenant", json={"name": "X"}, headers=o.auth | {"If-Match": '"999"'}),
    "413": lambda c, o: c.post("/v1/customers", json={"name": "x" * OVERSIZE}, headers=o.auth),
    "415": lambda c, o: c.post("/v1/customers", data=b"x", headers=o.auth | {"Content-Type": "text/plain"}),
}


def _assert_security_headers(response: Any) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(headers["Strict-Transport-Security"].split("max-age=")[1].split(";")[0]) >= 31_536_000
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("case", list(RESPONSES))
async def test_every_response_carries_a_request_id_and_the_security_headers(client, owner, case):
    response = await RESPONSES[case](client, owner)

    assert response.status_code == int(case.split()[0])
    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])
    _assert_security_headers(response)
    if response.status_code >= 400:
        await problem_of(response)


@pytest.mark.parametrize(
    "case", [c for c in RESPONSES if c not in {"200 health", "200 openapi", "404 outside v1"}]
)
async def test_every_v1_response_is_marked_no_store(client, owner, case):
    response = await RESPONSES[case](client, owner)

    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("case", list(RESPONSES))
async def test_a_sane_client_request_id_is_echoed_on_every_response(client, owner, case):
    request_id = f"client-{case.replace(' ', '-')}.{uuid.uuid4().hex}:ok_1"

    response = await _with_request_id(client, owner, case, request_id)

    assert response.headers["X-Request-ID"] == request_id
    if response.status_code >= 400:
        assert (await problem_of(response))["request_id"] == request_id


@pytest.mark.parametrize(
    "insane",
    ["x" * 300, "has spaces in it", "semi;colon", 'quote"d', "<script>", "a" * 129, "ünïcode", "new%0Aline"],
)
@pytest.mark.parametrize("case", ["200 me", "404 unknown route", "401"])
async def test_an_insane_client_request_id_is_replaced_by_a_generated_one(client, owner, case, insane):
    response = await _with_request_id(client, owner, case, insane)

    assert response.headers["X-Request-ID"] != insane
    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])
    if response.status_code >= 400:
        assert (await problem_of(response))["request_id"] == response.headers["X-Request-ID"]


async def test_two_requests_without_a_request_id_get_different_ones(client):
    first = await client.get("/health/live")
    second = await client.get("/health/live")

    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def _with_request_id(client, owner: SignedUp, case: str, request_id: str) -> Any:
    """Replay one of RESPONSES with an X-Request-ID header added to the request."""

    class WithRequestId:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            method = getattr(self._inner, name)

            def call(*args: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
                return method(*args, headers=(headers or {}) | {"X-Request-ID": request_id}, **kwargs)

            return call

    return await RESPONSES[case](WithRequestId(client), owner)


# --- 500 ---------------------------------------------------------------------------------------


class BrokenClock:
    """A real clock whose reading fails, to make the app hit an unexpected error."""

    def now(self) -> datetime:
        raise RuntimeError("secret internal detail")


async def test_an_unexpected_error_answers_500_problem_json_without_internals_and_logs_the_request_id(
    client, container, owner, capsys
):
    capsys.readouterr()
    container.clock.override(BrokenClock())
    try:
        response = await client.post("/v1/customers", json={"name": "Boom"}, headers=owner.auth)
    finally:
        container.clock.reset_override()
    logged = capsys.readouterr().out

    problem = await expect_problem(response, 500, "internal_error")
    raw = (await response.get_data()).decode()
    assert "secret internal detail" not in raw
    assert "Traceback" not in raw
    assert "RuntimeError" not in raw
    request_id = response.headers["X-Request-ID"]
    assert problem["request_id"] == request_id
    _assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    lines_with_id = [line for line in logged.splitlines() if request_id in line]
    assert lines_with_id, logged[-2000:]
    assert any("500" in line or "unhandled" in line for line in lines_with_id)


async def test_a_500_stores_nothing_for_an_idempotency_key_so_a_retry_runs_afresh(client, container, owner):
    key = f"boom-{uuid.uuid4()}"
    headers = owner.auth | {"Idempotency-Key": key}
    container.clock.override(BrokenClock())
    try:
        failed = await client.post("/v1/customers", json={"name": "Retry Me"}, headers=headers)
    finally:
        container.clock.reset_override()

    retried = await client.post("/v1/customers", json={"name": "Retry Me"}, headers=headers)

    await expect_problem(failed, 500, "internal_error")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


async def test_the_app_recovers_after_a_500(client, container, owner):
    container.clock.override(BrokenClock())
    try:
        await client.post("/v1/customers", json={"name": "Boom"}, headers=owner.auth)
    finally:
        container.clock.reset_override()

    response = await client.post("/v1/customers", json={"name": "After Boom"}, headers=owner.auth)

    assert response.status_code == 201


# --- hostile bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10_000, 100_000])
async def test_deeply_nested_json_answers_400_not_500_and_creates_nothing(client, owner, depth):
    before = await _customer_names(client, owner)
    raw = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"

    response = await client.post(
        "/v1/customers", data=raw, headers=owner.auth | {"Content-Type": "application/json"}
    )

    await expect_problem(response, 400)
    assert await _customer_names(client, owner) == before


@pytest.mark.parametrize(
    "raw", [b'{"name": "caf\xe9"}', b"\xff\xfe{}", '{"name": "Grace"}'.encode("utf-16"), b"\xa7\xf0"]
)
async def test_a_json_body_that_is_not_utf8_answers_400_not_500_and_creates_nothing(client, owner, raw):
    before = await _customer_names(client, owner)

    response = await client.post(
        "/v1/customers", data=raw, headers=owner.auth | {"Content-Type": "application/json"}
    )

    problem = await expect_problem(response, 400, "bad_request")
    assert problem["errors"][0]["field"] == "body"
    assert await _customer_names(client, owner) == before
