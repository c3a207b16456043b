"""Connected calendars: connecting an account, linking resources, pushing bookings, syncing back.

- **Connecting** (``start_connection``, ``finish_connection``): OAuth 2 authorization code flow
  with PKCE. The ``state`` sent to the provider is a signed, expiring envelope
  (``AccessTokens.issue_state``) naming the tenant and who started (a user, an impersonating
  admin, or an API key) and holding the PKCE verifier sealed by the secret box; the callback
  needs nothing else, checks that whoever started may still connect providers, trades the code
  for tokens and stores them sealed in the tenant's ``calendar`` integration.
- **Linking** a resource to a calendar of that account (``link_calendar``) starts its periodic
  sync and pushes its upcoming appointments.
- **Pushing** (``CalendarSync.push_appointment``, outbox kind ``calendar.sync_appointment``):
  every booking change queues a job in the booking's own transaction; the job makes the
  calendar show what the appointment is now (create, patch or delete its event), so jobs may
  run twice, late or out of order.
- **Syncing back** (``CalendarSync.sync_calendar``, outbox kind ``calendar.sync``): each linked
  resource has one current sync job; it reads the calendar's changes since its sync token,
  records the external busy events, and queues the next run ``sync_every`` later.
- **Busy times** (``known_busy`` and ``live_busy``, combined and cached by
  ``adapters/calendar_busy.py``): the recorded external events, plus a live free/busy query,
  less Switchboard's own events.

Expired access tokens are refreshed by the provider's adapter; the new tokens are sealed back
into the integration after each use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.audit.model import SYSTEM
from switchboard.core.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.identity.handlers import member_principal
from switchboard.core.identity.model import Client, Principal
from switchboard.core.identity.sessions import context_of
from switchboard.core.integrations.handlers import IntegrationView, open_config, view_of
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.queues.model import OutboxMessage, PermanentFailure, new_outbox_message
from switchboard.core.scheduling.calendar_model import (
    TOKEN_FIELDS,
    CalendarEvent,
    CalendarEventLink,
    CalendarTokens,
    EventGone,
    ExternalBusy,
    ExternalEvent,
    ResourceCalendar,
    Span,
    SyncTokenExpired,
    clean_calendar_id,
    event_span,
    newer_tokens,
    overlapping,
    subtract,
    tokens_config,
    tokens_fields,
    tokens_from_config,
)
from switchboard.core.scheduling.model import Appointment, AppointmentStatus, Resource, zone
from switchboard.core.tenancy.model import TenantStatus
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.calendar import CalendarPort, CalendarProviders
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
    from switchboard.ports.providers import SecretBox
    from switchboard.ports.security import AccessTokens

PUSH_JOB = "calendar.sync_appointment"
SYNC_JOB = "calendar.sync"
STATE_PURPOSE = "calendar_connection"
STATE_SECONDS = 600
SYNC_PAST = timedelta(days=1)  # how far back the sync records busy events
SYNC_AHEAD = timedelta(days=366)  # and how far ahead
SYNC_MAX_ATTEMPTS = 20  # a sync that fails keeps trying for about a day, then stops
PUSH_ROUNDS = 3  # how often one push follows an appointment that changes meanwhile
LINK_PUSH_LIMIT = 500  # upcoming appointments pushed when a resource is linked or unlinked
LINK_PUSH_AHEAD = timedelta(days=366)
SUMMARY_MAX = 200
CONNECTION_NOT_FOUND = "no calendar provider {slug!r} is configured on this server"
LINK_NOT_FOUND = "this resource is not linked to a calendar"
NOT_CONNECTED = "no calendar account is connected: connect one with POST /v1/calendar-connections"


@dataclass(frozen=True)
class CalendarConnections:
    """The ports that connecting a calendar account needs, bundled once by the container."""

    units: UnitOfWorkFactory
    providers: CalendarProviders
    tokens: AccessTokens
    box: SecretBox
    clock: Clock


@dataclass(frozen=True)
class ConnectionStarted:
    provider: str
    authorization_url: str
    expires_at: datetime


@dataclass(frozen=True)
class ConnectionFinished:
    view: IntegrationView
    created: bool  # False: an existing connection of the same account got new tokens


@dataclass(frozen=True)
class LinkCalendar:
    resource_id: UUID
    calendar_id: str


@dataclass(frozen=True)
class Linked:
    link: ResourceCalendar
    provider: str
    created: bool


# --- connecting an account ---------------------------------------------------------------------


async def start_connection(
    slug: str, redirect_uri: str, principal: Principal, ports: CalendarConnections
) -> ConnectionStarted:
    """The provider's consent page for this tenant, and until when the answer is accepted."""
    require(principal, Action.INTEGRATIONS_WRITE)
    connector = ports.providers.get(slug)
    if connector is None:
        raise NotFound(CONNECTION_NOT_FOUND.format(slug=slug))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    claims = {
        "purpose": STATE_PURPOSE,
        "provider": slug,
        "tid": str(principal.tenant_id),
        # PKCE: the verifier travels with the state, sealed: only this server can read it.
        "pkce": base64.urlsafe_b64encode(ports.box.seal(verifier.encode())).decode(),
    }
    if principal.api_key_id is not None:
        claims["kid"] = str(principal.api_key_id)
    else:
        claims["uid"] = str(principal.acting_user)
        if principal.impersonator_id is not None:
            claims["imp"] = str(principal.impersonator_id)
    now = ports.clock.now()
    state = ports.tokens.issue_state(claims, now, STATE_SECONDS)
    url = await connector.authorization_url(redirect_uri=redirect_uri, state=state, code_challenge=challenge)
    return ConnectionStarted(slug, url, now + timedelta(seconds=STATE_SECONDS))


