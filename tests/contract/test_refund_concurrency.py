"""Payments taken and refunds given through a payments provider, on memory and PostgreSQL alike:
exactly once whatever the duplication or order of the provider's events, and never more refunded
than was captured however many refund requests race.

The provider itself is not here: the core's notices stand for what its answers and events say
(the plugins' reading of them is tested in tests/plugins, the whole chain in tests/e2e).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from switchboard.core.audit.model import AuditFilter
from switchboard.core.errors import DomainError
from switchboard.core.identity.model import Principal
from switchboard.core.pagination import PageRequest
from switchboard.core.queues.model import PermanentFailure
from switchboard.core.sales import handlers
from switchboard.core.sales.model import Invoice, InvoiceStatus, PaymentKind, PaymentMethod, SalesSettings
from switchboard.core.sales.payments import RecordRefund
from switchboard.core.sales.provider_payments import (
    PaymentSucceeded,
    ProviderRefund,
    RefundChanged,
    RefundStatus,
    RetryLater,
    apply_refund_notice,
    fail_refund,
    record_online_payment,
    request_refund,
)
from switchboard.core.sales.totals import LineInput
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, make_customer

PROVIDER = "stripe"
TOTAL = 10_000  # one line of 100.00 EUR
CONCURRENT = 20


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


@dataclass(frozen=True)
class Shop:
    storage: Storage
    actor: Actor
    invoice: Invoice

    def unit(self):  # audited as the owner
        return self.storage.units(self.actor.tenant_id, self.actor.user_id)

    def system(self):  # audited as the system, as the worker is
        return self.storage.units(self.actor.tenant_id)

    def paid(self, intent_id: str, amount: int = TOTAL, **metadata: str) -> PaymentSucceeded:
        ours = {"tenant_id": str(self.actor.tenant_id), "invoice_id": str(self.invoice.id)}
        return PaymentSucceeded(intent_id, amount, "EUR", ours | metadata)

    async def take_online(self, amount: int = TOTAL) -> tuple[str, UUID]:
        """A payment the provider took, recorded as its webhook records it."""
        intent_id = f"pi_{uuid4().hex}"
        recorded = await record_online_payment(
            self.paid(intent_id, amount), PROVIDER, self.actor.tenant_id, None, self.system(), CLOCK
        )
        assert recorded is not None
        assert recorded.created
        return intent_id, recorded.payment.id

    async def refund(self, amount: int, payment_id: UUID | None = None, **fields: object) -> object:
        command = RecordRefund(self.invoice.id, amount, payment_id, **fields)  # type: ignore[arg-type]
        return await request_refund(command, owner_of(self.actor), self.unit(), CLOCK)

    async def settle(self, refund: ProviderRefund, status: RefundStatus = RefundStatus.SUCCEEDED) -> object:
        """What the provider says of one of our refunds (its answer, or its event)."""
        notice = RefundChanged(
            f"re_{refund.id.hex}",
            refund.provider_payment_id,
            refund.amount,
            "EUR",
            status,
            {"tenant_id": str(self.actor.tenant_id), "refund_id": str(refund.id)},
        )
        return await apply_refund_notice(notice, PROVIDER, self.actor.tenant_id, self.system(), CLOCK)

    async def stored(self) -> Invoice:
        async with self.unit() as uow:
            invoice = await uow.invoices.get(self.invoice.id)
        assert invoice is not None
        return invoice

    async def refunds(self) -> list[ProviderRefund]:
        async with self.unit() as uow:
            return await uow.provider_refunds.list_for_invoice(self.invoice.id)

    async def history(self) -> list:
        async with self.unit() as uow:
            return await uow.payments.list_for_invoice(self.invoice.id)


async def open_shop(storage: Storage) -> Shop:
    actor = await storage.new_tenant()
    customer = make_customer(actor.tenant_id, name="Grace Hopper", email="grace@example.test")
    await storage.add_customers(actor, customer)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.sales_settings.save(
            SalesSettings(actor.tenant_id, currency="EUR", updated_at=CLOCK.now(), version=1),
            expected_version=0,
        )
        await uow.commit()
    owner = owner_of(actor)
    draft = await handlers.create_invoice(
        handlers.CreateInvoice(customer.id, [LineInput("Boiler service", "1", TOTAL)]),
        owner,
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )
    invoice = await handlers.issue_invoice(
        draft.id, owner, storage.units(actor.tenant_id, actor.user_id), CLOCK
    )
    return Shop(storage, actor, invoice)


async def outcome(call) -> str:
    try:
        result = await call
    except DomainError as error:
        return error.code
    return "pending" if getattr(result, "pending", None) is not None else "recorded"


# --- payments -----------------------------------------------------------------------------------


async def test_a_payment_event_delivered_10_times_concurrently_pays_the_invoice_once(storage: Storage):
    shop = await open_shop(storage)
    notice = shop.paid("pi_once")

    recorded = await asyncio.gather(
        *(
            record_online_payment(notice, PROVIDER, shop.actor.tenant_id, None, shop.system(), CLOCK)
            for _ in range(10)
        )
    )

    assert sum(1 for r in recorded if r is not None and r.created) == 1
    assert len({r.payment.id for r in recorded if r is not None}) == 1
    invoice = await shop.stored()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    [payment] = await shop.history()
    assert (payment.method, payment.external_id, payment.reference) == (
        PaymentMethod.CARD,
        "pi_once",
        PROVIDER,
    )
    async with shop.unit() as uow:
        link = await uow.provider_payments.get(payment.id)
    assert link is not None
    assert (link.provider, link.provider_payment_id, link.invoice_id) == (
        PROVIDER,
        "pi_once",
        shop.invoice.id,
    )


async def test_a_part_then_the_rest_make_the_invoice_partially_paid_then_paid(storage: Storage):
    shop = await open_shop(storage)

    await shop.take_online(4_000)
    partly = await shop.stored()
    await shop.take_online(6_000)
    paid = await shop.stored()

    assert (partly.status, partly.amount_paid) == (InvoiceStatus.PARTIALLY_PAID, 4_000)
    assert (paid.status, paid.amount_paid) == (InvoiceStatus.PAID, TOTAL)


async def test_a_payment_event_that_can_never_apply_fails_for_good_and_changes_nothing(storage: Storage):
    shop = await open_shop(storage)
    other = await storage.new_tenant()
    cases = {
        "another currency": PaymentSucceeded("pi_1", 100, "USD", shop.paid("pi_1").metadata),
        "more than is due": shop.paid("pi_2", TOTAL + 1),
        "another tenant's": shop.paid("pi_3", 100, tenant_id=str(other.tenant_id)),
        "no such invoice": shop.paid("pi_4", 100, invoice_id=str(uuid4())),
    }

    for name, notice in cases.items():
        with pytest.raises(PermanentFailure):
            await record_online_payment(notice, PROVIDER, shop.actor.tenant_id, None, shop.system(), CLOCK)
        assert await shop.history() == [], name
    not_ours = PaymentSucceeded("pi_5", 100, "EUR", {})
    assert (
        await record_online_payment(not_ours, PROVIDER, shop.actor.tenant_id, None, shop.system(), CLOCK)
        is None
    )


# --- refunds ------------------------------------------------------------------------------------


async def test_20_concurrent_refunds_of_30_percent_each_reserve_3_and_never_refund_more_than_captured(
    storage: Storage,
):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    share = TOTAL * 30 // 100

    outcomes = await asyncio.gather(*(outcome(shop.refund(share, payment_id)) for _ in range(CONCURRENT)))

    assert sorted(outcomes) == ["pending"] * 3 + ["refund_exceeds_payment"] * (CONCURRENT - 3)
    reserved = await shop.refunds()
    assert [r.status for r in reserved] == [RefundStatus.PENDING] * 3
    # The provider settles each, by its answer and by its event: recorded once each.
    for refund in reserved:
        await asyncio.gather(shop.settle(refund), shop.settle(refund))
    invoice = await shop.stored()
    assert (invoice.amount_paid, invoice.amount_refunded) == (TOTAL - 3 * share, 3 * share)
    assert invoice.amount_refunded <= TOTAL
    refunds = [p for p in await shop.history() if p.kind is PaymentKind.REFUND]
    assert sorted(p.external_id for p in refunds) == sorted(f"re_{r.id.hex}" for r in reserved)
    assert all(p.refunded_payment_id == payment_id and p.method is PaymentMethod.CARD for p in refunds)
    assert [r.status for r in await shop.refunds()] == [RefundStatus.SUCCEEDED] * 3
    # What is left of the payment (10.00) can still be refunded, and not a cent more.
    assert await outcome(shop.refund(TOTAL - 3 * share + 1, payment_id)) == "refund_exceeds_payment"
    assert await outcome(shop.refund(TOTAL - 3 * share, payment_id)) == "pending"


async def test_a_reserved_refund_is_audited_and_settles_into_a_recorded_refund_audited_too(
    storage: Storage,
):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()

    pending = (await shop.refund(2_500, payment_id, reason="Arrived late")).pending  # type: ignore[attr-defined]
    await shop.settle(pending)

    assert (pending.amount, pending.reason, pending.status) == (2_500, "Arrived late", RefundStatus.PENDING)
    async with shop.unit() as uow:
        audited = await uow.audit.list(AuditFilter(target_id=str(pending.id)), PageRequest(limit=10))
    assert [e.action for e in reversed(audited.items)] == ["refund.requested", "refund.succeeded"]
    [refund] = [p for p in await shop.history() if p.kind is PaymentKind.REFUND]
    assert refund.reason == "Arrived late"


async def test_a_refund_the_provider_refuses_releases_its_reservation(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    first = (await shop.refund(TOTAL, payment_id)).pending  # type: ignore[attr-defined]
    assert await outcome(shop.refund(1, payment_id)) == "refund_exceeds_payment"

    failed = await fail_refund(first.id, "stripe: charge disputed", shop.system(), CLOCK)
    again = await fail_refund(first.id, "twice", shop.system(), CLOCK)

    assert failed is not None
    assert (failed.status, failed.failure_reason) == (RefundStatus.FAILED, "stripe: charge disputed")
    assert again == failed  # settled once
    assert await outcome(shop.refund(TOTAL, payment_id)) == "pending"
    assert (await shop.stored()).amount_refunded == 0


async def test_a_refund_event_before_its_payment_is_retried_until_the_payment_is_recorded_then_applies_once(
    storage: Storage,
):
    shop = await open_shop(storage)
    intent_id = f"pi_{uuid4().hex}"
    made_in_dashboard = RefundChanged("re_dashboard", intent_id, 3_000, "EUR", RefundStatus.SUCCEEDED, {})

    with pytest.raises(RetryLater):
        await apply_refund_notice(made_in_dashboard, PROVIDER, shop.actor.tenant_id, shop.system(), CLOCK)
    await record_online_payment(
        shop.paid(intent_id), PROVIDER, shop.actor.tenant_id, None, shop.system(), CLOCK
    )
    first = await apply_refund_notice(made_in_dashboard, PROVIDER, shop.actor.tenant_id, shop.system(), CLOCK)
    repeat = await apply_refund_notice(
        made_in_dashboard, PROVIDER, shop.actor.tenant_id, shop.system(), CLOCK
    )

    assert first.created  # type: ignore[union-attr]
    assert not repeat.created  # type: ignore[union-attr]
    invoice = await shop.stored()
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == (
        InvoiceStatus.PARTIALLY_PAID,
        TOTAL - 3_000,
        3_000,
    )


async def test_a_pending_then_failed_refund_event_notes_the_provider_id_then_releases_the_amount(
    storage: Storage,
):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    refund = (await shop.refund(4_000, payment_id)).pending  # type: ignore[attr-defined]

    await shop.settle(refund, RefundStatus.PENDING)
    noted = (await shop.refunds())[0]
    await shop.settle(refund, RefundStatus.FAILED)
    failed = (await shop.refunds())[0]

    assert (noted.status, noted.provider_refund_id) == (RefundStatus.PENDING, f"re_{refund.id.hex}")
    assert failed.status is RefundStatus.FAILED
    assert (await shop.stored()).amount_refunded == 0


async def test_a_manual_refund_leaves_room_for_the_refunds_in_flight(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    await shop.refund(7_000, payment_id)

    too_much = await outcome(shop.refund(3_001, method=PaymentMethod.CASH))
    enough = await outcome(shop.refund(3_000, method=PaymentMethod.CASH))

    assert (too_much, enough) == ("refund_exceeds_paid", "recorded")


async def test_a_provider_refund_takes_no_method_external_id_or_time_the_provider_sets_them(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()

    with pytest.raises(DomainError) as raised:
        await shop.refund(100, payment_id, external_id="re_mine")

    assert raised.value.code == "validation_error"
    assert await shop.refunds() == []


async def test_another_tenant_sees_none_of_the_provider_payments_and_refunds(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    refund = (await shop.refund(1_000, payment_id)).pending  # type: ignore[attr-defined]
    other = await storage.new_tenant()

    async with storage.units(other.tenant_id, other.user_id) as uow:
        assert await uow.provider_payments.get(payment_id) is None
        assert await uow.provider_refunds.get(refund.id) is None
        assert await uow.provider_refunds.get_by_provider_id(f"re_{refund.id.hex}") is None
        assert await uow.provider_refunds.list_for_invoice(shop.invoice.id) == []


# --- the repositories ---------------------------------------------------------------------------


async def test_a_payment_is_marked_as_taken_through_a_provider_once(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()

    async with shop.unit() as uow:
        link = await uow.provider_payments.get(payment_id)
        assert link is not None
        with pytest.raises(DomainError) as again:
            await uow.provider_payments.add(link)
        with pytest.raises(DomainError) as same_intent:
            await uow.provider_payments.add(replace(link, payment_id=uuid4()))

    assert (again.value.code, same_intent.value.code) == ("already_linked", "already_linked")


async def test_a_refund_is_stored_with_a_unique_provider_id_and_updated_only_at_its_version(storage: Storage):
    shop = await open_shop(storage)
    _, payment_id = await shop.take_online()
    first = (await shop.refund(1_000, payment_id)).pending  # type: ignore[attr-defined]
    second = (await shop.refund(1_000, payment_id)).pending  # type: ignore[attr-defined]

    async with shop.unit() as uow:
        noted = replace(first, provider_refund_id="re_shared", version=2)
        assert await uow.provider_refunds.update(noted, expected_version=1) is True
        assert await uow.provider_refunds.update(replace(noted, version=3), expected_version=1) is False
        with pytest.raises(DomainError) as taken:
            await uow.provider_refunds.update(replace(second, provider_refund_id="re_shared", version=2), 1)
        assert await uow.provider_refunds.get_by_provider_id("re_shared") == noted

    assert taken.value.code == "external_id_taken"
