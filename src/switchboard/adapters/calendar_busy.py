"""Busy times from the calendars connected to a resource.

The calendar plugins (Google, Outlook) are not built yet, so no resource has a connected
calendar and this, the only implementation of ``ports.scheduling.BusyTimes`` today, answers that
nothing is busy. It invents nothing: availability and bookings then rest on working hours,
overrides, buffers and the appointments stored here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID


class NoConnectedCalendars:
    async def busy(
        self, tenant_id: UUID, resource_id: UUID, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        return []
