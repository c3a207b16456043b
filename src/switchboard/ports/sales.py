"""Storage ports for quotes, invoices, payments, sales settings and document counters.

Part of the unit of work (``uow.quotes``, ``uow.invoices``, ...), bound to its tenant like every
other repository.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.sales.model import (
    CounterKind,
    Invoice,
    InvoiceFilter,
    Payment,
    Quote,
    QuoteFilter,
    SalesSettings,
)


class SalesSettingsRepository(Protocol):
    async def get(self) -> SalesSettings | None:
        """The tenant's saved settings; None until first saved (the defaults apply)."""
        ...

    async def save(self, settings: SalesSettings, expected_version: int) -> bool:
        """Insert (``expected_version`` 0) or update the settings if the stored version is
        still ``expected_version``; False otherwise, and nothing is written."""
        ...


class SalesCounterRepository(Protocol):
    async def next_value(self, kind: CounterKind, period: str) -> int:
        """Add one to the tenant's counter for (kind, period), made at 0 if missing, and
        return the new value.

        The counter stays locked until the unit of work ends: a concurrent caller waits, then
        counts on from the committed value. A unit that rolls back gives its value back, so
        the values committed are consecutive.
        """
        ...


class QuoteRepository(Protocol):
    async def add(self, quote: Quote) -> None:
        """Raises ``Conflict(code="number_taken")`` when the tenant already has its number."""
        ...

    async def get(self, quote_id: UUID, *, for_update: bool = False) -> Quote | None:
        """``for_update`` locks the quote until the unit of work ends."""
        ...

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's quotes as timeline entries (one per quote, at its creation), newest
        first, as ``ports.persistence.TimelineSource`` describes."""
        ...

    async def list(self, page: PageRequest, filters: QuoteFilter) -> Page[Quote]:
        """Newest first."""
        ...

    async def update(self, quote: Quote, expected_version: int) -> bool:
        """Store everything but identity, number, currency and creation time, if the stored
        version is still ``expected_version``."""
        ...

    async def delete(self, quote_id: UUID) -> bool: ...


class InvoiceRepository(Protocol):
    async def add(self, invoice: Invoice) -> None:
        """Raises ``Conflict(code="already_converted")`` when an invoice of the tenant was
        already made from ``invoice.quote_id``: a quote converts once, even concurrently."""
        ...

    async def get(self, invoice_id: UUID, *, for_update: bool = False) -> Invoice | None:
        """``for_update`` locks the invoice until the unit of work ends: payments, refunds and
        issuing take this lock first, so they run one at a time per invoice."""
        ...

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's invoices as timeline entries (one per invoice, at its creation), newest
        first, as ``ports.persistence.TimelineSource`` describes."""
        ...

    async def list(self, page: PageRequest, filters: InvoiceFilter) -> Page[Invoice]:
        """Newest first."""
        ...

    async def update(self, invoice: Invoice, expected_version: int) -> bool:
        """Store everything but identity, currency, quote and creation time, if the stored
        version is still ``expected_version``. Raises ``Conflict(code="number_taken")`` when
        another invoice of the tenant has ``invoice.number``."""
        ...

    async def delete(self, invoice_id: UUID) -> bool: ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None:
        """Append a payment or refund; never changed afterwards. Raises
        ``Conflict(code="external_id_taken")`` when the tenant already has one with its
        ``external_id`` (concurrent duplicates store exactly one)."""
        ...

    async def get(self, payment_id: UUID) -> Payment | None: ...

    async def get_by_external_id(self, external_id: str) -> Payment | None: ...

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's payments and refunds as timeline entries (one per payment or refund,
        at its creation), newest first, as ``ports.persistence.TimelineSource`` describes."""
        ...

    async def list_for_invoice(self, invoice_id: UUID) -> list[Payment]:
        """Every payment and refund of the invoice, oldest first."""
        ...
