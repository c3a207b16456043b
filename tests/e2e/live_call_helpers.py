"""Helpers for the live-call tests: a business on the phone through Vapi (its plugin pointed at the
local stand-in), with a published agent answering one of its numbers, a customer who calls, a
resource to book, an open invoice; and the platform's signed server messages posted to the
integration's webhook address.

``vapi_api`` (module scope) starts the Vapi stand-in and overrides the app's plugin catalog and
provider registry with ones built while ``SWITCHBOARD_VAPI_API_BASE`` names it, then restores them.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from switchboard.core.calls.model import BusinessTool
from switchboard.plugins.vapi import API_BASE_SETTING
from tests.e2e.helpers import SignedUp, create_customer, sign_up
from tests.e2e.payment_helpers import drain, ok, plugins_at
from tests.fakes.vapi_standin import (
    VapiStandIn,
    assistant_request_message,
    new_call_id,
    tool_calls_message,
    vapi_call,
    vapi_server_message,
)

ALL_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROUND_THE_CLOCK = {day: [{"start": "00:00", "end": "24:00"}] for day in ALL_WEEK}
CALLER = "+14155550123"
ZONE = "America/New_York"
ALL_TOOLS = tuple(tool.value for tool in BusinessTool)


NUMBERS = [f"+1555{n:07d}" for n in range(100, 140)]  # a fresh one per business


@pytest.fixture(scope="module", name="vapi_api")
def vapi_api_fixture(container: Any) -> Iterator[VapiStandIn]:
    with (
        VapiStandIn(phone_numbers=NUMBERS) as standin,
        plugins_at(container, API_BASE_SETTING, standin.api_base),
    ):
        yield standin


@dataclass
class Line:
    """A business with an agent answering ``business_number``; its customer calls from CALLER."""

    owner: SignedUp
    webhook_url: str
    server_secret: str
    agent: dict[str, Any]
    business_number: str
    customer: dict[str, Any]
    resource: dict[str, Any]

    @property
    def tenant_id(self) -> UUID:
        return UUID(self.owner.tenant_id)

    @property
    def provider_agent_id(self) -> str:
        value: str = self.agent["provider_agent_id"]
        return value


_numbers_taken: set[str] = set()


async def open_line(
    client: Any,
    container: Any,
    standin: Any,
    *,
    tools: tuple[str, ...] = ALL_TOOLS,
    name: str = "Harbour Plumbing",
    provider: str = "vapi",
) -> Line:
    """The line's ``server_secret`` is what the platform signs with: Vapi's server secret, or
    the Retell account's API key (Retell signs its posts with it)."""
    owner = await sign_up(client, tenant_name=name)
    if provider == "vapi":
        secret = "vapi-secret-" + secrets.token_urlsafe(16)
        config = {"api_key": "vapi-key-" + uuid.uuid4().hex, "server_secret": secret}
    else:
        secret = "key_" + uuid.uuid4().hex
        config = {"api_key": secret}
    integration = await ok(
        await client.post(
            "/v1/integrations", json={"provider": provider, "config": config}, headers=owner.auth
        ),
        201,
    )
    customer = await create_customer(
        client, owner, name="Grace Hopper", email="grace@example.com", phone=CALLER
    )
    resource = await ok(
        await client.post(
            "/v1/resources",
            json={"name": "Dana", "kind": "staff", "time_zone": ZONE, "working_hours": ROUND_THE_CLOCK},
            headers=owner.auth,
        ),
        201,
    )
    agent = await ok(
        await client.post(
            "/v1/agents",
            json={
                "name": "Reception",
                "voice_provider": "11labs",
                "voice_id": "rachel",
                "model_provider": "openai",
                "model": "gpt-4o-mini",
                "system_prompt": "You answer the phone for a plumbing business.",
                "first_message": "Harbour Plumbing, how can I help?",
                "tools": list(tools),
            },
            headers=owner.auth,
        ),
        201,
    )
    await ok(await client.post(f"/v1/agents/{agent['id']}/publish", json={}, headers=owner.auth))
    await drain(container)
    agent = await ok(await client.get(f"/v1/agents/{agent['id']}", headers=owner.auth))
    assert agent["provider_agent_id"], agent  # created at the stand-in by the worker

    numbers = await ok(await client.post("/v1/phone-numbers/sync", headers=owner.auth))
    free = next(n for n in numbers["data"] if n["number"] not in _numbers_taken)
    _numbers_taken.add(free["number"])
    await ok(
        await client.patch(
            f"/v1/phone-numbers/{free['id']}", json={"agent_id": agent["id"]}, headers=owner.auth
        )
    )
    await drain(container)
    return Line(owner, integration["webhook_url"], secret, agent, free["number"], customer, resource)


class Caller:
    """One call on a line: its Vapi call object, and the messages Vapi posts about it."""

    def __init__(self, client: Any, line: Line, customer_number: str = CALLER) -> None:
        self.client = client
        self.line = line
        self.call_id = new_call_id()
        self.call = vapi_call(
            self.call_id,
            business_number=line.business_number,
            customer_number=customer_number,
            assistant_id=line.provider_agent_id,
        )

    async def post(self, message: Mapping[str, Any], secret: str | None = None) -> Any:
        headers, body = vapi_server_message(secret or self.line.server_secret, message)
        return await self.client.post(self.line.webhook_url, data=body, headers=headers)

    async def assistant_request(self) -> Any:
        call = {key: value for key, value in self.call.items() if key != "assistantId"}
        return await self.post(assistant_request_message(call, self.line.business_number))

    async def tools(self, *calls: tuple[str, str, Mapping[str, Any]]) -> Any:
        return await self.post(
            tool_calls_message(self.call, calls, business_number=self.line.business_number)
        )

    async def tool(
        self, name: str, arguments: Mapping[str, Any], tool_call_id: str | None = None
    ) -> dict[str, Any]:
        """One tool call; its answer as Vapi reads it: {"result": <decoded JSON>} or {"error": ...}."""
        tool_call_id = tool_call_id or f"call_{secrets.token_hex(8)}"
        response = await self.tools((tool_call_id, name, arguments))
        body = await ok(response)
        [answer] = body["results"]
        assert (answer["toolCallId"], answer["name"]) == (tool_call_id, name)
        if "error" in answer:
            return {"error": answer["error"]}
        return {"result": json.loads(answer["result"])}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def days_ahead(days: int, hour: int) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def owner_rows(database: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows read as the database's owner (past row-level security), for what the API does not show."""
    with psycopg.connect(database.owner_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def call_row(database: Any, line: Line, provider_call_id: str) -> dict[str, Any] | None:
    rows = owner_rows(
        database,
        "SELECT * FROM calls WHERE tenant_id = %s AND provider_call_id = %s",
        line.tenant_id,
        provider_call_id,
    )
    assert len(rows) <= 1
    return rows[0] if rows else None
