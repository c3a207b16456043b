"""The live-call story once more with Retell, whose shapes are nothing like Vapi's: its inbound
call webhook picks the agent and gets the caller's context, and its custom function calls run
the business tools, booking a real appointment once however often Retell retries. Proof that
the voice port is Switchboard's, not one platform's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.plugins.retell import API_BASE_SETTING
from tests.e2e.live_call_helpers import CALLER, NUMBERS, days_ahead, iso, open_line
from tests.e2e.payment_helpers import drain, ok, plugins_at
from tests.fakes.retell_standin import (
    RetellStandIn,
    call_inbound_event,
    call_started_event,
    function_call_post,
    retell_call,
    retell_post,
)


@pytest.fixture(scope="module", name="retell_api")
def retell_api_fixture(container: Any) -> Iterator[RetellStandIn]:
    with (
        RetellStandIn(phone_numbers=NUMBERS) as standin,
        plugins_at(container, API_BASE_SETTING, standin.api_base),
    ):
        yield standin


async def test_retell_picks_the_agent_and_its_function_calls_book_once(client, container, retell_api):
    line = await open_line(client, container, retell_api, provider="retell", name="Retell Plumbing")

    async def post(body: dict[str, Any]) -> Any:
        headers, data = retell_post(line.server_secret, body)
        return await client.post(line.webhook_url, data=data, headers=headers)

    inbound = await ok(await post(call_inbound_event(from_number=CALLER, to_number=line.business_number)))
    assert inbound["call_inbound"]["override_agent_id"] == line.provider_agent_id
    assert inbound["call_inbound"]["dynamic_variables"]["customer_name"] == "Grace Hopper"

    call = retell_call(
        "call_retell_1",
        business_number=line.business_number,
        customer_number=CALLER,
        agent_id=line.provider_agent_id,
    )
    found = await ok(await post(function_call_post(call, "find_customer", {"phone": CALLER})))
    assert [c["customer_id"] for c in found["customers"]] == [line.customer["id"]]

    booking = {
        "customer_id": line.customer["id"],
        "resource_id": line.resource["id"],
        "start": iso(days_ahead(2, 15)),
        "duration_minutes": 60,
        "service": "Boiler service",
    }
    first = await ok(await post(function_call_post(call, "book_appointment", booking)))
    retried = await ok(await post(function_call_post(call, "book_appointment", booking)))
    assert retried == first
    listed = await ok(
        await client.get(
            "/v1/appointments", query_string={"customer_id": line.customer["id"]}, headers=line.owner.auth
        )
    )
    assert [a["id"] for a in listed["data"]] == [first["appointment_id"]]

    # The inbound webhook named no call, so it recorded none: the call is Retell's own, once.
    await ok(await post(call_started_event(call)))
    await drain(container)
    calls = await ok(await client.get("/v1/calls", headers=line.owner.auth))
    assert [(c["provider_call_id"], c["status"], c["direction"]) for c in calls["data"]] == [
        ("call_retell_1", "in_progress", "inbound")
    ]

    headers, data = retell_post(
        "key_not_the_account", function_call_post(call, "find_customer", {"phone": CALLER})
    )
    refused = await client.post(line.webhook_url, data=data, headers=headers)
    assert refused.status_code == 400
