"""Messaging storage and use cases, on memory and PostgreSQL alike: messages and opt-outs round
trip, stay in their tenant, page newest first, refuse a provider id twice; a text is queued,
refused for an opted-out number, blocked at send time by an opt-out that arrived meanwhile;
inbound keywords opt numbers out and back in, once, audited. (The worker sending through the
providers is in tests/e2e/test_messages.py.)"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from switchboard.core.audit.model import AuditFilter
from switchboard.core.errors import Conflict, InvalidInput, NotFound
from switchboard.core.flags.model import FeatureDisabled, FlagOverride
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.messaging import handlers
from switchboard.core.messaging.model import (
    CustomerHasNoPhone,
    InboundMessage,
    Message,
    MessageDirection,
    MessageFilter,
    MessageStatus,
    SenderType,
    SmsOptOut,
    StatusReport,
)
from switchboard.core.pagination import PageRequest, Position
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, make_customer, utc_now

PHONE = "+14155550123"
OUR_NUMBER = "+14155550100"


class Clock:
    def __init__(self, at: datetime | None = None) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at or datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


def make_message(actor: Actor, **overrides: Any) -> Message:
    now = overrides.pop("created_at", utc_now())
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        customer_id=None,
        direction=MessageDirection.OUTBOUND,
        from_number=None,
        to_number=PHONE,
        body="Your van is on its way",
        status=MessageStatus.QUEUED,
        created_at=now,
        updated_at=now,
        provider="fake_sms",
        sender_type=SenderType.USER,
        sender_id=actor.user_id,
    )
    return Message(**(fields | overrides))


def inbound(actor: Actor, **overrides: Any) -> Message:
    fields: dict[str, Any] = dict(
        direction=MessageDirection.INBOUND,
        from_number=PHONE,
        to_number=OUR_NUMBER,
        status=MessageStatus.RECEIVED,
        provider="twilio",
        provider_message_id="SM" + uuid4().hex,
        sender_type=None,
        sender_id=None,
    )
    return make_message(actor, **(fields | overrides))


async def add_messages(storage: Storage, actor: Actor, *messages: Message) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for message in messages:
            await uow.messages.add(message)
        await uow.commit()


async def texting_tenant(storage: Storage, *, sms: bool = True, provider: bool = True) -> tuple[Actor, UUID]:
    """A tenant with the sms feature on, an SMS provider connected, and a customer with a phone."""
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, phone=PHONE)
    now = utc_now()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.customers.add(customer)
        if sms:
            await uow.flags.set_override(FlagOverride(actor.tenant_id, "sms", True, now, "test"))
        if provider:
            integration = Integration(
                uuid4(), actor.tenant_id, "fake_sms", Capability.SMS, True, b"sealed", (), now, now
            )
            await uow.integrations.add(integration)
        await uow.commit()
    return actor, customer.id


async def opt_out_by_text(
    storage: Storage, actor: Actor, word: str = "STOP", phone: str = PHONE
) -> Message | None:
    notice = InboundMessage("SM" + uuid4().hex, phone, OUR_NUMBER, word)
    return await handlers.receive_message(
        notice, "twilio", actor.tenant_id, storage.units(actor.tenant_id), CLOCK
    )


async def audit_actions(
    storage: Storage, actor: Actor, prefix: str
) -> list[tuple[str, str | None, dict[str, Any]]]:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.audit.list(AuditFilter(), PageRequest(limit=100))
    return [(e.action, e.target_id, e.changes) for e in reversed(page.items) if e.action.startswith(prefix)]


# --- storage -------------------------------------------------------------------------------------


async def test_a_message_reads_back_equal_by_id_and_by_provider_id(storage: Storage):
    actor = await storage.new_tenant()
    received = inbound(actor, customer_id=uuid4(), body="")  # a picture message has no text
    await add_messages(storage, actor, received)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.messages.get(received.id) == received
        assert await uow.messages.get_by_provider_id("twilio", received.provider_message_id or "") == received
        assert await uow.messages.get_by_provider_id("other", received.provider_message_id or "") is None


async def test_another_tenant_never_sees_a_message_or_an_opt_out(storage: Storage):
    actor, other = await storage.new_tenant(), await storage.new_tenant()
    received = inbound(actor)
    await add_messages(storage, actor, received)
    await opt_out_by_text(storage, actor)

    async with storage.units(other.tenant_id, other.user_id) as uow:
        assert await uow.messages.get(received.id) is None
        assert await uow.messages.get_by_provider_id("twilio", received.provider_message_id or "") is None
        assert (await uow.messages.list(MessageFilter(), PageRequest())).items == []
        assert await uow.sms_opt_outs.get(PHONE) is None
        assert (await uow.sms_opt_outs.list(PageRequest())).items == []


async def test_a_message_written_into_another_tenant_is_refused(storage: Storage):
    actor, other = await storage.new_tenant(), await storage.new_tenant()
    # Row-level security on PostgreSQL, the same policy in memory.
    with pytest.raises((PermissionError, psycopg.errors.InsufficientPrivilege)):
        await add_messages(storage, actor, make_message(other))
    async with storage.units(other.tenant_id) as uow:
        assert (await uow.messages.list(MessageFilter(), PageRequest())).items == []


async def test_one_provider_id_is_stored_once_per_provider(storage: Storage):
    actor = await storage.new_tenant()
    first = inbound(actor)
    await add_messages(storage, actor, first)

    with pytest.raises(Conflict) as raised:
        await add_messages(storage, actor, inbound(actor, provider_message_id=first.provider_message_id))
    assert raised.value.code == "message_exists"
    # Another provider may use the same id; another tenant too.
    await add_messages(
        storage, actor, inbound(actor, provider="other", provider_message_id=first.provider_message_id)
    )
    other = await storage.new_tenant()
    await add_messages(storage, other, inbound(other, provider_message_id=first.provider_message_id))


async def test_an_update_stores_the_outcome_only_at_the_expected_version(storage: Storage):
    actor = await storage.new_tenant()
    queued = make_message(actor)
    await add_messages(storage, actor, queued)
    later = queued.updated_at + timedelta(seconds=3)
    sent = replace(
        queued,
        status=MessageStatus.SENT,
        provider_message_id="SM1",
        from_number=OUR_NUMBER,
        error=None,
        updated_at=later,
        version=2,
        body="changed",  # never stored: a body is what was sent
    )

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.messages.update(sent, expected_version=2) is False
        assert await uow.messages.update(sent, expected_version=1) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.messages.get(queued.id) == replace(sent, body=queued.body)


async def test_messages_page_newest_first_and_filter_by_every_field(storage: Storage):
    actor = await storage.new_tenant()
    customer_id = uuid4()
    start = utc_now() - timedelta(hours=1)
    messages = [
        make_message(
            actor, customer_id=customer_id if i % 2 else None, created_at=start + timedelta(minutes=i)
        )
        for i in range(5)
    ] + [inbound(actor, customer_id=customer_id, created_at=start + timedelta(minutes=10))]
    await add_messages(storage, actor, *messages)
    newest_first = sorted(messages, key=lambda m: (m.created_at, m.id), reverse=True)

    async with storage.units(actor.tenant_id) as uow:
        first = await uow.messages.list(MessageFilter(), PageRequest(limit=4))
        assert first.items == newest_first[:4]
        rest = await uow.messages.list(MessageFilter(), PageRequest(limit=4, after=first.next_position))
        assert rest.items == newest_first[4:]
        assert rest.next_position is None

        async def ids(**filters: Any) -> list[UUID]:
            return [m.id for m in (await uow.messages.list(MessageFilter(**filters), PageRequest())).items]

        assert await ids(customer_id=customer_id) == [
            m.id for m in newest_first if m.customer_id == customer_id
        ]
        assert await ids(direction=MessageDirection.INBOUND) == [messages[-1].id]
        assert await ids(status=MessageStatus.QUEUED) == [m.id for m in newest_first[1:]]
        assert await ids(created_after=start + timedelta(minutes=3)) == [messages[5].id, messages[4].id]
        assert await ids(created_before=start + timedelta(minutes=1)) == [messages[0].id]


async def test_the_timeline_holds_the_customers_messages_newest_first_after_a_position(storage: Storage):
    actor = await storage.new_tenant()
    customer_id = uuid4()
    start = utc_now() - timedelta(hours=1)
    mine = [
        make_message(actor, customer_id=customer_id, created_at=start + timedelta(minutes=i))
        for i in range(3)
    ]
    await add_messages(storage, actor, *mine, make_message(actor, customer_id=uuid4()))

    async with storage.units(actor.tenant_id) as uow:
        entries = await uow.messages.timeline(customer_id, None, 10)
        assert [e.id for e in entries] == [m.id for m in reversed(mine)]
        after = Position(mine[2].created_at, mine[2].id)
        assert [e.id for e in await uow.messages.timeline(customer_id, after, 1)] == [mine[1].id]


async def test_a_number_opts_out_once_and_back_in(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()
    opt_out = SmsOptOut(uuid4(), actor.tenant_id, PHONE, "STOP", now, None, None)
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sms_opt_outs.add(opt_out) is True
        assert await uow.sms_opt_outs.add(replace(opt_out, id=uuid4(), keyword="QUIT")) is False
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sms_opt_outs.get(PHONE) == opt_out
        assert await uow.sms_opt_outs.remove(PHONE) == opt_out
        assert await uow.sms_opt_outs.remove(PHONE) is None
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.sms_opt_outs.get(PHONE) is None


async def test_opt_outs_page_newest_first(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    opt_outs = [
        SmsOptOut(uuid4(), actor.tenant_id, f"+1415555{i:04d}", "STOP", start + timedelta(seconds=i))
        for i in range(3)
    ]
    async with storage.units(actor.tenant_id) as uow:
        for opt_out in opt_outs:
            await uow.sms_opt_outs.add(opt_out)
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        first = await uow.sms_opt_outs.list(PageRequest(limit=2))
        assert first.items == [opt_outs[2], opt_outs[1]]
        rest = await uow.sms_opt_outs.list(PageRequest(limit=2, after=first.next_position))
        assert rest.items == [opt_outs[0]]
        assert not rest.has_more


async def test_concurrent_opt_outs_of_one_number_record_exactly_one(storage: Storage):
    actor = await storage.new_tenant()

    results = await asyncio.gather(*(opt_out_by_text(storage, actor, "STOP") for _ in range(5)))

    assert all(result is not None for result in results)  # every text is stored
    async with storage.units(actor.tenant_id) as uow:
        assert len((await uow.sms_opt_outs.list(PageRequest())).items) == 1
    assert [a for a, _, _ in await audit_actions(storage, actor, "sms.")] == ["sms.opted_out"]


# --- the use cases -------------------------------------------------------------------------------


async def test_sending_queues_the_message_with_its_outbox_job_and_an_audit_entry(storage: Storage):
    actor, customer_id = await texting_tenant(storage)

    message = await handlers.send_message(
        handlers.SendMessage(customer_id, "  See you at 3pm\r\n"),
        owner_of(actor),
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )

    assert (message.status, message.body, message.to_number) == (
        MessageStatus.QUEUED,
        "See you at 3pm",
        PHONE,
    )
    assert (message.sender_type, message.sender_id, message.provider) == (
        SenderType.USER,
        actor.user_id,
        "fake_sms",
    )
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.messages.get(message.id) == message
    [(action, target, changes)] = await audit_actions(storage, actor, "message.")
    assert (action, target) == ("message.queued", str(message.id))
    assert "See you" not in str(changes)


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        ({"sms": False}, FeatureDisabled, "feature_disabled"),
        ({"provider": False}, Conflict, "provider_not_connected"),
    ],
    ids=["sms feature off", "no provider"],
)
async def test_sending_is_refused_without_the_feature_or_a_provider_and_nothing_is_stored(
    storage: Storage, setup: dict[str, bool], error: type[Exception], code: str
):
    actor, customer_id = await texting_tenant(storage, **setup)
    with pytest.raises(error) as raised:
        await handlers.send_message(
            handlers.SendMessage(customer_id, "Hi"), owner_of(actor), storage.units(actor.tenant_id), CLOCK
        )
    assert raised.value.code == code  # type: ignore[attr-defined]
    async with storage.units(actor.tenant_id) as uow:
        assert (await uow.messages.list(MessageFilter(), PageRequest())).items == []


async def test_sending_to_a_customer_without_a_phone_another_tenants_customer_or_bad_text_is_refused(
    storage: Storage,
):
    actor, _ = await texting_tenant(storage)
    no_phone = make_customer(actor.tenant_id)
    _other, others_customer = await texting_tenant(storage)
    await storage.add_customers(actor, no_phone)
    principal, units = owner_of(actor), storage.units

    with pytest.raises(CustomerHasNoPhone):
        await handlers.send_message(
            handlers.SendMessage(no_phone.id, "Hi"), principal, units(actor.tenant_id), CLOCK
        )
    with pytest.raises(NotFound):
        await handlers.send_message(
            handlers.SendMessage(others_customer, "Hi"), principal, units(actor.tenant_id), CLOCK
        )
    with pytest.raises(InvalidInput):
        await handlers.send_message(
            handlers.SendMessage(no_phone.id, "\x07"), principal, units(actor.tenant_id), CLOCK
        )
    async with units(actor.tenant_id) as uow:
        assert (await uow.messages.list(MessageFilter(), PageRequest())).items == []


async def test_an_opted_out_number_is_refused_and_texting_start_allows_it_again(storage: Storage):
    actor, customer_id = await texting_tenant(storage)
    stop = await opt_out_by_text(storage, actor, " stop ")
    assert stop is not None
    assert stop.customer_id == customer_id

    command = handlers.SendMessage(customer_id, "Hi")
    with pytest.raises(Conflict) as raised:
        await handlers.send_message(command, owner_of(actor), storage.units(actor.tenant_id), CLOCK)
    assert raised.value.code == "recipient_opted_out"
    async with storage.units(actor.tenant_id) as uow:
        opt_out = await handlers.opt_out_of(uow, PHONE)
    assert opt_out is not None
    assert (opt_out.keyword, opt_out.customer_id, opt_out.message_id) == ("STOP", customer_id, stop.id)

    await opt_out_by_text(storage, actor, "Start")
    await handlers.send_message(command, owner_of(actor), storage.units(actor.tenant_id), CLOCK)
    assert [(a, t) for a, t, _ in await audit_actions(storage, actor, "sms.")] == [
        ("sms.opted_out", PHONE),
        ("sms.opted_in", PHONE),
    ]


async def test_an_opt_out_after_queueing_blocks_the_message_at_send_time(storage: Storage):
    actor, customer_id = await texting_tenant(storage)
    message = await handlers.send_message(
        handlers.SendMessage(customer_id, "Hi"), owner_of(actor), storage.units(actor.tenant_id), CLOCK
    )
    await opt_out_by_text(storage, actor, "UNSUBSCRIBE")

    assert await handlers.prepare_send(message.id, storage.units(actor.tenant_id), CLOCK) is None

    async with storage.units(actor.tenant_id) as uow:
        blocked = await uow.messages.get(message.id)
    assert blocked is not None
    assert (blocked.status, blocked.error, blocked.version) == (
        MessageStatus.BLOCKED,
        handlers.OPTED_OUT_ERROR,
        2,
    )
    assert [a for a, _, _ in await audit_actions(storage, actor, "message.")] == [
        "message.queued",
        "message.blocked",
    ]
    # Settled: asked again, nothing is to be sent.
    assert await handlers.prepare_send(message.id, storage.units(actor.tenant_id), CLOCK) is None


async def test_a_sent_message_moves_forward_with_status_reports_and_never_back(storage: Storage):
    actor, customer_id = await texting_tenant(storage)
    units = storage.units
    message = await handlers.send_message(
        handlers.SendMessage(customer_id, "Hi"), owner_of(actor), units(actor.tenant_id), CLOCK
    )
    outgoing = await handlers.prepare_send(message.id, units(actor.tenant_id), CLOCK)
    assert outgoing is not None
    assert outgoing.provider == "fake_sms"
    await handlers.message_sent(message.id, "fake_sms", "fake_1", units(actor.tenant_id), CLOCK)

    async def report(status: MessageStatus, error: str | None = None) -> Message | None:
        notice = StatusReport("fake_1", status, error, from_number=OUR_NUMBER)
        return await handlers.apply_status(notice, "fake_sms", units(actor.tenant_id), CLOCK)

    delivered = await report(MessageStatus.DELIVERED)
    assert delivered is not None
    assert (delivered.status, delivered.from_number, delivered.version) == (
        MessageStatus.DELIVERED,
        OUR_NUMBER,
        3,
    )
    late = await report(MessageStatus.SENT)
    failed = await report(MessageStatus.FAILED, "Twilio: undelivered, error 30003")
    assert late == failed == delivered
    assert (
        await handlers.apply_status(
            StatusReport("unknown", MessageStatus.SENT), "fake_sms", units(actor.tenant_id), CLOCK
        )
        is None
    )


async def test_an_inbound_text_is_stored_once_and_matched_to_the_customer_by_number(storage: Storage):
    actor, customer_id = await texting_tenant(storage)
    notice = InboundMessage("SM" + uuid4().hex, "+1 (415) 555-0123", OUR_NUMBER, "Running late\x00")

    stored = await handlers.receive_message(
        notice, "twilio", actor.tenant_id, storage.units(actor.tenant_id), CLOCK
    )
    again = await handlers.receive_message(
        notice, "twilio", actor.tenant_id, storage.units(actor.tenant_id), CLOCK
    )

    assert stored is not None
    assert again is None
    assert (stored.customer_id, stored.from_number, stored.body) == (customer_id, PHONE, "Running late")
    unknown = InboundMessage("SM" + uuid4().hex, "12345", OUR_NUMBER, "STOP")  # a short code
    from_short_code = await handlers.receive_message(
        unknown, "twilio", actor.tenant_id, storage.units(actor.tenant_id), CLOCK
    )
    assert from_short_code is not None
    assert (from_short_code.customer_id, from_short_code.from_number) == (None, "12345")
