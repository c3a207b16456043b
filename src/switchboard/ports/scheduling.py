"""Scheduling ports: storage of resources, overrides, appointments and feeds; calendar busy times.

The storage protocols are attributes of the unit of work (ports/persistence.py); every one of
them is confined to the unit of work's tenant, like every other repository.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.scheduling.model import (
    Appointment,
    AppointmentFilter,
    CalendarFeed,
    Resource,
    ResourceKind,
    ResourceOverride,
)

if TYPE_CHECKING:  # persistence.py imports this module
    from switchboard.ports.persistence import UnitOfWork


class ResourceRepository(Protocol):
    async def add(self, resource: Resource) -> None: ...

    async def get(self, resource_id: UUID, *, for_update: bool = False) -> Resource | None:
        """``for_update`` locks the resource until the unit of work ends: bookings on one
        resource take turns on this lock, so the overlap check that follows sees every
        appointment committed before it."""
        ...

    async def list(self, page: PageRequest, kind: ResourceKind | None = None) -> Page[Resource]:
        """Newest first."""
        ...

    async def update(self, resource: Resource, expected_version: int) -> bool:
        """Store name, kind, time_zone, buffers, working_hours, updated_at and version if the
        stored version is still ``expected_version``."""
        ...

    async def delete(self, resource_id: UUID) -> bool:
        """Its overrides and feed go with it. The storage refuses (an integrity error, never a
        silent cascade) while any appointment still names the resource: check
        ``AppointmentRepository.exists_for_resource`` first."""
        ...


class ResourceOverrideRepository(Protocol):
    async def add(self, override: ResourceOverride) -> None:
        """Raises ``Conflict(code="override_exists")`` when the resource already has one that
        day."""
        ...

    async def get(self, resource_id: UUID, day: date) -> ResourceOverride | None: ...

    async def between(self, resource_id: UUID, first: date, last: date) -> list[ResourceOverride]:
        """The resource's overrides from ``first`` to ``last``, both included, by date."""
        ...

    async def update(self, override: ResourceOverride) -> bool:
        """Store intervals, reason and updated_at; False when there is no such override."""
        ...

    async def delete(self, resource_id: UUID, day: date) -> bool: ...


class AppointmentRepository(Protocol):
    """A ``TimelineSource`` too (ports/persistence.py): appointments are about a customer."""

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's appointments as timeline entries (``timeline_entry``), placed at their
        start time, newest first, strictly after ``after``, at most ``limit``."""
        ...

    async def add(self, appointment: Appointment) -> None:
        """Raises ``Conflict(code="slot_taken")`` when its blocked range overlaps the blocked
        range of another appointment of the resource that is not cancelled. The use case checks
        first, under the resource's lock; this is the storage's own refusal behind that check
        (an exclusion constraint where PostgreSQL has btree_gist)."""
        ...

    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> Appointment | None: ...

    async def overlapping(
        self,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        exclude: UUID | None = None,
        limit: int | None = None,
    ) -> list[Appointment]:
        """The resource's appointments that are not cancelled and whose blocked range overlaps
        [start, end), but ``exclude``; by start time, at most ``limit``."""
        ...

    async def update(self, appointment: Appointment, expected_version: int) -> bool:
        """Store every field but identity and creation time if the stored version is still
        ``expected_version``; same refusal as ``add`` for the new blocked range."""
        ...

    async def delete(self, appointment_id: UUID) -> bool: ...

    async def exists_for_resource(self, resource_id: UUID) -> bool:
        """Whether any appointment, whatever its status, names the resource."""
        ...

    async def list(self, filters: AppointmentFilter, page: PageRequest) -> Page[Appointment]:
        """Newest first (by creation); ``starts_after`` and ``starts_before`` are exclusive.
        (Defined last: it shadows ``list`` in the annotations that follow it.)"""
        ...


class CalendarFeedRepository(Protocol):
    async def get(self, resource_id: UUID) -> CalendarFeed | None: ...

    async def save(self, feed: CalendarFeed) -> None:
        """Insert or replace the resource's feed: the previous token stops working."""
        ...

    async def delete(self, resource_id: UUID) -> bool: ...


class BusyTimes(Protocol):
    """When a resource is busy in the calendars connected to it (Google, Outlook, ...)."""

    async def busy(
        self,
        tenant_id: UUID,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        within: UnitOfWork | None = None,
    ) -> list[tuple[datetime, datetime]]:
        """Busy (start, end) pairs, timezone-aware, overlapping [start, end); any order.

        ``within``: the caller's open unit of work (a move asks inside its transaction). An
        implementation then reads what it stored through it, never through a second unit of
        work (the memory store's units take turns; a second one would wait for the first).
        """
        ...
