"""Scheduling repositories over the memory store, behaving as the PostgreSQL ones do.

Units of work never overlap in memory (the store's lock serialises them), so a booking's check
and insert cannot interleave with another's. ``add`` and ``update`` also refuse an overlapping
appointment on their own, as the exclusion constraint does where PostgreSQL has it, and the
foreign keys are mirrored: an override, feed or appointment needs its resource; a resource that
appointments name is not deleted; its overrides and feed go with it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from switchboard.adapters.memory.calendars import forget_links_of_resource
from switchboard.adapters.memory.repositories import _keyset_page, _Scoped, newest_first
from switchboard.core.customers.timeline import TimelineEntry, newest_after
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position
from switchboard.core.scheduling.model import (
    Appointment,
    AppointmentFilter,
    AppointmentStatus,
    CalendarFeed,
    Resource,
    ResourceKind,
    ResourceOverride,
    slot_taken,
    timeline_entry,
)


class _Scheduling(_Scoped):
    def _check_resource(self, resource_id: UUID) -> None:
        """What the (tenant_id, resource_id) foreign keys refuse on PostgreSQL."""
        if (self._tenant_id, resource_id) not in self._tx.read("resources"):
            raise LookupError("no such resource")

    def _naming(self, table: str, resource_id: UUID) -> list[tuple[UUID, ...]]:
        """The keys of the tenant's rows of ``table`` that name the resource."""
        return [
            key
            for key, row in self._tx.read(table).items()
            if key[0] == self._tenant_id and row.resource_id == resource_id
        ]


class MemoryResourceRepository(_Scheduling):
    async def add(self, resource: Resource) -> None:
        self._check_own_tenant(resource.tenant_id)
        self._tx.insert("resources", (resource.tenant_id, resource.id), resource)

    async def get(self, resource_id: UUID, *, for_update: bool = False) -> Resource | None:
        # No lock needed: units of work never overlap in memory.
        return self._tx.read("resources").get((self._tenant_id, resource_id))

    async def list(self, page: PageRequest, kind: ResourceKind | None = None) -> Page[Resource]:
        own = [r for (tid, _), r in self._tx.read("resources").items() if tid == self._tenant_id]
        return newest_first([r for r in own if kind is None or r.kind == kind], page)

    async def update(self, resource: Resource, expected_version: int) -> bool:
        current = await self.get(resource.id)
        if current is None or current.version != expected_version:
            return False
        self._tx.write("resources")[(self._tenant_id, resource.id)] = replace(
            resource, tenant_id=current.tenant_id, id=current.id, created_at=current.created_at
        )
        return True

    async def delete(self, resource_id: UUID) -> bool:
        key = (self._tenant_id, resource_id)
        if key not in self._tx.read("resources"):
            return False
        if self._naming("appointments", resource_id):
            # What appointments_resource_fkey refuses on PostgreSQL.
            raise ValueError("appointments still name this resource")
        del self._tx.write("resources")[key]
        for table in ("resource_overrides", "calendar_feeds"):  # ON DELETE CASCADE
            for doomed in self._naming(table, resource_id):
                del self._tx.write(table)[doomed]
        forget_links_of_resource(self._tx, self._tenant_id, resource_id)  # ON DELETE CASCADE
        return True


class MemoryResourceOverrideRepository(_Scheduling):
    async def add(self, override: ResourceOverride) -> None:
        self._check_own_tenant(override.tenant_id)
        self._check_resource(override.resource_id)
        key = (override.tenant_id, override.resource_id, override.day)
        if key in self._tx.read("resource_overrides"):
            raise Conflict("the resource already has an override on this date", code="override_exists")
        self._tx.insert("resource_overrides", key, override)

    async def get(self, resource_id: UUID, day: date) -> ResourceOverride | None:
        return self._tx.read("resource_overrides").get((self._tenant_id, resource_id, day))

    async def between(self, resource_id: UUID, first: date, last: date) -> list[ResourceOverride]:
        found = [
            o
            for (tid, rid, day), o in self._tx.read("resource_overrides").items()
            if tid == self._tenant_id and rid == resource_id and first <= day <= last
        ]
        return sorted(found, key=lambda o: o.day)

    async def update(self, override: ResourceOverride) -> bool:
        key = (self._tenant_id, override.resource_id, override.day)
        current = self._tx.read("resource_overrides").get(key)
        if current is None:
            return False
        self._tx.write("resource_overrides")[key] = replace(
            current, intervals=override.intervals, reason=override.reason, updated_at=override.updated_at
        )
        return True

    async def delete(self, resource_id: UUID, day: date) -> bool:
        return self._tx.write("resource_overrides").pop((self._tenant_id, resource_id, day), None) is not None


