"""Connected-calendar repositories over the memory store, behaving as the PostgreSQL ones do.

The foreign keys are mirrored: a link needs its resource and its integration, recorded busy
times need their link; deleting a link deletes its busy times (and the scheduling and
integration repositories delete the links of a resource or an integration they delete).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped
from switchboard.adapters.memory.store import Transaction
from switchboard.core.scheduling.calendar_model import CalendarEventLink, ExternalBusy, ResourceCalendar

LINKS = "resource_calendars"
BUSY = "calendar_busy_events"
EVENTS = "calendar_event_links"


def forget_links_of_resource(tx: Transaction, tenant_id: UUID | None, resource_id: UUID) -> None:
    """ON DELETE CASCADE from resources: the resource's link and its busy times."""
    _drop_link(tx, (tenant_id, resource_id))


def forget_links_of_integration(tx: Transaction, tenant_id: UUID | None, integration_id: UUID) -> None:
    """ON DELETE CASCADE from integrations: resource links (with their busy times) and event links."""
    for key, link in list(tx.read(LINKS).items()):
        if key[0] == tenant_id and link.integration_id == integration_id:
            _drop_link(tx, key)
    for key, event in list(tx.read(EVENTS).items()):
        if key[0] == tenant_id and event.integration_id == integration_id:
            del tx.write(EVENTS)[key]


def _drop_link(tx: Transaction, key: tuple[UUID | None, UUID]) -> None:
    if key not in tx.read(LINKS):
        return
    del tx.write(LINKS)[key]
    for busy_key in [k for k in tx.read(BUSY) if k[:2] == key]:
        del tx.write(BUSY)[busy_key]


class MemoryResourceCalendarRepository(_Scoped):
    async def get(self, resource_id: UUID, *, for_update: bool = False) -> ResourceCalendar | None:
        return self._tx.read(LINKS).get((self._tenant_id, resource_id))

    async def save(self, link: ResourceCalendar) -> None:
        self._check_own_tenant(link.tenant_id)
        if (link.tenant_id, link.resource_id) not in self._tx.read("resources"):
            raise LookupError("no such resource")  # resource_calendars_resource_fkey
        if (link.tenant_id, link.integration_id) not in self._tx.read("integrations"):
            raise LookupError("no such integration")  # resource_calendars_integration_fkey
        self._tx.write(LINKS)[(link.tenant_id, link.resource_id)] = link

    async def delete(self, resource_id: UUID) -> bool:
        key = (self._tenant_id, resource_id)
        found = key in self._tx.read(LINKS)
        _drop_link(self._tx, key)
        return found


class MemoryExternalBusyRepository(_Scoped):
    async def replace(self, resource_id: UUID, busy: list[ExternalBusy]) -> None:
        for key in [k for k in self._tx.read(BUSY) if k[:2] == (self._tenant_id, resource_id)]:
            del self._tx.write(BUSY)[key]
        await self.apply(resource_id, busy, [])

    async def apply(self, resource_id: UUID, busy: list[ExternalBusy], removed: list[str]) -> None:
        for item in busy:
            self._check_own_tenant(item.tenant_id)
            if (item.tenant_id, item.resource_id) not in self._tx.read(LINKS):
                raise LookupError("no such resource calendar")  # calendar_busy_events_link_fkey
            if not item.starts_at < item.ends_at:
                raise ValueError("calendar_busy_events_times_check")
            self._tx.write(BUSY)[(item.tenant_id, item.resource_id, item.event_id)] = item
        for event_id in removed:
            self._tx.write(BUSY).pop((self._tenant_id, resource_id, event_id), None)

    async def between(self, resource_id: UUID, start: datetime, end: datetime) -> list[ExternalBusy]:
        found = [
            b
            for (tid, rid, _), b in self._tx.read(BUSY).items()
            if tid == self._tenant_id and rid == resource_id and b.ends_at > start and b.starts_at < end
        ]
        return sorted(found, key=lambda b: (b.starts_at, b.event_id))


class MemoryCalendarEventLinkRepository(_Scoped):
    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> CalendarEventLink | None:
        return self._tx.read(EVENTS).get((self._tenant_id, appointment_id))

    async def save(self, link: CalendarEventLink) -> None:
        self._check_own_tenant(link.tenant_id)
        if (link.tenant_id, link.integration_id) not in self._tx.read("integrations"):
            raise LookupError("no such integration")  # calendar_event_links_integration_fkey
        self._tx.write(EVENTS)[(link.tenant_id, link.appointment_id)] = link

    async def delete(self, appointment_id: UUID) -> bool:
        return self._tx.write(EVENTS).pop((self._tenant_id, appointment_id), None) is not None

    async def between(
        self, integration_id: UUID, calendar_id: str, start: datetime, end: datetime
    ) -> list[CalendarEventLink]:
        found = [
            e
            for (tid, _), e in self._tx.read(EVENTS).items()
            if tid == self._tenant_id
            and e.integration_id == integration_id
            and e.calendar_id == calendar_id
            and e.ends_at > start
            and e.starts_at < end
        ]
        return sorted(found, key=lambda e: (e.starts_at, e.appointment_id))