async def finish_connection(
    slug: str, code: str, state: str, redirect_uri: str, ports: CalendarConnections, client: Client
) -> ConnectionFinished:
    """Where the provider sends the person back. The signed state is the only credential: it
    names the tenant and who started, who must still be allowed to connect providers."""
    claims = ports.tokens.verify_state(state)
    if claims.get("purpose") != STATE_PURPOSE or claims.get("provider") != slug:
        raise AuthenticationFailed("the connection state does not match this provider")
    connector = ports.providers.get(slug)
    if connector is None:
        raise NotFound(CONNECTION_NOT_FOUND.format(slug=slug))
    try:
        tenant_id = UUID(claims["tid"])
        verifier = ports.box.open(base64.urlsafe_b64decode(claims["pkce"])).decode()
    except (KeyError, ValueError, binascii.Error) as error:
        raise AuthenticationFailed("the connection state is not valid") from error
    principal = await _starter(claims, tenant_id, ports)
    if not code:
        raise AuthenticationFailed("no authorization code came back")

    # The provider's token endpoint, outside any transaction.
    grant = await connector.exchange(code=code, redirect_uri=redirect_uri, code_verifier=verifier)

    context = context_of(principal, client)
    async with ports.units(tenant_id, principal.user_id, context) as uow:
        await ensure_enabled(uow, "integrations")
        current = await uow.integrations.enabled_for(Capability.CALENDAR)
        now = ports.clock.now()
        if current is not None:
            if current.provider != slug or open_config(current, ports.box).get("account") != grant.account:
                raise Conflict(
                    f"{current.provider} already serves calendar; disconnect it first",
                    code="capability_taken",
                )
            locked = await uow.integrations.get(current.id, for_update=True)
            assert locked is not None
            config = open_config(locked, ports.box) | tokens_config(grant)
            updated = replace(
                locked, sealed_config=_seal(ports.box, config), updated_at=now, version=locked.version + 1
            )
            if not await uow.integrations.update(updated, expected_version=locked.version):
                raise Conflict("the calendar connection changed meanwhile; connect again")
            await uow.audit.record(
                "integration.updated",
                "integration",
                str(updated.id),
                {"config": sorted(tokens_fields(grant.tokens))},
            )
            await uow.commit()
            return ConnectionFinished(view_of(updated, ports.box), created=False)
        integration = Integration(
            id=uuid4(),
            tenant_id=tenant_id,
            provider=slug,
            capability=Capability.CALENDAR,
            enabled=True,
            sealed_config=_seal(ports.box, tokens_config(grant)),
            secret_fields=TOKEN_FIELDS,
            created_at=now,
            updated_at=now,
        )
        await uow.integrations.add(integration)
        await uow.audit.record(
            "integration.created",
            "integration",
            str(integration.id),
            {"provider": slug, "enabled": True, "config": sorted(tokens_config(grant))},
        )
        await uow.commit()
    return ConnectionFinished(view_of(integration, ports.box), created=True)


