"""Small helpers for talking to the API in tests.

Every success body a helper returns has been validated against the pydantic model that
/openapi.json documents for it, so the documentation is proven by every test that uses them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from quart.typing import TestClientProtocol

from switchboard.entrypoints.http.blueprints.auth import RegisteredOut, TokenOut
from switchboard.entrypoints.http.blueprints.schemas import CustomerListOut, CustomerOut, Problem

PASSWORD = "correct horse battery staple"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "request_id"}

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SignedUp:
    tenant_id: str
    user_id: str
    email: str
    access_token: str
    refresh_token: str
    body: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def conforms(model: type[M], body: Any) -> M:
    """Validate a response body against its documented model (strictly: no undocumented keys)."""
    parsed = model.model_validate(body)
    documented = set(model.model_fields)
    assert isinstance(body, dict)
    assert set(body) == documented, f"undocumented or missing keys: {set(body) ^ documented}"
    return parsed


async def register(
    client: TestClientProtocol,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    tenant_name: str = "Acme Plumbing",
    name: str = "Ada Owner",
) -> Any:
    """POST /v1/auth/register and return the raw response."""
    return await client.post(
        "/v1/auth/register",
        json={
            "tenant_name": tenant_name,
            "name": name,
            "email": email or unique_email(),
            "password": password,
        },
    )


async def sign_up(client: TestClientProtocol, tenant_name: str = "Acme Plumbing") -> SignedUp:
    email = unique_email()
    response = await register(client, email=email, tenant_name=tenant_name)
    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    conforms(RegisteredOut, body)
    return SignedUp(
        body["tenant_id"], body["user_id"], email, body["access_token"], body["refresh_token"], body
    )


async def login(
    client: TestClientProtocol, email: str, password: str = PASSWORD, tenant_id: str | None = None
) -> Any:
    """POST /v1/auth/login and return the raw response."""
    payload: dict[str, Any] = {"email": email, "password": password}
    if tenant_id is not None:
        payload["tenant_id"] = tenant_id
    return await client.post("/v1/auth/login", json=payload)


async def refresh(client: TestClientProtocol, refresh_token: str) -> Any:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def tokens_of(response: Any) -> dict[str, Any]:
    """The body of a successful token answer, checked against TokenOut."""
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(TokenOut, body)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    return body


async def create_customer(client: TestClientProtocol, who: SignedUp, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Grace Hopper", "email": "grace@example.com", "phone": "+14155550100"} | fields
    response = await client.post("/v1/customers", json=payload, headers=who.auth)
    assert response.status_code == 201, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(CustomerOut, body)
    return body


async def get_customer(client: TestClientProtocol, who: SignedUp, customer_id: str) -> Any:
    return await client.get(f"/v1/customers/{customer_id}", headers=who.auth)


async def list_page(client: TestClientProtocol, who: SignedUp, **params: Any) -> dict[str, Any]:
    """One page of GET /v1/customers, checked against CustomerListOut."""
    response = await client.get("/v1/customers", query_string=params, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(CustomerListOut, body)
    for item in body["data"]:
        conforms(CustomerOut, item)
    return body


async def list_all(
    client: TestClientProtocol, who: SignedUp, limit: int = 100, **params: Any
) -> list[dict[str, Any]]:
    """Every customer the caller can see, walking every page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        page = await list_page(client, who, **query)
        items.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        cursor = page["next_cursor"]
        assert cursor


async def problem_of(response: Any) -> dict[str, Any]:
    """The problem+json body of an error response, after checking it is one."""
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = await response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS, f"missing problem keys: {PROBLEM_KEYS - set(body)}"
    assert body["status"] == response.status_code
    assert body["type"] == f"https://switchboard.dev/problems/{body['code']}"
    assert body["request_id"] == response.headers["X-Request-ID"]
    Problem.model_validate(body)  # the shape /openapi.json documents for every error
    return body


async def expect_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Check the status (and code) of a problem response and return its body."""
    assert response.status_code == status, await response.get_data()
    body = await problem_of(response)
    if code is not None:
        assert body["code"] == code, body
    return body


def error_fields(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem.get("errors", [])}
