"""Connected-calendar storage, on memory and PostgreSQL alike: resource links, recorded busy
times and pushed-event links round trip, stay in their tenant, and go with the resource or the
integration they hang from. And the calendar's busy times, read inside a move's own transaction
on both adapters (a second unit of work would wait forever on the memory store's lock), against
a stand-in of Google Calendar."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID, uuid4

import httpx
import pytest

from switchboard.adapters.calendar_busy import ConnectedCalendarBusyTimes
from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.core.errors import Conflict
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.scheduling import handlers
from switchboard.core.scheduling.calendar_model import (
    TOKEN_FIELDS,
    CalendarEventLink,
    CalendarGrant,
    ExternalBusy,
    ResourceCalendar,
    tokens_config,
)
from switchboard.core.scheduling.calendar_sync import PUSH_JOB, SYNC_JOB, CalendarSync
from switchboard.core.tenancy.model import Role
from switchboard.plugins.calendars import OperatorCalendarProviders
from switchboard.plugins.manager import build_plugin_catalog
from tests.contract.conftest import Actor, Storage, make_customer, utc_now
from tests.contract.test_scheduling_contract import CLOCK, make_appointment, make_resource, tomorrow_at
from tests.fakes.google_calendar_standin import GoogleCalendarStandIn

BOX = FernetSecretBox([FernetSecretBox.generate_key()])
REDIRECT = "https://api.switchboard.test/v1/calendar-connections/google_calendar/callback"


def make_integration(actor: Actor, config: dict[str, Any] | None = None) -> Integration:
    now = utc_now()
    return Integration(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        provider="google_calendar",
        capability=Capability.CALENDAR,
        enabled=True,
        sealed_config=BOX.seal(json.dumps(config or {"account": "a@example.com"}).encode()),
        secret_fields=TOKEN_FIELDS,
        created_at=now,
        updated_at=now,
    )


def make_link(actor: Actor, resource_id: UUID, integration_id: UUID, **overrides: Any) -> ResourceCalendar:
    now = utc_now()
    fields: dict[str, Any] = dict(
        tenant_id=actor.tenant_id,
        resource_id=resource_id,
        integration_id=integration_id,
        calendar_id="primary",
        created_at=now,
        updated_at=now,
    )
    return ResourceCalendar(**(fields | overrides))


def busy(actor: Actor, resource_id: UUID, hour: int, event_id: str | None = None) -> ExternalBusy:
    start = tomorrow_at(hour)
    return ExternalBusy(
        actor.tenant_id, resource_id, event_id or uuid4().hex, start, start + timedelta(hours=1)
    )


def event_link(actor: Actor, integration_id: UUID, hour: int, **overrides: Any) -> CalendarEventLink:
    start = tomorrow_at(hour)
    fields: dict[str, Any] = dict(
        tenant_id=actor.tenant_id,
        appointment_id=uuid4(),
        integration_id=integration_id,
        calendar_id="primary",
        event_id=uuid4().hex,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        appointment_version=1,
        updated_at=utc_now(),
    )
    return CalendarEventLink(**(fields | overrides))


async def linked_resource(storage: Storage) -> tuple[Actor, UUID, Integration]:
    actor = await storage.new_tenant()
    resource = make_resource(actor)
    integration = make_integration(actor)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.resources.add(resource)
        await uow.integrations.add(integration)
        await uow.resource_calendars.save(make_link(actor, resource.id, integration.id))
        await uow.commit()
    return actor, resource.id, integration


async def test_a_resource_link_round_trips_and_is_replaced_by_the_next_save(storage: Storage):
    actor, resource_id, integration = await linked_resource(storage)
    async with storage.units(actor.tenant_id) as uow:
        stored = await uow.resource_calendars.get(resource_id)
    assert stored is not None
    assert (stored.integration_id, stored.calendar_id, stored.sync_token) == (integration.id, "primary", None)

    synced = replace(stored, sync_token="sync-9", synced_at=utc_now(), sync_job_id=uuid4(), version=2)
    async with storage.units(actor.tenant_id) as uow:
        await uow.resource_calendars.save(synced)
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.resource_calendars.get(resource_id, for_update=True) == synced


async def test_a_link_needs_its_resource_and_its_integration(storage: Storage):
    actor = await storage.new_tenant()
    resource = make_resource(actor)
    async with storage.units(actor.tenant_id) as uow:
        await uow.resources.add(resource)
        await uow.commit()

    for link in (make_link(actor, resource.id, uuid4()), make_link(actor, uuid4(), uuid4())):
        async with storage.units(actor.tenant_id) as uow:
            with pytest.raises(Exception):  # noqa: B017, PT011 (the adapters' own integrity errors)
                await uow.resource_calendars.save(link)


async def test_busy_times_are_recorded_replaced_and_forgotten_and_read_by_range(storage: Storage):
    actor, resource_id, _ = await linked_resource(storage)
    nine, eleven, fourteen = (busy(actor, resource_id, h) for h in (9, 11, 14))
    async with storage.units(actor.tenant_id) as uow:
        await uow.calendar_busy.replace(resource_id, [fourteen, nine])
        await uow.calendar_busy.apply(
            resource_id,
            [eleven, replace(nine, ends_at=nine.ends_at + timedelta(minutes=30))],
            [fourteen.event_id, "unknown"],
        )
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        found = await uow.calendar_busy.between(resource_id, tomorrow_at(0), tomorrow_at(23))
        morning = await uow.calendar_busy.between(resource_id, tomorrow_at(10), tomorrow_at(11))
    assert [(b.event_id, b.ends_at) for b in found] == [
        (nine.event_id, nine.ends_at + timedelta(minutes=30)),
        (eleven.event_id, eleven.ends_at),
    ]
    assert [b.event_id for b in morning] == [nine.event_id]  # touching 11:00 is not overlapping

    async with storage.units(actor.tenant_id) as uow:
        await uow.calendar_busy.replace(resource_id, [])
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.calendar_busy.between(resource_id, tomorrow_at(0), tomorrow_at(23)) == []


async def test_event_links_round_trip_replace_and_are_found_by_calendar_and_time(storage: Storage):
    actor, _, integration = await linked_resource(storage)
    morning = event_link(actor, integration.id, 9)
    evening = event_link(actor, integration.id, 18)
    elsewhere = event_link(actor, integration.id, 10, calendar_id="team@example.com")
    async with storage.units(actor.tenant_id) as uow:
        for link in (morning, evening, elsewhere):
            await uow.calendar_events.save(link)
        await uow.calendar_events.save(replace(morning, appointment_version=2))
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.calendar_events.get(morning.appointment_id, for_update=True) == replace(
            morning, appointment_version=2
        )
        found = await uow.calendar_events.between(integration.id, "primary", tomorrow_at(8), tomorrow_at(12))
        assert [link.appointment_id for link in found] == [morning.appointment_id]
        assert await uow.calendar_events.delete(evening.appointment_id) is True
        assert await uow.calendar_events.delete(evening.appointment_id) is False
        await uow.commit()


async def test_deleting_the_resource_or_the_integration_takes_the_links_with_them(storage: Storage):
    actor, resource_id, integration = await linked_resource(storage)
    pushed = event_link(actor, integration.id, 9)
    async with storage.units(actor.tenant_id) as uow:
        await uow.calendar_busy.replace(resource_id, [busy(actor, resource_id, 9)])
        await uow.calendar_events.save(pushed)
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.resources.delete(resource_id) is True
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.resource_calendars.get(resource_id) is None
        assert await uow.calendar_busy.between(resource_id, tomorrow_at(0), tomorrow_at(23)) == []
        assert await uow.calendar_events.get(pushed.appointment_id) is not None  # outlives its booking
        assert await uow.integrations.delete(integration.id) is True
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.calendar_events.get(pushed.appointment_id) is None


async def test_unlinking_forgets_the_recorded_busy_times(storage: Storage):
    actor, resource_id, _ = await linked_resource(storage)
    async with storage.units(actor.tenant_id) as uow:
        await uow.calendar_busy.replace(resource_id, [busy(actor, resource_id, 9)])
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.resource_calendars.delete(resource_id) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.calendar_busy.between(resource_id, tomorrow_at(0), tomorrow_at(23)) == []
        assert await uow.resource_calendars.delete(resource_id) is False


async def test_another_tenant_sees_none_of_it(storage: Storage):
    actor, resource_id, integration = await linked_resource(storage)
    pushed = event_link(actor, integration.id, 9)
    async with storage.units(actor.tenant_id) as uow:
        await uow.calendar_busy.replace(resource_id, [busy(actor, resource_id, 9)])
        await uow.calendar_events.save(pushed)
        await uow.commit()
    other = await storage.new_tenant()

    async with storage.units(other.tenant_id) as uow:
        assert await uow.resource_calendars.get(resource_id) is None
        assert await uow.calendar_busy.between(resource_id, tomorrow_at(0), tomorrow_at(23)) == []
        assert await uow.calendar_events.get(pushed.appointment_id) is None
        assert (
            await uow.calendar_events.between(integration.id, "primary", tomorrow_at(0), tomorrow_at(23))
            == []
        )
        assert await uow.resource_calendars.delete(resource_id) is False
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.resource_calendars.get(resource_id) is not None


# --- the calendar asked inside a move's transaction ---------------------------------------------


async def test_a_move_is_checked_against_the_calendar_inside_its_own_transaction(storage: Storage):
    with GoogleCalendarStandIn(
        client_id="contract-client",
        client_secret="contract-secret",
        redirect_uris=(REDIRECT,),
        account="a@b.test",
    ) as google:
        providers = OperatorCalendarProviders(
            build_plugin_catalog(load_entry_points=False), {"google_calendar": google.operator_settings()}
        )
        connector = providers.get("google_calendar")
        assert connector is not None
        tokens = await _consented_tokens(google, connector)
        sync = CalendarSync(storage.units, providers, BOX, CLOCK)
        busy_times = ConnectedCalendarBusyTimes(sync, ttl_seconds=0)

        actor = await storage.new_tenant()
        resource = make_resource(actor)
        customer = make_customer(actor.tenant_id)
        integration = make_integration(actor, tokens_config(CalendarGrant(tokens, "a@b.test")))
        appointment = make_appointment(actor, resource, customer.id, starts_at=tomorrow_at(9))
        async with storage.units(actor.tenant_id) as uow:
            await uow.resources.add(resource)
            await uow.customers.add(customer)
            await uow.integrations.add(integration)
            await uow.resource_calendars.save(make_link(actor, resource.id, integration.id))
            await uow.appointments.add(appointment)
            await uow.commit()
        google.add_event("primary", tomorrow_at(12), tomorrow_at(13))
        owner = Principal(actor.user_id, actor.tenant_id, Role.OWNER)

        with pytest.raises(Conflict) as refused:
            await handlers.update_appointment(
                handlers.UpdateAppointment(
                    appointment.id, {"start": tomorrow_at(12), "end": tomorrow_at(13)}
                ),
                owner,
                storage.units(actor.tenant_id, actor.user_id),
                CLOCK,
                busy_times,
            )
        moved = await handlers.update_appointment(
            handlers.UpdateAppointment(appointment.id, {"start": tomorrow_at(14), "end": tomorrow_at(15)}),
            owner,
            storage.units(actor.tenant_id, actor.user_id),
            CLOCK,
            busy_times,
        )

    assert refused.value.code == "slot_taken"
    assert moved.starts_at == tomorrow_at(14)


async def _consented_tokens(google: GoogleCalendarStandIn, connector: Any) -> Any:
    """Connect the stand-in's account as a person would: consent, then trade the code."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = await connector.authorization_url(redirect_uri=REDIRECT, state="s", code_challenge=challenge)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url, follow_redirects=False)
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    grant = await connector.exchange(code=code, redirect_uri=REDIRECT, code_verifier=verifier)
    return grant.tokens


