"""Call storage and the recording of platform messages, on memory and PostgreSQL alike: calls
round trip, are found by the platform's id within their integration, list newest first with every
filter and a stable cursor, stay in their tenant, and twenty concurrent deliveries of one
end-of-call report make one call with one result."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.core.calls import calls as handlers
from switchboard.core.calls.model import (
    CallAnalysis,
    CallCost,
    CallDirection,
    CallMessage,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    TranscriptEntry,
)
from switchboard.core.calls.records import SWITCHBOARD_CALL_ID, Call, CallFeedback, CallFilter
from switchboard.core.customers.timeline import TimelineKind, position_of
from switchboard.core.errors import Conflict, InvalidInput
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, make_customer, utc_now
from tests.contract.test_integration_contract import make_integration
from tests.contract.test_voice_agents_contract import make_agent, make_number

CONCURRENT_DELIVERIES = 20
BUSINESS = "+15550100001"
CALLER = "+14155550123"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


def make_call(actor: Actor, integration_id: UUID, **overrides: Any) -> Call:
    now = overrides.pop("created_at", utc_now())
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        integration_id=integration_id,
        provider_call_id=f"pc_{uuid4().hex[:12]}",
        direction=CallDirection.INBOUND,
        status=CallStatus.RINGING,
        created_at=now,
        updated_at=now,
    )
    return Call(**(fields | overrides))


def full_call(actor: Actor, integration_id: UUID, agent_id: UUID, customer_id: UUID) -> Call:
    started = utc_now() - timedelta(minutes=5)
    return make_call(
        actor,
        integration_id,
        status=CallStatus.ENDED,
        ended_reason="customer-ended-call",
        agent_id=agent_id,
        customer_id=customer_id,
        business_number=BUSINESS,
        customer_number=CALLER,
        scheduled_at=started - timedelta(minutes=1),
        started_at=started,
        ended_at=started + timedelta(seconds=95),
        transcript=(
            TranscriptEntry(Speaker.AGENT, "Hello, Harbour Plumbing.", 0.4, 1.2),
            TranscriptEntry(Speaker.CUSTOMER, "My sink is leaking — ça coule!", 2.0),
        ),
        summary="A leak; booked a visit.",
        structured_data={"booked": True, "items": [1, 2], "nested": {"a": None}},
        success=True,
        sentiment=Sentiment.POSITIVE,
        cost=CallCost("USD", {CostComponent.TRANSPORT: 12_000, CostComponent.MODEL: 3_400}),
        recording_url="https://recordings.example/abc.wav",
        feedback=CallFeedback(4, "Good call", actor.user_id, started + timedelta(minutes=10)),
    )


async def setup(storage: Storage) -> tuple[Actor, UUID]:
    """A tenant with a voice connection."""
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id, provider="fake_voice", capability=Capability.VOICE)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.integrations.add(integration)
        await uow.commit()
    return actor, integration.id


async def add_calls(storage: Storage, actor: Actor, *calls: Call) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for call in calls:
            await uow.calls.add(call)
        await uow.commit()


async def get_call(storage: Storage, actor: Actor, call_id: UUID) -> Call | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.calls.get(call_id)


async def listed(storage: Storage, actor: Actor, filters: CallFilter, limit: int = 100) -> list[UUID]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.calls.list(filters, PageRequest(limit=limit))
    return [c.id for c in page.items]


# --- storage -------------------------------------------------------------------------------------


async def test_a_call_with_every_field_set_reads_back_equal(storage: Storage):
    actor, integration_id = await setup(storage)
    call = full_call(actor, integration_id, uuid4(), uuid4())
    await add_calls(storage, actor, call)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calls.get(call.id) == call
        assert await uow.calls.get(call.id, for_update=True) == call
        assert call.duration_seconds == 95
        found = await uow.calls.find_by_provider_call_id(integration_id, call.provider_call_id or "")
        assert found == call


async def test_a_bare_call_reads_back_with_nothing_invented(storage: Storage):
    actor, integration_id = await setup(storage)
    call = make_call(actor, integration_id, provider_call_id=None, direction=CallDirection.OUTBOUND)
    await add_calls(storage, actor, call)

    stored = await get_call(storage, actor, call.id)
    assert stored == call
    assert stored is not None
    assert stored.cost is None
    assert stored.feedback is None
    assert stored.duration_seconds is None


async def test_a_provider_call_id_is_found_only_within_its_integration(storage: Storage):
    actor, integration_id = await setup(storage)
    call = make_call(actor, integration_id)
    await add_calls(storage, actor, call)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calls.find_by_provider_call_id(uuid4(), call.provider_call_id or "") is None
        assert await uow.calls.find_by_provider_call_id(integration_id, "pc_unknown") is None


async def test_a_provider_call_id_is_taken_once_per_integration(storage: Storage):
    actor, integration_id = await setup(storage)
    first = make_call(actor, integration_id, provider_call_id="pc_same")
    await add_calls(storage, actor, first)

    with pytest.raises(Conflict) as refused:
        await add_calls(storage, actor, make_call(actor, integration_id, provider_call_id="pc_same"))
    assert refused.value.code == "call_exists"
    other_integration = make_call(actor, uuid4(), provider_call_id="pc_same")
    await add_calls(storage, actor, other_integration)
    two_outbound = [make_call(actor, integration_id, provider_call_id=None) for _ in range(2)]
    await add_calls(storage, actor, *two_outbound)  # no platform id yet: no clash


async def test_add_or_lock_inserts_a_new_call_and_returns_the_stored_one_for_a_known_id(storage: Storage):
    actor, integration_id = await setup(storage)
    first = make_call(actor, integration_id, provider_call_id="pc_race")
    second = make_call(actor, integration_id, provider_call_id="pc_race", status=CallStatus.ENDED)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calls.add_or_lock(first) == first
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calls.add_or_lock(second) == first
        await uow.commit()
    assert await get_call(storage, actor, second.id) is None


async def test_an_update_with_the_current_version_is_stored_and_a_stale_one_is_not(storage: Storage):
    actor, integration_id = await setup(storage)
    call = make_call(actor, integration_id)
    await add_calls(storage, actor, call)
    changed = replace(
        call,
        status=CallStatus.IN_PROGRESS,
        started_at=utc_now(),
        cost=CallCost("EUR", {CostComponent.PLATFORM: 5}),
        version=2,
        # Identity, integration and creation time never change through an update.
        integration_id=uuid4(),
        created_at=call.created_at - timedelta(days=1),
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.calls.update(changed, expected_version=1)
        assert not await uow.calls.update(replace(changed, version=3), expected_version=1)
        await uow.commit()
    stored = await get_call(storage, actor, call.id)
    assert stored == replace(changed, integration_id=integration_id, created_at=call.created_at)


async def test_calls_list_newest_first_and_a_cursor_walks_every_one_once(storage: Storage):
    actor, integration_id = await setup(storage)
    base = utc_now()
    calls = [make_call(actor, integration_id, created_at=base - timedelta(minutes=n)) for n in range(7)]
    await add_calls(storage, actor, *calls)

    seen: list[UUID] = []
    after = None
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        while True:
            page = await uow.calls.list(CallFilter(), PageRequest(limit=3, after=after))
            seen += [c.id for c in page.items]
            if not page.has_more:
                break
            after = page.next_position
    assert seen == [c.id for c in calls]


async def test_every_filter_keeps_exactly_the_calls_that_match(storage: Storage):
    actor, integration_id = await setup(storage)
    agent_id, customer_id = uuid4(), uuid4()
    now = utc_now()
    long_done = make_call(
        actor,
        integration_id,
        status=CallStatus.ENDED,
        direction=CallDirection.OUTBOUND,
        sentiment=Sentiment.NEGATIVE,
        agent_id=agent_id,
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=2) + timedelta(seconds=300),
        created_at=now - timedelta(hours=3),
    )
    short_done = make_call(
        actor,
        integration_id,
        status=CallStatus.ENDED,
        sentiment=Sentiment.POSITIVE,
        customer_id=customer_id,
        started_at=now - timedelta(minutes=30),
        ended_at=now - timedelta(minutes=30) + timedelta(seconds=20),
        created_at=now - timedelta(minutes=31),
    )
    ringing = make_call(actor, integration_id, agent_id=agent_id, customer_id=customer_id, created_at=now)
    await add_calls(storage, actor, long_done, short_done, ringing)
    an_hour_ago = now - timedelta(hours=1)

    expectations = {
        CallFilter(status=CallStatus.ENDED): [short_done, long_done],
        CallFilter(status=CallStatus.RINGING): [ringing],
        CallFilter(direction=CallDirection.OUTBOUND): [long_done],
        CallFilter(sentiment=Sentiment.POSITIVE): [short_done],
        CallFilter(agent_id=agent_id): [ringing, long_done],
        CallFilter(customer_id=customer_id): [ringing, short_done],
        CallFilter(created_after=an_hour_ago): [ringing, short_done],
        CallFilter(created_before=an_hour_ago): [long_done],
        CallFilter(started_after=an_hour_ago): [short_done],
        CallFilter(started_before=an_hour_ago): [long_done],
        CallFilter(min_duration_seconds=60): [long_done],
        CallFilter(min_duration_seconds=20): [short_done, long_done],
        CallFilter(status=CallStatus.ENDED, customer_id=customer_id): [short_done],
        CallFilter(agent_id=uuid4()): [],
    }
    for filters, expected in expectations.items():
        assert await listed(storage, actor, filters) == [c.id for c in expected], filters


async def test_the_customers_calls_are_on_their_timeline_newest_first_after_a_position(storage: Storage):
    actor, integration_id = await setup(storage)
    customer_id = uuid4()
    base = utc_now()
    mine = [
        make_call(actor, integration_id, customer_id=customer_id, created_at=base - timedelta(minutes=n))
        for n in range(3)
    ]
    await add_calls(storage, actor, *mine, make_call(actor, integration_id, customer_id=uuid4()))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        entries = await uow.calls.timeline(customer_id, None, 10)
        later = await uow.calls.timeline(customer_id, position_of(entries[0]), 10)
    assert [e.id for e in entries] == [c.id for c in mine]
    assert {e.kind for e in entries} == {TimelineKind.CALL}
    assert entries[0].summary == "Inbound call (ringing)"
    assert entries[0].ref.object == "call"
    assert [e.id for e in later] == [c.id for c in mine[1:]]


async def test_another_tenant_neither_sees_nor_finds_a_call(storage: Storage):
    actor, integration_id = await setup(storage)
    other = await storage.new_tenant()
    call = make_call(actor, integration_id, customer_id=uuid4())
    await add_calls(storage, actor, call)

    async with storage.units(other.tenant_id, other.user_id) as uow:
        assert await uow.calls.get(call.id) is None
        assert await uow.calls.find_by_provider_call_id(integration_id, call.provider_call_id or "") is None
        assert (await uow.calls.list(CallFilter(), PageRequest())).items == []
        assert await uow.calls.timeline(call.customer_id or uuid4(), None, 10) == []
        assert not await uow.calls.update(replace(call, status=CallStatus.ENDED, version=2), 1)


async def test_a_customer_is_found_by_their_normalised_phone_earliest_first(storage: Storage):
    actor, _ = await setup(storage)
    other = await storage.new_tenant()
    first = make_customer(actor.tenant_id, phone=CALLER, created_at=utc_now() - timedelta(days=2))
    second = make_customer(actor.tenant_id, phone=CALLER)
    await storage.add_customers(actor, second, first)
    await storage.add_customers(other, make_customer(other.tenant_id, phone="+14155550999"))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (found := await uow.customers.find_by_phone(CALLER)) is not None
        assert found.id == first.id
        assert await uow.customers.find_by_phone("+14155550999") is None


# --- recording platform messages -----------------------------------------------------------------


def status(call_id: str, reported: CallStatus, **fields: Any) -> CallMessage:
    return CallMessage(CallMessageKind.STATUS, call_id, status=reported, **fields)


def end_of_call_report(call_id: str, **fields: Any) -> CallMessage:
    started = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    defaults: dict[str, Any] = dict(
        direction=CallDirection.INBOUND,
        business_number=BUSINESS,
        customer_number=CALLER,
        ended_reason="customer-ended-call",
        started_at=started,
        ended_at=started + timedelta(seconds=125),
        transcript=(
            TranscriptEntry(Speaker.AGENT, "Hello", 0.5),
            TranscriptEntry(Speaker.CUSTOMER, "Hi, I need a plumber", 1.5),
        ),
        analysis=CallAnalysis("Booked a visit", {"booked": True}, True, Sentiment.POSITIVE),
        cost=CallCost("USD", {CostComponent.TRANSPORT: 10_000, CostComponent.MODEL: 2_500}),
        recording_url="https://recordings.example/r.wav",
    )
    return CallMessage(CallMessageKind.ENDED, call_id, **(defaults | fields))


async def voice_tenant(storage: Storage) -> tuple[Actor, UUID, UUID, UUID]:
    """A tenant with a voice connection, a published agent answering BUSINESS, and a customer
    whose phone is CALLER: (actor, integration_id, agent_id, customer_id)."""
    actor, integration_id = await setup(storage)
    agent = make_agent(actor, published_version=1, provider_agent_id=f"pa_{uuid4().hex[:8]}")
    customer = make_customer(actor.tenant_id, phone=CALLER)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.voice_agents.add(agent)
        await uow.phone_numbers.upsert(make_number(actor, integration_id, BUSINESS, agent_id=agent.id))
        await uow.customers.add(customer)
        await uow.commit()
    return actor, integration_id, agent.id, customer.id


async def record(storage: Storage, actor: Actor, integration_id: UUID, message: CallMessage) -> Call:
    return await handlers.record_call_message(actor.tenant_id, integration_id, message, storage.units, CLOCK)


async def test_a_first_message_creates_an_inbound_call_matched_to_its_customer_and_agent(storage: Storage):
    actor, integration_id, agent_id, customer_id = await voice_tenant(storage)
    message = status(
        "pc_in_1",
        CallStatus.RINGING,
        direction=CallDirection.INBOUND,
        business_number="+1 555 010 0001",
        customer_number="+1 (415) 555-0123",
    )

    call = await record(storage, actor, integration_id, message)

    assert await get_call(storage, actor, call.id) == call
    assert call.direction is CallDirection.INBOUND
    assert call.status is CallStatus.RINGING
    assert call.customer_number == CALLER
    assert call.business_number == BUSINESS
    assert call.customer_id == customer_id
    assert call.agent_id == agent_id
    assert call.version == 1


async def test_a_call_is_matched_to_its_agent_by_the_platforms_agent_id(storage: Storage):
    actor, integration_id, agent_id, _ = await voice_tenant(storage)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        agent = await uow.voice_agents.get(agent_id)
    assert agent is not None
    message = CallMessage(
        CallMessageKind.STATUS,
        "pc_in_2",
        status=CallStatus.IN_PROGRESS,
        customer_number="+4420 7946 0000",
        provider_agent_id=agent.provider_agent_id,
    )

    call = await record(storage, actor, integration_id, message)

    assert call.agent_id == agent_id
    assert call.customer_id is None  # nobody has that number
    assert call.started_at is not None


async def test_a_repeated_message_changes_nothing_and_keeps_the_version(storage: Storage):
    actor, integration_id, _, _ = await voice_tenant(storage)
    report = end_of_call_report("pc_dup")

    first = await record(storage, actor, integration_id, report)
    again = await record(storage, actor, integration_id, report)

    assert again == first
    assert (await get_call(storage, actor, first.id)) == first


async def test_messages_out_of_order_end_as_the_report_says_and_never_regress(storage: Storage):
    actor, integration_id, _, customer_id = await voice_tenant(storage)
    report = end_of_call_report("pc_ooo")

    await record(storage, actor, integration_id, report)
    await record(storage, actor, integration_id, status("pc_ooo", CallStatus.IN_PROGRESS))
    late_line = CallMessage(
        CallMessageKind.TRANSCRIPT, "pc_ooo", transcript=(TranscriptEntry(Speaker.AGENT, "Late", 9.0),)
    )
    await record(storage, actor, integration_id, late_line)
    await record(storage, actor, integration_id, status("pc_ooo", CallStatus.RINGING))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        call = await uow.calls.find_by_provider_call_id(integration_id, "pc_ooo")
    assert call is not None
    assert call.status is CallStatus.ENDED
    assert call.transcript == report.transcript
    assert call.started_at == report.started_at
    assert call.ended_at == report.ended_at
    assert call.duration_seconds == 125
    assert call.cost is not None
    assert call.cost.total == 12_500
    assert call.summary == "Booked a visit"
    assert call.sentiment is Sentiment.POSITIVE
    assert call.success
    assert call.recording_url == "https://recordings.example/r.wav"
    assert call.customer_id == customer_id


async def test_live_lines_gather_in_order_and_the_report_replaces_them(storage: Storage):
    actor, integration_id, _, _ = await voice_tenant(storage)

    def line(text: str, at: float) -> CallMessage:
        return CallMessage(
            CallMessageKind.TRANSCRIPT, "pc_live", transcript=(TranscriptEntry(Speaker.CUSTOMER, text, at),)
        )

    await record(storage, actor, integration_id, line("second", 2.0))
    await record(storage, actor, integration_id, line("first", 1.0))
    live = await record(storage, actor, integration_id, line("second", 2.0))
    assert [e.text for e in live.transcript] == ["first", "second"]
    assert live.status is CallStatus.IN_PROGRESS

    ended = await record(storage, actor, integration_id, end_of_call_report("pc_live"))
    assert [e.text for e in ended.transcript] == ["Hello", "Hi, I need a plumber"]


async def test_an_outbound_call_learns_its_platform_id_from_the_metadata_it_carries(storage: Storage):
    actor, integration_id, agent_id, customer_id = await voice_tenant(storage)
    ours = make_call(
        actor,
        integration_id,
        provider_call_id=None,
        direction=CallDirection.OUTBOUND,
        status=CallStatus.QUEUED,
        agent_id=agent_id,
        customer_id=customer_id,
        customer_number=CALLER,
    )
    await add_calls(storage, actor, ours)
    message = status("pc_late", CallStatus.RINGING, metadata={SWITCHBOARD_CALL_ID: str(ours.id)})

    call = await record(storage, actor, integration_id, message)

    assert call.id == ours.id
    assert call.provider_call_id == "pc_late"
    assert call.status is CallStatus.RINGING
    assert call.direction is CallDirection.OUTBOUND
    assert call.version == 2
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (await uow.calls.list(CallFilter(), PageRequest())).items == [call]


async def test_metadata_naming_another_tenants_or_integrations_call_is_not_trusted(storage: Storage):
    actor, integration_id, _agent_id, _ = await voice_tenant(storage)
    elsewhere = make_call(actor, uuid4(), provider_call_id=None, direction=CallDirection.OUTBOUND)
    await add_calls(storage, actor, elsewhere)
    message = status("pc_meta", CallStatus.RINGING, metadata={SWITCHBOARD_CALL_ID: str(elsewhere.id)})

    call = await record(storage, actor, integration_id, message)

    assert call.id != elsewhere.id
    assert (await get_call(storage, actor, elsewhere.id)) == elsewhere


async def test_a_message_that_names_no_call_is_refused(storage: Storage):
    actor, integration_id, _, _ = await voice_tenant(storage)
    with pytest.raises(InvalidInput):
        await record(storage, actor, integration_id, status("", CallStatus.RINGING))


async def test_twenty_concurrent_deliveries_of_one_report_make_one_call_with_one_result(storage: Storage):
    actor, integration_id, _, customer_id = await voice_tenant(storage)
    report = end_of_call_report("pc_storm")

    results = await asyncio.wait_for(
        asyncio.gather(
            *(record(storage, actor, integration_id, report) for _ in range(CONCURRENT_DELIVERIES)),
            return_exceptions=True,
        ),
        timeout=120,
    )

    assert all(isinstance(r, Call) for r in results), [r for r in results if not isinstance(r, Call)]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = (await uow.calls.list(CallFilter(), PageRequest())).items
    assert len(stored) == 1
    [call] = stored
    assert {r.id for r in results if isinstance(r, Call)} == {call.id}
    assert call.status is CallStatus.ENDED
    assert call.customer_id == customer_id
    assert call.cost == report.cost
    assert call.transcript == report.transcript
    assert call.version == 1  # the first made it whole; every other found nothing to change


async def test_concurrent_status_updates_arriving_in_any_order_end_at_the_furthest(storage: Storage):
    actor, integration_id, _, _ = await voice_tenant(storage)
    order = [CallStatus.IN_PROGRESS, CallStatus.RINGING, CallStatus.FORWARDING, CallStatus.QUEUED] * 3

    await asyncio.gather(*(record(storage, actor, integration_id, status("pc_many", s)) for s in order))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        calls = (await uow.calls.list(CallFilter(), PageRequest())).items
    assert [c.status for c in calls] == [CallStatus.FORWARDING]


# --- starting and ending outbound calls ----------------------------------------------------------


async def test_an_outbound_call_is_recorded_queued_with_its_start_job(storage: Storage):
    actor, integration_id, agent_id, customer_id = await voice_tenant(storage)

    call = await handlers.start_call(
        handlers.StartCall(agent_id, customer_id=customer_id),
        owner_of(actor),
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )

    assert call.status is CallStatus.QUEUED
    assert call.integration_id == integration_id
    assert call.customer_number == CALLER
    assert call.business_number == BUSINESS
    assert await get_call(storage, actor, call.id) == call


async def test_ending_a_call_not_yet_placed_cancels_it_and_a_second_end_is_a_conflict(storage: Storage):
    actor, _, agent_id, _ = await voice_tenant(storage)
    principal = owner_of(actor)
    later = utc_now() + timedelta(days=1)
    call = await handlers.start_call(
        handlers.StartCall(agent_id, to="+14155550999", scheduled_at=later),
        principal,
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )
    assert call.status is CallStatus.SCHEDULED
    assert call.customer_id is None

    ended = await handlers.end_call(call.id, principal, storage.units(actor.tenant_id, actor.user_id), CLOCK)
    assert ended.status is CallStatus.ENDED
    assert ended.ended_reason == handlers.CANCELLED
    with pytest.raises(Conflict) as refused:
        await handlers.end_call(call.id, principal, storage.units(actor.tenant_id, actor.user_id), CLOCK)
    assert refused.value.code == "call_ended"
    assert await handlers.call_to_place(call.id, storage.units(actor.tenant_id, actor.user_id)) is None
