"""Busy times from the calendars connected to resources: the ``ports.scheduling.BusyTimes`` port.

``NoConnectedCalendars`` answers that nothing is busy. It is what the container binds when the
operator configured no calendar provider (no tenant can have connected a calendar then), and it
is also the right answer for any resource without a linked calendar.

``ConnectedCalendarBusyTimes`` asks the core (``CalendarSync``) what a resource's linked
calendar keeps busy: the external events the periodic sync recorded, plus the calendar's live
free/busy answer, less Switchboard's own events. Answers are cached briefly (``ttl_seconds``,
per tenant, resource and UTC day; a query for several days asks the provider once for each run
of days not cached), so that a slot list, the booking that follows and the move inside a
transaction mostly read the cache. A provider that cannot be reached leaves the recorded events
as the answer (logged, and not cached): a booking is then checked against what the last sync
saw rather than refused.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from switchboard.core.scheduling.calendar_model import Span, overlapping, whole_days
from switchboard.core.scheduling.calendar_sync import CalendarSync
from switchboard.ports.calendar import CalendarProviders
from switchboard.ports.persistence import UnitOfWork
from switchboard.ports.providers import ProviderError
from switchboard.ports.scheduling import BusyTimes

log = structlog.get_logger("switchboard.calendars")

DAY = timedelta(days=1)
_Key = tuple[UUID, UUID, datetime]


class NoConnectedCalendars:
    async def busy(
        self,
        tenant_id: UUID,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        within: UnitOfWork | None = None,
    ) -> list[tuple[datetime, datetime]]:
        return []


class ConnectedCalendarBusyTimes:
    """Holds only busy intervals (no tokens, no configuration), keyed by tenant."""

    def __init__(
        self,
        source: CalendarSync,
        ttl_seconds: float = 30.0,
        max_entries: int = 20_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._cache: OrderedDict[_Key, tuple[float, list[Span]]] = OrderedDict()

    async def busy(
        self,
        tenant_id: UUID,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        *,
        within: UnitOfWork | None = None,
    ) -> list[tuple[datetime, datetime]]:
        days = whole_days(start, end)
        found: dict[datetime, list[Span]] = {}
        missing: list[datetime] = []
        for day in days:
            cached = self._cached((tenant_id, resource_id, day))
            if cached is None:
                missing.append(day)
            else:
                found[day] = cached
        for run in _runs(missing):
            run_start, run_end = run[0], run[-1] + DAY
            spans, complete = await self._ask(tenant_id, resource_id, run_start, run_end, within)
            for day in run:
                found[day] = overlapping(spans, day, day + DAY)
                if complete:
                    self._remember((tenant_id, resource_id, day), found[day])
        answer = {span for day in days for span in found[day]}
        return sorted(overlapping(list(answer), start, end))

    async def _ask(
        self, tenant_id: UUID, resource_id: UUID, start: datetime, end: datetime, within: UnitOfWork | None
    ) -> tuple[list[Span], bool]:
        """The busy spans of [start, end), and whether the calendar itself answered."""
        known = await self._source.known_busy(tenant_id, resource_id, start, end, within)
        if known is None:
            return [], True
        try:
            # Inside the caller's transaction, refreshed tokens are not written back: the next
            # use outside one refreshes again.
            live = await self._source.live_busy(known, start, end, keep_tokens=within is None)
        except ProviderError as error:
            log.warning(
                "calendar_busy_unavailable",
                tenant_id=str(tenant_id),
                resource_id=str(resource_id),
                provider=known.integration.provider,
                error=str(error),
            )
            return known.recorded, False
        return known.recorded + live, True

    def _cached(self, key: _Key) -> list[Span] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, spans = entry
        if expires <= self._monotonic():
            del self._cache[key]
            return None
        return spans

    def _remember(self, key: _Key, spans: list[Span]) -> None:
        self._cache[key] = (self._monotonic() + self._ttl, spans)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)


def busy_times_for(providers: CalendarProviders, source: CalendarSync, ttl_seconds: float) -> BusyTimes:
    """The connected calendars' busy times when the operator configured a calendar provider;
    otherwise no resource can have a calendar, and nothing is busy."""
    if not providers.slugs():
        return NoConnectedCalendars()
    return ConnectedCalendarBusyTimes(source, ttl_seconds)


def _runs(days: list[datetime]) -> list[list[datetime]]:
    """Consecutive days grouped: each run is asked of the calendar in one query."""
    runs: list[list[datetime]] = []
    for day in days:
        if runs and runs[-1][-1] + DAY == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
