"""The whole inbound call story over HTTP, with Vapi's signed server messages: the platform asks
which agent answers a number and is told, with the caller's name, upcoming appointment and open
invoice; the agent's tool calls look the caller up, find free time, book a real appointment, move
it, cancel it, draft a quote and take a message, as the tenant and audited as the agent; status
updates and the end-of-call report are stored through the inbox and processed once by the worker,
whatever their duplication or order; a retried tool call books once; and no other tenant's
integration, and no unsigned message, can reach anything.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.helpers import expect_problem
from tests.e2e.live_call_helpers import (
    CALLER,
    ZONE,
    Caller,
    Line,
    call_row,
    days_ahead,
    iso,
    open_line,
    owner_rows,
    vapi_api_fixture,  # noqa: F401 (the vapi_api fixture)
)
from tests.e2e.payment_helpers import drain, ok
from tests.fakes.vapi_standin import end_of_call_report_message, status_update_message, vapi_server_message

BOILER = {
    "description": "Boiler service",
    "quantity": "1",
    "unit_price": {"amount": 12_000, "currency": "USD"},
}


async def appointments_of(client: Any, line: Line, **params: Any) -> list[dict[str, Any]]:
    query = {"customer_id": line.customer["id"], "limit": 100} | params
    body = await ok(await client.get("/v1/appointments", query_string=query, headers=line.owner.auth))
    data: list[dict[str, Any]] = body["data"]
    return data


async def booking(caller: Caller, line: Line, start: str, tool_call_id: str | None = None) -> dict[str, Any]:
    arguments = {
        "customer_id": line.customer["id"],
        "resource_id": line.resource["id"],
        "start": start,
        "duration_minutes": 60,
        "service": "Boiler service",
    }
    return await caller.tool("book_appointment", arguments, tool_call_id)


async def test_the_whole_inbound_call_story_is_answered_in_the_call_and_recorded_once(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    auth = line.owner.auth
    existing = await ok(
        await client.post(
            "/v1/appointments",
            json={
                "resource_id": line.resource["id"],
                "customer_id": line.customer["id"],
                "service": "Leak check",
                "start": iso(days_ahead(5, 15)),
                "end": iso(days_ahead(5, 16)),
            },
            headers=auth,
        ),
        201,
    )
    draft = await ok(
        await client.post(
            "/v1/invoices", json={"customer_id": line.customer["id"], "lines": [BOILER]}, headers=auth
        ),
        201,
    )
    invoice = await ok(await client.post(f"/v1/invoices/{draft['id']}/issue", headers=auth))
    caller = Caller(client, line)

    # The phone rings: Vapi asks which assistant answers, and is told what we know of the caller.
    chosen = await ok(await caller.assistant_request())
    assert chosen["assistantId"] == line.provider_agent_id
    variables = chosen["assistantOverrides"]["variableValues"]
    assert variables["customer_name"] == "Grace Hopper"
    assert variables["customer_id"] == line.customer["id"]
    assert variables["customer_known"] == "yes"
    assert variables["upcoming_appointments"].startswith("Leak check with Dana on ")
    local = days_ahead(5, 15).astimezone(ZoneInfo(ZONE))  # said in the resource's own time
    assert local.strftime("on %A %d %B %Y at %H:%M (America/New_York)") in variables["upcoming_appointments"]
    assert (
        variables["open_invoices"] == f"invoice {invoice['number']}: 120.00 USD due by {invoice['due_date']}"
    )

    for status in ("ringing", "in-progress"):
        acknowledged = await caller.post(
            status_update_message(caller.call, status, business_number=line.business_number)
        )
        assert (await ok(acknowledged)) == {"received": True}

    # The agent looks the caller up: their id, and the appointment already booked.
    found = await caller.tool("find_customer", {"phone": CALLER})
    [match] = found["result"]["customers"]
    assert (match["customer_id"], match["name"]) == (line.customer["id"], "Grace Hopper")
    assert [a["appointment_id"] for a in match["upcoming_appointments"]] == [existing["id"]]
    assert match["upcoming_appointments"][0]["start"] == local.isoformat(timespec="minutes")

    # Free time two days ahead, then a real booking in the first slot.
    free = await caller.tool(
        "check_availability",
        {
            "window_start": iso(days_ahead(2, 13)),
            "window_end": iso(days_ahead(2, 17)),
            "duration_minutes": 60,
        },
    )
    [resource] = free["result"]["resources"]
    assert resource["resource_id"] == line.resource["id"]
    assert [slot["start"][11:16] for slot in resource["slots"]][:2] in (
        ["09:00", "10:00"],
        ["08:00", "09:00"],
    )
    first, second = resource["slots"][0]["start"], resource["slots"][1]["start"]
    booked = await booking(caller, line, first)
    appointment_id = booked["result"]["appointment_id"]
    assert booked["result"]["status"] == "scheduled"
    listed = {a["id"]: a for a in await appointments_of(client, line)}
    assert listed[appointment_id]["service"] == "Boiler service"
    assert listed[appointment_id]["start"] == iso(days_ahead(2, 13))

    moved = await caller.tool("reschedule_appointment", {"appointment_id": appointment_id, "start": second})
    assert moved["result"]["start"] == second
    shown = await ok(await client.get(f"/v1/appointments/{appointment_id}", headers=auth))
    assert (shown["start"], shown["end"]) == (iso(days_ahead(2, 14)), iso(days_ahead(2, 15)))

    cancelled = await caller.tool("cancel_appointment", {"appointment_id": appointment_id})
    assert cancelled["result"]["status"] == "cancelled"
    shown = await ok(await client.get(f"/v1/appointments/{appointment_id}", headers=auth))
    assert shown["status"] == "cancelled"

    quoted = await caller.tool(
        "create_quote_draft",
        {
            "customer_id": line.customer["id"],
            "lines": [{"description": "New radiator", "quantity": 2, "unit_price": 25_000}],
            "notes": "Two radiators for the back bedrooms",
        },
    )
    assert (quoted["result"]["status"], quoted["result"]["total_text"]) == ("draft", "500.00 USD")
    quote = await ok(await client.get(f"/v1/quotes/{quoted['result']['quote_id']}", headers=auth))
    assert (quote["status"], quote["customer_id"], quote["number"]) == (
        "draft",
        line.customer["id"],
        quoted["result"]["number"],
    )

    message = await caller.tool(
        "take_message", {"message": "Please call about the boiler noise.", "urgent": True}
    )
    assert message["result"] == {
        "customer_id": line.customer["id"],
        "customer_name": "Grace Hopper",
        "team_notified": 1,
    }
    customer = await ok(await client.get(f"/v1/customers/{line.customer['id']}", headers=auth))
    assert "URGENT message taken by the voice agent: Please call about the boiler noise." in customer["notes"]
    assert f"(call back on {CALLER})" in customer["notes"]
    [mail] = owner_rows(
        database, "SELECT payload FROM outbox WHERE tenant_id = %s AND kind = 'email.send'", line.tenant_id
    )
    assert mail["payload"]["to"] == line.owner.email
    assert mail["payload"]["subject"] == "Urgent: message from Grace Hopper (voice agent)"

    # Everything the agent did is in the audit log as the agent, in this call.
    call = call_row(database, line, caller.call_id)
    assert call is not None
    assert call["agent_id"] is not None
    audited = owner_rows(
        database,
        "SELECT action, actor_type, actor_id, call_id FROM audit_events "
        "WHERE tenant_id = %s AND actor_type = 'voice_agent' ORDER BY occurred_at, id",
        line.tenant_id,
    )
    assert [row["action"] for row in audited] == [
        "appointment.created",
        "appointment.updated",
        "appointment.cancelled",
        "quote.created",
        "customer.updated",
    ]
    assert {(str(row["actor_id"]), row["call_id"]) for row in audited} == {(line.agent["id"], call["id"])}
    trail = await ok(
        await client.get("/v1/audit-logs", query_string={"target_id": appointment_id}, headers=auth)
    )
    assert trail["data"][0]["actor"] == {
        "type": "voice_agent",
        "id": line.agent["id"],
        "on_behalf_of_admin": None,
        "call_id": str(call["id"]),
    }

    # The call so far: in progress, the agent's and the customer's, a line per tool call.
    assert (call["status"], str(call["customer_id"])) == ("in_progress", line.customer["id"])
    tool_lines = [entry["text"] for entry in call["transcript"] if entry["speaker"] == "tool"]
    assert len(tool_lines) == 7
    assert tool_lines[2].startswith("book_appointment: ")

    # The end-of-call report, processed by the worker: ended, with its costs and transcript.
    report = end_of_call_report_message(
        {**caller.call, "status": "ended"}, business_number=line.business_number
    )
    assert (await ok(await caller.post(report))) == {"received": True}
    await drain(container)
    ended = call_row(database, line, caller.call_id)
    assert ended is not None
    assert (ended["status"], ended["ended_reason"]) == ("ended", "customer-ended-call")
    assert ended["summary"] == "The caller booked a boiler service for Tuesday at 10:00."
    assert ended["cost_currency"] == "USD"
    assert (ended["cost_transport"], ended["cost_platform"]) == (12_500, 104_200)
    assert [entry["speaker"] for entry in ended["transcript"]][:2] == ["agent", "customer"]
    inbox = owner_rows(
        database,
        "SELECT type, status FROM webhook_events WHERE tenant_id = %s ORDER BY received_at",
        line.tenant_id,
    )
    assert [(row["type"], row["status"]) for row in inbox] == [
        ("status-update", "done"),
        ("status-update", "done"),
        ("end-of-call-report", "done"),
    ]


async def test_duplicated_and_out_of_order_deliveries_leave_one_call_that_only_moves_forward(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    report = end_of_call_report_message(
        {**caller.call, "status": "ended"}, business_number=line.business_number
    )
    ringing = status_update_message(caller.call, "ringing", business_number=line.business_number)
    in_progress = status_update_message(caller.call, "in-progress", business_number=line.business_number)

    # The report first, then late status updates, each more than once, some at the same time.
    await ok(await caller.post(report))
    answers = await asyncio.gather(caller.post(in_progress), caller.post(in_progress), caller.post(ringing))
    assert [a.status_code for a in answers] == [200, 200, 200]
    await ok(await caller.post(report))
    await drain(container)
    await ok(await caller.post(ringing))
    await drain(container)

    call = call_row(database, line, caller.call_id)
    assert call is not None
    assert (call["status"], call["ended_reason"]) == ("ended", "customer-ended-call")
    assert call["cost_speech_to_text"] == 21_300
    inbox = owner_rows(
        database, "SELECT event_id, status FROM webhook_events WHERE tenant_id = %s", line.tenant_id
    )
    assert len(inbox) == 3  # the report, in progress, ringing: each stored once
    assert {row["status"] for row in inbox} == {"done"}


async def test_a_retried_tool_call_books_one_appointment_and_gets_the_same_answer(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    start = iso(days_ahead(3, 15))

    first = await booking(caller, line, start, "call_retried")
    again = await booking(caller, line, start, "call_retried")
    together = await asyncio.gather(
        *(booking(caller, line, iso(days_ahead(4, 15)), "call_racing") for _ in range(4))
    )

    assert again == first
    assert "result" in first
    booked = [a for a in await appointments_of(client, line) if a["status"] == "scheduled"]
    assert sorted(a["start"] for a in booked) == [start, iso(days_ahead(4, 15))]
    winners = [answer for answer in together if "result" in answer]
    assert len({answer["result"]["appointment_id"] for answer in winners}) == 1
    for answer in together:  # a retry that overlaps the first run is told to wait, never booked
        assert "result" in answer or answer["error"].startswith("this request is still being handled")
    created = owner_rows(
        database,
        "SELECT count(*) AS n FROM audit_events WHERE tenant_id = %s AND action = 'appointment.created'",
        line.tenant_id,
    )
    assert created[0]["n"] == 2


async def test_a_tool_the_agent_was_not_given_is_refused_and_nothing_runs(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api, tools=("find_customer", "check_availability"))
    caller = Caller(client, line)

    refused = await booking(caller, line, iso(days_ahead(2, 15)))
    unknown = await caller.tool("delete_everything", {})
    allowed = await caller.tool("find_customer", {"phone": CALLER})

    assert refused == {"error": "this agent may not use book_appointment"}
    assert unknown == {"error": "there is no tool called delete_everything"}
    assert allowed["result"]["count"] == 1
    assert await appointments_of(client, line) == []


async def test_domain_errors_and_bad_arguments_are_results_the_agent_can_say(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    start = iso(days_ahead(2, 16))
    assert "result" in await booking(caller, line, start)

    taken = await booking(caller, line, start)
    no_offset = await booking(caller, line, days_ahead(2, 18).replace(tzinfo=None).isoformat())
    nobody = await caller.tool(
        "book_appointment",
        {
            "customer_id": "6b5d7f2a-1c3e-4f50-9a8b-0c1d2e3f4a5b",
            "resource_id": line.resource["id"],
            "start": iso(days_ahead(2, 20)),
            "duration_minutes": 30,
            "service": "Check",
        },
    )
    extra = await caller.tool("find_customer", {"phone": CALLER, "tenant_id": "someone-else"})
    past = await booking(caller, line, iso(days_ahead(-1, 12)))
    nothing = await caller.tool("find_customer", {})
    bad_number = await caller.tool("take_message", {"message": "hi", "callback_number": "not a number"})

    assert taken == {"error": "the resource is already booked at this time (buffers included)"}
    assert no_offset["error"] == "invalid arguments: start: must carry its UTC offset, such as -05:00 or Z"
    assert nobody == {"error": "invalid arguments: customer_id: no customer with this id"}
    assert extra == {"error": "invalid arguments: tenant_id: is not a parameter of this tool"}
    assert past == {"error": "invalid arguments: start: must not be in the past"}
    assert nothing["error"].startswith("invalid arguments: phone: give a phone number")
    assert bad_number["error"].startswith(
        "invalid arguments: callback_number: must be an international number"
    )
    assert len([a for a in await appointments_of(client, line) if a["status"] == "scheduled"]) == 1


async def test_a_number_without_a_published_agent_is_refused_with_a_spoken_message(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    caller.line = Line(**{**line.__dict__, "business_number": "+15559999999"})  # not one of the tenant's

    answer = await ok(await caller.assistant_request())

    assert answer == {
        "error": "Sorry, no one can take calls at this number right now. Please try again later."
    }
    recorded = call_row(database, line, caller.call_id)
    assert recorded is not None
    assert recorded["agent_id"] is None


async def test_another_tenants_integration_cannot_reach_this_tenants_data(
    client, container, database, vapi_api
):
    victim = await open_line(client, container, vapi_api, name="Victim Plumbing")
    intruder = await open_line(client, container, vapi_api, name="Intruder Plumbing")
    caller = Caller(client, intruder)

    stolen = await caller.tool(
        "book_appointment",
        {
            "customer_id": victim.customer["id"],
            "resource_id": victim.resource["id"],
            "start": iso(days_ahead(2, 15)),
            "duration_minutes": 60,
            "service": "Boiler service",
        },
    )
    found = await caller.tool("find_customer", {"name": "Grace"})
    moved = await caller.tool(
        "cancel_appointment", {"appointment_id": "6b5d7f2a-1c3e-4f50-9a8b-0c1d2e3f4a5b"}
    )
    # The victim's secret on the intruder's address, and the intruder's on the victim's: refused.
    crossed = [
        await Caller(client, intruder).post(
            status_update_message(caller.call, "ringing"), secret=victim.server_secret
        ),
    ]
    crossed_line = Caller(client, Line(**{**victim.__dict__, "server_secret": intruder.server_secret}))
    crossed.append(await crossed_line.tools(("call_x", "find_customer", {"phone": CALLER})))

    assert stolen["error"] in (
        "invalid arguments: customer_id: no customer with this id",
        "invalid arguments: resource_id: no resource with this id",
    )
    assert [c["customer_id"] for c in found["result"]["customers"]] == [intruder.customer["id"]]
    assert moved == {"error": "no appointment with this id"}
    for response in crossed:
        await expect_problem(response, 400, "webhook_rejected")
    assert await appointments_of(client, victim) == []
    assert owner_rows(database, "SELECT id FROM calls WHERE tenant_id = %s", victim.tenant_id) == []


async def test_unsigned_or_tampered_messages_are_problems_and_store_nothing(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    report = end_of_call_report_message(caller.call, business_number=line.business_number)

    wrong = await caller.post(report, secret="not-the-secret-at-all")
    headers, body = vapi_server_message(line.server_secret, report)
    unsigned = await client.post(line.webhook_url, data=body, headers={"content-type": "application/json"})
    garbled = await client.post(line.webhook_url, data=b"{not json", headers=headers)
    tool_call = await caller.post(
        {"type": "tool-calls", "call": caller.call, "toolCallList": []}, secret="not-the-secret-at-all"
    )
    elsewhere = await client.post(
        "/v1/webhooks/vapi/6b5d7f2a-1c3e-4f50-9a8b-0c1d2e3f4a5b", data=body, headers=headers
    )

    for response in (wrong, unsigned, garbled, tool_call):
        await expect_problem(response, 400, "webhook_rejected")
    await expect_problem(elsewhere, 404, "not_found")
    assert owner_rows(database, "SELECT id FROM webhook_events WHERE tenant_id = %s", line.tenant_id) == []
    assert call_row(database, line, caller.call_id) is None


async def test_a_genuine_message_nested_too_deeply_or_holding_nul_is_refused_and_stores_nothing(
    client, container, database, vapi_api
):
    line = await open_line(client, container, vapi_api)
    caller = Caller(client, line)
    nested = b'{"message": {"type": "status-update", "call": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    with_nul = {"type": "status-update", "status": "ringing", "call": {**caller.call, "id": "call\x00id"}}
    ring = {"type": "assistant-request", "call": caller.call, "phoneNumber": {"number": "+1555\x000100"}}

    genuine = {"x-vapi-secret": line.server_secret, "content-type": "application/json"}
    await expect_problem(await client.post(line.webhook_url, data=nested, headers=genuine), 400)
    for message in (with_nul, ring):
        await expect_problem(await caller.post(message), 400)

    stored = owner_rows(database, "SELECT id FROM webhook_events WHERE tenant_id = %s", line.tenant_id)
    assert stored == []
