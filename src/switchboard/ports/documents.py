"""Rendering quotes and invoices as documents people keep (PDF)."""

from __future__ import annotations

from typing import Protocol

from switchboard.core.sales.model import SalesDocument

PDF = "application/pdf"


class DocumentRenderer(Protocol):
    media_type: str

    async def render(self, document: SalesDocument) -> bytes:
        """The document as a file of ``media_type``; never blocks the event loop."""
        ...