async def _starter(claims: dict[str, str], tenant_id: UUID, ports: CalendarConnections) -> Principal:
    """Whoever started the connection, as they stand now: still allowed to connect providers."""
    try:
        user_id = UUID(claims["uid"]) if "uid" in claims else None
        key_id = UUID(claims["kid"]) if "kid" in claims else None
        impersonator = UUID(claims["imp"]) if "imp" in claims else None
    except ValueError as error:
        raise AuthenticationFailed("the connection state is not valid") from error
    async with ports.units(tenant_id, user_id) as uow:
        if key_id is not None:
            key = await uow.api_keys.get(key_id)
            if key is None or not key.is_usable(ports.clock.now()):
                raise AuthenticationFailed("the API key that started this connection is no longer valid")
            tenant = await uow.tenants.get()
            if tenant is None or tenant.status is not TenantStatus.ACTIVE:
                raise PermissionDenied("this account is suspended")
            principal = Principal(None, tenant_id, None, api_key_id=key.id, scopes=key.scopes)
        elif user_id is not None:
            principal = await member_principal(uow, user_id, tenant_id)
            if impersonator is not None:
                principal = replace(principal, impersonator_id=impersonator)
        else:
            raise AuthenticationFailed("the connection state is not valid")
    try:
        require(principal, Action.INTEGRATIONS_WRITE)
    except PermissionDenied as error:
        raise PermissionDenied("whoever started this connection may no longer connect providers") from error
    return principal


# --- linking resources -------------------------------------------------------------------------


async def link_calendar(cmd: LinkCalendar, principal: Principal, uow: UnitOfWork, clock: Clock) -> Linked:
    """Link the resource to a calendar of the connected account (replacing any earlier link),
    start its periodic sync, and push its upcoming appointments there."""
    require(principal, Action.SCHEDULING_MANAGE)
    calendar_id = clean_calendar_id(cmd.calendar_id)
    now = clock.now()
    async with uow:
        resource = await uow.resources.get(cmd.resource_id, for_update=True)
        if resource is None:
            raise NotFound("no resource with this id")
        integration = await uow.integrations.enabled_for(Capability.CALENDAR)
        if integration is None:
            raise Conflict(NOT_CONNECTED, code="calendar_not_connected")
        previous = await uow.resource_calendars.get(resource.id, for_update=True)
        same = previous is not None and (previous.integration_id, previous.calendar_id) == (
            integration.id,
            calendar_id,
        )
        job = _sync_job(principal.tenant_id, resource.id, now)
        link = ResourceCalendar(
            tenant_id=principal.tenant_id,
            resource_id=resource.id,
            integration_id=integration.id,
            calendar_id=calendar_id,
            created_at=previous.created_at if previous else now,
            updated_at=now,
            sync_token=previous.sync_token if previous and same else None,
            synced_at=previous.synced_at if previous and same else None,
            sync_job_id=job.id,
            version=previous.version + 1 if previous else 1,
        )
        if previous is not None and not same:
            await uow.calendar_busy.replace(resource.id, [])  # another calendar's events
        await uow.resource_calendars.save(link)
        await uow.outbox.add(job)
        await _push_upcoming(uow, resource.id, now)
        fields = {"calendar_id": calendar_id, "provider": integration.provider}
        if previous is None:
            await uow.audit.record("resource_calendar.linked", "resource", str(resource.id), fields)
        else:
            changes = {"calendar_id": [previous.calendar_id, calendar_id]}
            await uow.audit.record("resource_calendar.updated", "resource", str(resource.id), changes)
        await uow.commit()
    return Linked(link, integration.provider, created=previous is None)