class MemoryAppointmentRepository(_Scheduling):
    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        entries = [timeline_entry(a) for a in self._own() if a.customer_id == customer_id]
        return newest_after(entries, after, limit)

    async def add(self, appointment: Appointment) -> None:
        self._check_own_tenant(appointment.tenant_id)
        self._check_resource(appointment.resource_id)
        self._refuse_overlap(appointment)
        self._tx.insert("appointments", (appointment.tenant_id, appointment.id), appointment)

    async def get(self, appointment_id: UUID, *, for_update: bool = False) -> Appointment | None:
        return self._tx.read("appointments").get((self._tenant_id, appointment_id))

    async def list(self, filters: AppointmentFilter, page: PageRequest) -> Page[Appointment]:
        return _keyset_page(
            [a for a in self._own() if _matches(a, filters)], page, lambda a: Position(a.created_at, a.id)
        )

    async def overlapping(
        self,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        exclude: UUID | None = None,
        limit: int | None = None,
    ) -> list[Appointment]:
        found = sorted(
            (
                a
                for a in self._own()
                if a.resource_id == resource_id
                and a.id != exclude
                and a.status != AppointmentStatus.CANCELLED
                and a.blocked_from < end
                and start < a.blocked_until
            ),
            key=lambda a: (a.starts_at, a.id),
        )
        return found if limit is None else found[:limit]

    async def update(self, appointment: Appointment, expected_version: int) -> bool:
        current = await self.get(appointment.id)
        if current is None or current.version != expected_version:
            return False
        updated = replace(
            appointment, tenant_id=current.tenant_id, id=current.id, created_at=current.created_at
        )
        self._check_resource(updated.resource_id)
        self._refuse_overlap(updated)
        self._tx.write("appointments")[(self._tenant_id, appointment.id)] = updated
        return True

    async def delete(self, appointment_id: UUID) -> bool:
        return self._tx.write("appointments").pop((self._tenant_id, appointment_id), None) is not None

    async def exists_for_resource(self, resource_id: UUID) -> bool:
        return any(a.resource_id == resource_id for a in self._own())

    def _own(self) -> list[Appointment]:
        return [a for (tid, _), a in self._tx.read("appointments").items() if tid == self._tenant_id]

    def _refuse_overlap(self, appointment: Appointment) -> None:
        """What the exclusion constraint appointments_no_overlap refuses on PostgreSQL."""
        if appointment.status == AppointmentStatus.CANCELLED:
            return
        for other in self._own():
            if (
                other.id != appointment.id
                and other.resource_id == appointment.resource_id
                and other.status != AppointmentStatus.CANCELLED
                and other.blocked_from < appointment.blocked_until
                and appointment.blocked_from < other.blocked_until
            ):
                raise slot_taken()


def _matches(appointment: Appointment, filters: AppointmentFilter) -> bool:
    return (
        (filters.resource_id is None or appointment.resource_id == filters.resource_id)
        and (filters.customer_id is None or appointment.customer_id == filters.customer_id)
        and (filters.status is None or appointment.status == filters.status)
        and (filters.starts_after is None or appointment.starts_at > filters.starts_after)
        and (filters.starts_before is None or appointment.starts_at < filters.starts_before)
    )


class MemoryCalendarFeedRepository(_Scheduling):
    async def get(self, resource_id: UUID) -> CalendarFeed | None:
        return self._tx.read("calendar_feeds").get((self._tenant_id, resource_id))

    async def save(self, feed: CalendarFeed) -> None:
        self._check_own_tenant(feed.tenant_id)
        self._check_resource(feed.resource_id)
        self._tx.write("calendar_feeds")[(feed.tenant_id, feed.resource_id)] = feed

    async def delete(self, resource_id: UUID) -> bool:
        return self._tx.write("calendar_feeds").pop((self._tenant_id, resource_id), None) is not None
