"""Payments taken and refunds given through a payments provider, over the memory store, with the
checks the PostgreSQL schema makes (keys, foreign keys, unique provider ids, status rules)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped
from switchboard.core.errors import Conflict
from switchboard.core.sales.provider_payments import ProviderPayment, ProviderRefund, RefundStatus

_LINKED_TWICE = "this payment is already marked as taken through a provider"
_REFUND_ID_TAKEN = "another refund of this tenant has this provider refund id"


class MemoryProviderPaymentRepository(_Scoped):
    async def add(self, link: ProviderPayment) -> None:
        self._check_own_tenant(link.tenant_id)
        # As PostgreSQL: unique keys refuse at once, foreign keys at the end of the statement.
        same = [
            other
            for other in self._own()
            if other.payment_id == link.payment_id
            or (other.provider, other.provider_payment_id) == (link.provider, link.provider_payment_id)
        ]
        if same:
            raise Conflict(_LINKED_TWICE, code="already_linked")
        if (link.tenant_id, link.payment_id) not in self._tx.read("payments"):
            raise LookupError("provider_payments_payment_fkey: no such payment")
        if (link.tenant_id, link.invoice_id) not in self._tx.read("invoices"):
            raise LookupError("provider_payments_invoice_fkey: no such invoice")
        self._tx.insert("provider_payments", (link.tenant_id, link.payment_id), link)

    async def get(self, payment_id: UUID) -> ProviderPayment | None:
        found: ProviderPayment | None = self._tx.read("provider_payments").get((self._tenant_id, payment_id))
        return found

    def _own(self) -> list[ProviderPayment]:
        return [p for (tid, _), p in self._tx.read("provider_payments").items() if tid == self._tenant_id]


class MemoryProviderRefundRepository(_Scoped):
    async def add(self, refund: ProviderRefund) -> None:
        self._check_own_tenant(refund.tenant_id)
        self._check(refund)
        if (refund.tenant_id, refund.invoice_id) not in self._tx.read("invoices"):
            raise LookupError("provider_refunds_invoice_fkey: no such invoice")
        self._tx.insert("provider_refunds", (refund.tenant_id, refund.id), refund)

    async def get(self, refund_id: UUID) -> ProviderRefund | None:
        found: ProviderRefund | None = self._tx.read("provider_refunds").get((self._tenant_id, refund_id))
        return found

    async def get_by_provider_id(self, provider_refund_id: str) -> ProviderRefund | None:
        return next((r for r in self._own() if r.provider_refund_id == provider_refund_id), None)

    async def list_for_invoice(self, invoice_id: UUID) -> list[ProviderRefund]:
        rows = [r for r in self._own() if r.invoice_id == invoice_id]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def update(self, refund: ProviderRefund, expected_version: int) -> bool:
        current = await self.get(refund.id)
        if current is None or current.version != expected_version:
            return False
        stored = replace(
            current,
            status=refund.status,
            provider_refund_id=refund.provider_refund_id,
            refund_payment_id=refund.refund_payment_id,
            failure_reason=refund.failure_reason,
            updated_at=refund.updated_at,
            version=refund.version,
        )
        self._check(stored)
        self._tx.write("provider_refunds")[(current.tenant_id, current.id)] = stored
        return True

    def _check(self, refund: ProviderRefund) -> None:
        """The table's checks, its unique provider id, then its foreign keys, as PostgreSQL
        checks them."""
        if refund.amount <= 0:
            raise ValueError("provider_refunds_amount_check: amount must be positive")
        if (refund.status is RefundStatus.SUCCEEDED) != (refund.refund_payment_id is not None):
            raise ValueError("provider_refunds_settled_check: succeeded exactly when recorded")
        if refund.provider_refund_id is not None and any(
            other.provider_refund_id == refund.provider_refund_id and other.id != refund.id
            for other in self._own()
        ):
            raise Conflict(_REFUND_ID_TAKEN, code="external_id_taken")
        payments = self._tx.read("payments")
        for payment_id in (refund.payment_id, refund.refund_payment_id):
            if payment_id is not None and (refund.tenant_id, payment_id) not in payments:
                raise LookupError("provider_refunds_payment_fkey: no such payment")

    def _own(self) -> list[ProviderRefund]:
        return [r for (tid, _), r in self._tx.read("provider_refunds").items() if tid == self._tenant_id]