async def get_calendar_link(resource_id: UUID, principal: Principal, uow: UnitOfWork) -> Linked:
    require(principal, Action.SCHEDULING_READ)
    async with uow:
        link = await uow.resource_calendars.get(resource_id)
        integration = await uow.integrations.get(link.integration_id) if link else None
    if link is None or integration is None:
        raise NotFound(LINK_NOT_FOUND)
    return Linked(link, integration.provider, created=False)


async def unlink_calendar(resource_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> None:
    """The resource stops reading the calendar; the events pushed there are deleted."""
    require(principal, Action.SCHEDULING_MANAGE)
    async with uow:
        link = await uow.resource_calendars.get(resource_id, for_update=True)
        if link is None:
            raise NotFound(LINK_NOT_FOUND)
        await uow.resource_calendars.delete(resource_id)
        await _push_upcoming(uow, resource_id, clock.now())
        await uow.audit.record(
            "resource_calendar.unlinked", "resource", str(resource_id), {"calendar_id": link.calendar_id}
        )
        await uow.commit()


async def sync_now(resource_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock) -> Linked:
    """Read the calendar's changes now (also restarts a sync that gave up)."""
    require(principal, Action.SCHEDULING_MANAGE)
    now = clock.now()
    async with uow:
        link = await uow.resource_calendars.get(resource_id, for_update=True)
        integration = await uow.integrations.get(link.integration_id) if link else None
        if link is None or integration is None:
            raise NotFound(LINK_NOT_FOUND)
        job = _sync_job(principal.tenant_id, resource_id, now)
        link = replace(link, sync_job_id=job.id, updated_at=now, version=link.version + 1)
        await uow.resource_calendars.save(link)
        await uow.outbox.add(job)
        await uow.audit.record("resource_calendar.sync_requested", "resource", str(resource_id), {})
        await uow.commit()
    return Linked(link, integration.provider, created=False)


async def push_to_calendar(
    uow: UnitOfWork, appointment: Appointment, now: datetime, also: Iterable[UUID] = ()
) -> None:
    """In the transaction that changes a booking: queue its push, if a calendar holds its event
    or the calendar of its resource (or of ``also``, the resource it leaves) should."""
    held = await uow.calendar_events.get(appointment.id) is not None
    if not held:
        for resource_id in {appointment.resource_id, *also}:
            if await uow.resource_calendars.get(resource_id) is not None:
                held = True
                break
    if held:
        await uow.outbox.add(_push_job(appointment.tenant_id, appointment.id, now))


async def _push_upcoming(uow: UnitOfWork, resource_id: UUID, now: datetime) -> None:
    upcoming = await uow.appointments.overlapping(
        resource_id, now, now + LINK_PUSH_AHEAD, limit=LINK_PUSH_LIMIT
    )
    for appointment in upcoming:
        await uow.outbox.add(_push_job(appointment.tenant_id, appointment.id, now))


def _push_job(tenant_id: UUID, appointment_id: UUID, now: datetime) -> OutboxMessage:
    return new_outbox_message(tenant_id, PUSH_JOB, {"appointment_id": str(appointment_id)}, now)


def _sync_job(tenant_id: UUID, resource_id: UUID, due: datetime) -> OutboxMessage:
    message = new_outbox_message(
        tenant_id, SYNC_JOB, {"resource_id": str(resource_id)}, due, max_attempts=SYNC_MAX_ATTEMPTS
    )
    return replace(message, next_attempt_at=due)


# --- the worker's side: pushing, syncing, reading busy times -----------------------------------


@dataclass(frozen=True)
class KnownBusy:
    """What storage knows of a resource's calendar: enough to answer, and to ask it live."""

    tenant_id: UUID
    link: ResourceCalendar
    integration: Integration
    recorded: list[Span]  # external busy events the sync recorded, ours left out
    own: list[CalendarEventLink]  # the events Switchboard wrote in that calendar


@dataclass(frozen=True)
class _PushState:
    appointment: Appointment | None
    customer_name: str | None
    link: CalendarEventLink | None
    link_integration: Integration | None
    target: ResourceCalendar | None  # where the appointment's event belongs; None: nowhere
    target_integration: Integration | None


class CalendarSync:
    """Pushes bookings to connected calendars, syncs their changes back, reads their busy times.

    Holds no tenant's data: each call reads the tenant's integration, opens a fresh connection
    with its tokens, and seals refreshed tokens back.
    """

    def __init__(
        self,
        units: UnitOfWorkFactory,
        providers: CalendarProviders,
        box: SecretBox,
        clock: Clock,
        sync_every: timedelta = timedelta(minutes=5),
    ) -> None:
        self._units = units
        self._providers = providers
        self._box = box
        self._clock = clock
        self._sync_every = sync_every

    def performers(self) -> dict[str, Callable[[OutboxMessage], Awaitable[None]]]:
        """The outbox kinds the worker runs through this object."""
        return {PUSH_JOB: self.push_appointment, SYNC_JOB: self.sync_calendar}

    # --- pushing -------------------------------------------------------------------------------

    async def push_appointment(self, job: OutboxMessage) -> None:
        """Make the calendar show the appointment as it is now: create, patch or delete its event.

        Safe to run twice, late or beside another push of the same appointment: each round reads
        the appointment afresh, a create is idempotent (the provider's id is derived from the
        appointment), and a link is never replaced by an older version's.
        """
        appointment_id = _uuid_in(job, "appointment_id")
        for _ in range(PUSH_ROUNDS):
            state = await self._push_state(job.tenant_id, appointment_id)
            if await self._push_round(job.tenant_id, state):
                return
        raise RuntimeError("the appointment kept changing while it was pushed; trying again later")

    async def _push_state(self, tenant_id: UUID, appointment_id: UUID) -> _PushState:
        async with self._units(tenant_id) as uow:
            appointment = await uow.appointments.get(appointment_id)
            link = await uow.calendar_events.get(appointment_id)
            link_integration = await uow.integrations.get(link.integration_id) if link else None
            target = target_integration = None
            customer_name = None
            if appointment is not None and appointment.status is not AppointmentStatus.CANCELLED:
                found = await uow.resource_calendars.get(appointment.resource_id)
                integration = await uow.integrations.get(found.integration_id) if found else None
                if found is not None and _usable(integration):
                    target, target_integration = found, integration
                customer = await uow.customers.get(appointment.customer_id)
                customer_name = customer.name if customer else None
        return _PushState(appointment, customer_name, link, link_integration, target, target_integration)

    async def _push_round(self, tenant_id: UUID, state: _PushState) -> bool:
        """One round; True when the calendar shows the appointment as read."""
        link, target, appointment = state.link, state.target, state.appointment
        if link is not None and (target is None or (link.integration_id, link.calendar_id) != _where(target)):
            # Its event is in a calendar that should no longer hold it.
            if state.link_integration is not None and _usable(state.link_integration):
                async with self._session(tenant_id, state.link_integration) as calendar:
                    await calendar.delete_event(link.calendar_id, link.event_id)
            await self._forget_link(tenant_id, link)
            link = None
        if target is None or appointment is None or state.target_integration is None:
            return True
        if link is not None and link.appointment_version >= appointment.version:
            return True  # already shows this version
        event = _event_of(appointment, state.customer_name, target.calendar_id)
        async with self._session(tenant_id, state.target_integration) as calendar:
            event_id = None
            if link is not None:
                try:
                    await calendar.update_event(link.calendar_id, link.event_id, event)
                    event_id = link.event_id
                except EventGone:
                    event_id = None
            if event_id is None:
                event_id = await calendar.create_event(target.calendar_id, event)
        written = CalendarEventLink(
            tenant_id=tenant_id,
            appointment_id=appointment.id,
            integration_id=target.integration_id,
            calendar_id=target.calendar_id,
            event_id=event_id,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            appointment_version=appointment.version,
            updated_at=self._clock.now(),
        )
        async with self._units(tenant_id) as uow:
            current = await uow.calendar_events.get(appointment.id, for_update=True)
            if (
                current is None
                or current.appointment_version <= appointment.version
                or _where(current) != _where(target)
            ):
                await uow.calendar_events.save(written)
                await uow.commit()
        return False  # read it again: it may have changed while it was written

    async def _forget_link(self, tenant_id: UUID, link: CalendarEventLink) -> None:
        async with self._units(tenant_id) as uow:
            current = await uow.calendar_events.get(link.appointment_id, for_update=True)
            if current is not None and current.event_id == link.event_id:
                await uow.calendar_events.delete(link.appointment_id)
                await uow.commit()

    # --- syncing back --------------------------------------------------------------------------

    async def sync_calendar(self, job: OutboxMessage) -> None:
        """One periodic sync of a resource's calendar, then the next one queued.

        A job that is not the link's current one was superseded (relinked, or asked again) and
        does nothing; so there is one chain of sync jobs per linked resource.
        """
        resource_id = _uuid_in(job, "resource_id")
        async with self._units(job.tenant_id) as uow:
            link = await uow.resource_calendars.get(resource_id)
            resource = await uow.resources.get(resource_id)
            integration = await uow.integrations.get(link.integration_id) if link else None
        if link is None or resource is None or link.sync_job_id != job.id:
            return
        if integration is None or not _usable(integration):
            return  # disabled: the chain stops; linking again (or POST .../sync) restarts it
        now = self._clock.now()
        window = (now - SYNC_PAST, now + SYNC_AHEAD)
        async with self._session(job.tenant_id, integration) as calendar:
            try:
                changes = await calendar.changes(link.calendar_id, link.sync_token, window)
            except SyncTokenExpired:
                changes = await calendar.changes(link.calendar_id, None, window)

        busy: list[ExternalBusy] = []
        gone = list(changes.removed)
        for event in changes.events:
            recorded = _recorded(event, resource, window)
            if recorded is None:
                gone.append(event.event_id)  # free, cancelled, ours or out of reach: not busy
            else:
                busy.append(recorded)
        async with self._units(job.tenant_id) as uow:
            current = await uow.resource_calendars.get(resource_id, for_update=True)
            if current is None or current.sync_job_id != job.id:
                return
            own = {
                e.event_id
                for e in await uow.calendar_events.between(link.integration_id, link.calendar_id, *window)
            }
            busy = [b for b in busy if b.event_id not in own]
            if changes.full:
                await uow.calendar_busy.replace(resource_id, busy)
            else:
                await uow.calendar_busy.apply(resource_id, busy, gone)
            following = _sync_job(job.tenant_id, resource_id, now + self._sync_every)
            await uow.outbox.add(following)
            await uow.resource_calendars.save(
                replace(current, sync_token=changes.sync_token, synced_at=now, sync_job_id=following.id)
            )
            await uow.commit()

    # --- busy times ----------------------------------------------------------------------------

    async def known_busy(
        self,
        tenant_id: UUID,
        resource_id: UUID,
        start: datetime,
        end: datetime,
        within: UnitOfWork | None = None,
    ) -> KnownBusy | None:
        """None when the resource has no usable calendar: nothing of a calendar keeps it busy."""
        if within is not None:
            return await self._known(within, tenant_id, resource_id, start, end)
        async with self._units(tenant_id) as uow:
            return await self._known(uow, tenant_id, resource_id, start, end)

    async def _known(
        self, uow: UnitOfWork, tenant_id: UUID, resource_id: UUID, start: datetime, end: datetime
    ) -> KnownBusy | None:
        link = await uow.resource_calendars.get(resource_id)
        if link is None:
            return None
        integration = await uow.integrations.get(link.integration_id)
        if (
            integration is None
            or not _usable(integration)
            or self._providers.get(integration.provider) is None
        ):
            return None
        own = await uow.calendar_events.between(link.integration_id, link.calendar_id, start, end)
        own_ids = {e.event_id for e in own}
        recorded = [
            (b.starts_at, b.ends_at)
            for b in await uow.calendar_busy.between(resource_id, start, end)
            if b.event_id not in own_ids
        ]
        return KnownBusy(tenant_id, link, integration, recorded, own)

    async def live_busy(
        self, known: KnownBusy, start: datetime, end: datetime, *, keep_tokens: bool = True
    ) -> list[Span]:
        """The calendar's free/busy answer, less Switchboard's own events (which the bookings
        themselves already hold). Raises the provider's errors."""
        async with self._session(known.tenant_id, known.integration, keep_tokens=keep_tokens) as calendar:
            intervals = await calendar.busy(known.link.calendar_id, start, end)
        own_ids = {e.event_id for e in known.own}
        spans = [(i.start, i.end) for i in intervals if i.event_id is None or i.event_id not in own_ids]
        # Free/busy answers without event ids: cut out the times of our own events.
        return overlapping(subtract(spans, [(e.starts_at, e.ends_at) for e in known.own]), start, end)

    # --- one connection's session --------------------------------------------------------------

    @asynccontextmanager
    async def _session(
        self, tenant_id: UUID, integration: Integration, *, keep_tokens: bool = True
    ) -> AsyncIterator[CalendarPort]:
        connector = self._providers.get(integration.provider)
        if connector is None:
            raise PermanentFailure(f"the calendar provider {integration.provider!r} is not configured")
        stored = tokens_from_config(open_config(integration, self._box))
        calendar = connector.open(stored)
        try:
            yield calendar
        finally:
            fresh = calendar.tokens()
            if keep_tokens and newer_tokens(stored, fresh):
                await self._keep_tokens(tenant_id, integration.id, fresh)

    async def _keep_tokens(self, tenant_id: UUID, integration_id: UUID, fresh: CalendarTokens) -> None:
        """Seal refreshed tokens back into the integration, unless newer ones are there already."""
        for _ in range(3):
            async with self._units(tenant_id, None, SYSTEM) as uow:
                current = await uow.integrations.get(integration_id, for_update=True)
                if current is None:
                    return
                config = open_config(current, self._box)
                if not newer_tokens(tokens_from_config(config), fresh):
                    return
                updated = replace(
                    current,
                    sealed_config=_seal(self._box, config | tokens_fields(fresh)),
                    updated_at=self._clock.now(),
                    version=current.version + 1,
                )
                if await uow.integrations.update(updated, expected_version=current.version):
                    await uow.commit()
                    return


# --- helpers -----------------------------------------------------------------------------------


def _usable(integration: Integration | None) -> bool:
    return integration is not None and integration.enabled and integration.capability is Capability.CALENDAR


def _where(link: ResourceCalendar | CalendarEventLink) -> tuple[UUID, str]:
    return link.integration_id, link.calendar_id


def _event_of(appointment: Appointment, customer_name: str | None, calendar_id: str) -> CalendarEvent:
    summary = appointment.service if not customer_name else f"{appointment.service}: {customer_name}"
    lines = [f"Customer: {customer_name}"] if customer_name else []
    if appointment.notes:
        lines.append(appointment.notes)
    lines.append(f"Booked in Switchboard (appointment {appointment.id}, {appointment.status.value}).")
    # One key per appointment version and calendar: a retried create is the same create.
    key = uuid.uuid5(appointment.id, f"{calendar_id}:{appointment.version}")
    return CalendarEvent(
        appointment_id=appointment.id,
        summary=summary[:SUMMARY_MAX],
        start=appointment.starts_at,
        end=appointment.ends_at,
        location=appointment.location,
        description="\n".join(lines),
        idempotency_key=f"switchboard-{key}",
    )


def _recorded(
    event: ExternalEvent, resource: Resource, window: tuple[datetime, datetime]
) -> ExternalBusy | None:
    if not event.busy or event.ours:
        return None
    span = event_span(event, zone(resource.time_zone))
    if span is None or not overlapping([span], *window):
        return None
    return ExternalBusy(resource.tenant_id, resource.id, event.event_id, span[0], span[1])


def _uuid_in(job: OutboxMessage, name: str) -> UUID:
    try:
        return UUID(str(job.payload[name]))
    except (KeyError, ValueError) as error:
        raise PermanentFailure(f"malformed {job.kind} payload: no {name}") from error


def _seal(box: SecretBox, config: dict[str, Any]) -> bytes:
    return box.seal(json.dumps(config, separators=(",", ":")).encode())