async def test_a_booking_is_pushed_cancelled_and_the_calendar_synced_back_on_both_adapters(storage: Storage):
    with GoogleCalendarStandIn(
        client_id="contract-client",
        client_secret="contract-secret",
        redirect_uris=(REDIRECT,),
        account="a@b.test",
    ) as google:
        providers = OperatorCalendarProviders(
            build_plugin_catalog(load_entry_points=False), {"google_calendar": google.operator_settings()}
        )
        connector = providers.get("google_calendar")
        assert connector is not None
        tokens = await _consented_tokens(google, connector)
        sync = CalendarSync(storage.units, providers, BOX, CLOCK)
        actor = await storage.new_tenant()
        resource = make_resource(actor)
        customer = make_customer(actor.tenant_id, name="Grace Hopper")
        integration = make_integration(actor, tokens_config(CalendarGrant(tokens, "a@b.test")))
        sync_job = new_outbox_message(actor.tenant_id, SYNC_JOB, {"resource_id": str(resource.id)}, utc_now())
        async with storage.units(actor.tenant_id) as uow:
            await uow.resources.add(resource)
            await uow.customers.add(customer)
            await uow.integrations.add(integration)
            await uow.resource_calendars.save(
                make_link(actor, resource.id, integration.id, sync_job_id=sync_job.id)
            )
            await uow.commit()
        owner = Principal(actor.user_id, actor.tenant_id, Role.OWNER)
        appointment = await handlers.book_appointment(
            handlers.BookAppointment(
                resource.id, customer.id, "Boiler service", tomorrow_at(9), tomorrow_at(10)
            ),
            owner,
            storage.units(actor.tenant_id, actor.user_id),
            CLOCK,
            ConnectedCalendarBusyTimes(sync, ttl_seconds=0),
        )
        push = new_outbox_message(
            actor.tenant_id, PUSH_JOB, {"appointment_id": str(appointment.id)}, utc_now()
        )

        await sync.push_appointment(push)
        (event,) = google.events("primary")
        assert event["summary"] == "Boiler service: Grace Hopper"

        theirs = google.add_event("primary", tomorrow_at(14), tomorrow_at(15))
        await sync.sync_calendar(sync_job)
        async with storage.units(actor.tenant_id) as uow:
            recorded = await uow.calendar_busy.between(resource.id, tomorrow_at(0), tomorrow_at(23))
            link = await uow.resource_calendars.get(resource.id)
        assert [b.event_id for b in recorded] == [theirs]  # not our own event
        assert link is not None
        assert link.sync_token is not None
        assert link.sync_job_id not in (None, sync_job.id)

        await handlers.change_status(
            handlers.ChangeStatus(appointment.id, "cancelled"), owner, storage.units(actor.tenant_id), CLOCK
        )
        await sync.push_appointment(push)
        assert [e["id"] for e in google.events("primary")] == [theirs]
