"""Payments taken and refunds given through a payments provider, on PostgreSQL."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import bindparam, insert, select, update

from switchboard.adapters.postgres.repositories import Row, this_row
from switchboard.adapters.postgres.sales import _SalesRepository
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import provider_payments, provider_refunds
from switchboard.core.errors import Conflict
from switchboard.core.sales.provider_payments import ProviderPayment, ProviderRefund, RefundStatus

_TENANT = provider_payments.c.tenant_id == bindparam("tenant_id")
_LINK_INSERT = compile_sql(insert(provider_payments))
_LINK_GET = compile_sql(
    select(provider_payments).where(_TENANT, provider_payments.c.payment_id == bindparam("payment_id"))
)

_THIS_REFUND = this_row(provider_refunds)
_REFUND_INSERT = compile_sql(insert(provider_refunds))
_REFUND_GET = compile_sql(select(provider_refunds).where(_THIS_REFUND))
_REFUND_BY_PROVIDER_ID = compile_sql(
    select(provider_refunds).where(
        provider_refunds.c.tenant_id == bindparam("tenant_id"),
        provider_refunds.c.provider_refund_id == bindparam("provider_refund_id"),
    )
)
_REFUNDS_OF_INVOICE = compile_sql(
    select(provider_refunds)
    .where(
        provider_refunds.c.tenant_id == bindparam("tenant_id"),
        provider_refunds.c.invoice_id == bindparam("invoice_id"),
    )
    .order_by(provider_refunds.c.created_at, provider_refunds.c.id)
)
_REFUND_UPDATE = compile_sql(
    update(provider_refunds)
    .where(_THIS_REFUND, provider_refunds.c.version == bindparam("expected_version"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "provider_refund_id",
                "refund_payment_id",
                "failure_reason",
                "updated_at",
                "version",
            )
        }
    )
)

_LINKED_TWICE = "this payment is already marked as taken through a provider"
_REFUND_ID_TAKEN = "another refund of this tenant has this provider refund id"


def _refund_values(refund: ProviderRefund) -> Row:
    return {
        "tenant_id": refund.tenant_id,
        "id": refund.id,
        "invoice_id": refund.invoice_id,
        "payment_id": refund.payment_id,
        "provider": refund.provider,
        "provider_payment_id": refund.provider_payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "status": refund.status.value,
        "provider_refund_id": refund.provider_refund_id,
        "refund_payment_id": refund.refund_payment_id,
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "version": refund.version,
    }


def _refund(row: Row) -> ProviderRefund:
    return ProviderRefund(**(row | {"status": RefundStatus(row["status"])}))


class PostgresProviderPaymentRepository(_SalesRepository):
    async def add(self, link: ProviderPayment) -> None:
        conflict = Conflict(_LINKED_TWICE, code="already_linked")
        conflicts = {
            "provider_payments_pkey": conflict,
            "provider_payments_provider_payment_id_key": conflict,
        }
        values: Row = {
            "tenant_id": link.tenant_id,
            "payment_id": link.payment_id,
            "invoice_id": link.invoice_id,
            "provider": link.provider,
            "provider_payment_id": link.provider_payment_id,
            "created_at": link.created_at,
        }
        await self._write(_LINK_INSERT, values, conflicts)

    async def get(self, payment_id: UUID) -> ProviderPayment | None:
        row = await self._one(_LINK_GET, {"tenant_id": self._tenant_id, "payment_id": payment_id})
        return ProviderPayment(**row) if row else None


_REFUND_CONFLICTS = {
    "provider_refunds_provider_refund_id_key": Conflict(_REFUND_ID_TAKEN, code="external_id_taken")
}


class PostgresProviderRefundRepository(_SalesRepository):
    async def add(self, refund: ProviderRefund) -> None:
        await self._write(_REFUND_INSERT, _refund_values(refund), _REFUND_CONFLICTS)

    async def get(self, refund_id: UUID) -> ProviderRefund | None:
        row = await self._one(_REFUND_GET, {"tenant_id": self._tenant_id, "id": refund_id})
        return _refund(row) if row else None

    async def get_by_provider_id(self, provider_refund_id: str) -> ProviderRefund | None:
        params = {"tenant_id": self._tenant_id, "provider_refund_id": provider_refund_id}
        row = await self._one(_REFUND_BY_PROVIDER_ID, params)
        return _refund(row) if row else None

    async def list_for_invoice(self, invoice_id: UUID) -> list[ProviderRefund]:
        rows = await self._all(_REFUNDS_OF_INVOICE, {"tenant_id": self._tenant_id, "invoice_id": invoice_id})
        return [_refund(row) for row in rows]

    async def update(self, refund: ProviderRefund, expected_version: int) -> bool:
        params = _refund_values(refund) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        return await self._write(_REFUND_UPDATE, params, _REFUND_CONFLICTS) == 1


__all__ = ["PostgresProviderPaymentRepository", "PostgresProviderRefundRepository"]
