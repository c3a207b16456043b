"""Storage ports for payments taken and refunds given through a payments provider.

Part of the unit of work (``uow.provider_payments``, ``uow.provider_refunds``), bound to its
tenant like every other repository.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from switchboard.core.sales.provider_payments import ProviderPayment, ProviderRefund


class ProviderPaymentRepository(Protocol):
    async def add(self, link: ProviderPayment) -> None:
        """Mark a recorded payment (of the same tenant and invoice) as taken through a
        provider. Once per payment and per provider payment id: a second raises
        ``Conflict(code="already_linked")``."""
        ...

    async def get(self, payment_id: UUID) -> ProviderPayment | None:
        """The mark of the payment with this id, if it was taken through a provider."""
        ...


class ProviderRefundRepository(Protocol):
    async def add(self, refund: ProviderRefund) -> None:
        """Raises ``Conflict(code="external_id_taken")`` when another refund of the tenant has
        its ``provider_refund_id``."""
        ...

    async def get(self, refund_id: UUID) -> ProviderRefund | None: ...

    async def get_by_provider_id(self, provider_refund_id: str) -> ProviderRefund | None: ...

    async def list_for_invoice(self, invoice_id: UUID) -> list[ProviderRefund]:
        """Every refund of the invoice through its provider, oldest first."""
        ...

    async def update(self, refund: ProviderRefund, expected_version: int) -> bool:
        """Store the status, provider refund id, refund payment, failure reason, updated_at and
        version if the stored version is still ``expected_version``; False otherwise. Raises
        ``Conflict(code="external_id_taken")`` as ``add`` does."""
        ...
