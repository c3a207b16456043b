"""Integrations: round trips, one enabled per capability, optimistic updates, paging, isolation."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.core.errors import Conflict
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import PageRequest, Position
from tests.contract.conftest import Actor, Storage, utc_now


def make_integration(
    tenant_id: UUID,
    *,
    provider: str = "fake_email",
    capability: Capability = Capability.EMAIL,
    enabled: bool = True,
    created_at: datetime | None = None,
) -> Integration:
    """Sealed bytes are opaque to storage: any bytes will do, including ones that are not UTF-8."""
    at = created_at or utc_now()
    return Integration(
        id=uuid4(),
        tenant_id=tenant_id,
        provider=provider,
        capability=capability,
        enabled=enabled,
        sealed_config=b"\x00\xffsealed-" + os.urandom(24),
        secret_fields=("api_key",),
        created_at=at,
        updated_at=at,
    )


async def _add(storage: Storage, actor: Actor, *integrations: Integration) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for integration in integrations:
            await uow.integrations.add(integration)
        await uow.commit()


async def _get(storage: Storage, actor: Actor, integration_id: UUID) -> Integration | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.integrations.get(integration_id)


async def _enabled_for(storage: Storage, actor: Actor, capability: Capability) -> Integration | None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        return await uow.integrations.enabled_for(capability)


async def _update(storage: Storage, actor: Actor, integration: Integration, expected_version: int) -> bool:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = await uow.integrations.update(integration, expected_version=expected_version)
        await uow.commit()
    return stored


def _changed(integration: Integration, **fields: object) -> Integration:
    """What the core hands to ``update``: new mutable fields, a later time and the next version."""
    base = {
        "sealed_config": b"resealed-" + os.urandom(16),
        "secret_fields": ("api_key", "webhook_secret"),
        "updated_at": integration.updated_at + timedelta(minutes=5),
        "version": integration.version + 1,
    }
    return replace(integration, **(base | fields))


# --- round trips ---------------------------------------------------------------------------------


async def test_an_integration_reads_back_equal_to_what_was_added(storage: Storage):
    actor = await storage.new_tenant()
    email = make_integration(actor.tenant_id)
    disabled_sms = make_integration(
        actor.tenant_id, provider="fake_sms", capability=Capability.SMS, enabled=False
    )
    no_secrets = replace(
        make_integration(actor.tenant_id, provider="fake_payments", capability=Capability.PAYMENTS),
        secret_fields=(),
    )

    await _add(storage, actor, email, disabled_sms, no_secrets)

    assert await _get(storage, actor, email.id) == email
    assert await _get(storage, actor, disabled_sms.id) == disabled_sms
    assert await _get(storage, actor, no_secrets.id) == no_secrets


async def test_an_integration_read_for_update_is_the_same_integration(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.integrations.get(integration.id, for_update=True) == integration


async def test_an_unknown_integration_reads_as_none(storage: Storage):
    actor = await storage.new_tenant()
    assert await _get(storage, actor, uuid4()) is None


# --- tenant isolation ------------------------------------------------------------------------------


async def test_another_tenants_integration_reads_as_none_and_is_never_listed_or_offered(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    theirs = make_integration(a.tenant_id)
    await _add(storage, a, theirs)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        assert await uow.integrations.get(theirs.id) is None
        assert await uow.integrations.get(theirs.id, for_update=True) is None
        assert (await uow.integrations.list(PageRequest(limit=100))).items == []
        assert await uow.integrations.enabled_for(Capability.EMAIL) is None


async def test_another_tenants_integration_cannot_be_changed_or_deleted(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    theirs = make_integration(a.tenant_id)
    await _add(storage, a, theirs)

    async with storage.units(b.tenant_id, b.user_id) as uow:
        hijacked = _changed(theirs, enabled=False)
        assert await uow.integrations.update(hijacked, expected_version=theirs.version) is False
        assert (
            await uow.integrations.update(replace(hijacked, tenant_id=b.tenant_id), theirs.version) is False
        )
        assert await uow.integrations.delete(theirs.id) is False
        await uow.commit()

    assert await _get(storage, a, theirs.id) == theirs


async def test_adding_an_integration_for_another_tenant_is_refused_and_stores_nothing(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    smuggled = make_integration(b.tenant_id)

    with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
        await storage.commit_work(a.tenant_id, a.user_id, lambda uow: uow.integrations.add(smuggled))

    assert await _get(storage, a, smuggled.id) is None
    assert await _get(storage, b, smuggled.id) is None


async def test_two_tenants_may_each_have_an_enabled_integration_for_the_same_capability(storage: Storage):
    a = await storage.new_tenant()
    b = await storage.new_tenant()
    ours = make_integration(a.tenant_id)
    theirs = make_integration(b.tenant_id)

    await _add(storage, a, ours)
    await _add(storage, b, theirs)

    assert await _enabled_for(storage, a, Capability.EMAIL) == ours
    assert await _enabled_for(storage, b, Capability.EMAIL) == theirs


# --- keyset pagination ---------------------------------------------------------------------------


async def test_integrations_are_listed_newest_first_in_keyset_pages(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now() - timedelta(hours=1)
    made = [
        make_integration(
            actor.tenant_id,
            provider=f"provider_{i}",
            capability=Capability.EMAIL,
            enabled=False,
            created_at=start - timedelta(minutes=m),
        )
        for i, m in enumerate([3, 0, 4, 1, 2])  # inserted out of order
    ]
    await _add(storage, actor, *made)
    expected = sorted(made, key=lambda i: (i.created_at, i.id), reverse=True)

    pages: list[list[Integration]] = []
    after: Position | None = None
    while True:
        async with storage.units(actor.tenant_id, actor.user_id) as uow:
            page = await uow.integrations.list(PageRequest(limit=2, after=after))
        pages.append(page.items)
        if not page.has_more:
            assert page.next_position is None
            break
        assert page.next_position == Position(page.items[-1].created_at, page.items[-1].id)
        after = page.next_position
        assert len(pages) < 10, "pagination does not end"

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == expected


async def test_a_tenant_without_integrations_lists_one_empty_last_page(storage: Storage):
    actor = await storage.new_tenant()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        page = await uow.integrations.list(PageRequest(limit=2))
    assert page.items == []
    assert not page.has_more


# --- one enabled integration per capability ------------------------------------------------------


async def test_enabled_for_returns_only_the_enabled_integration_of_that_capability(storage: Storage):
    actor = await storage.new_tenant()
    disabled_email = make_integration(actor.tenant_id, provider="old_email", enabled=False)
    enabled_email = make_integration(actor.tenant_id)
    enabled_sms = make_integration(actor.tenant_id, provider="fake_sms", capability=Capability.SMS)
    disabled_payments = make_integration(
        actor.tenant_id, provider="fake_payments", capability=Capability.PAYMENTS, enabled=False
    )
    await _add(storage, actor, disabled_email, enabled_email, enabled_sms, disabled_payments)

    assert await _enabled_for(storage, actor, Capability.EMAIL) == enabled_email
    assert await _enabled_for(storage, actor, Capability.SMS) == enabled_sms
    assert await _enabled_for(storage, actor, Capability.PAYMENTS) is None
    assert await _enabled_for(storage, actor, Capability.VOICE) is None


async def test_a_second_enabled_integration_for_a_capability_is_refused_and_stores_nothing(storage: Storage):
    actor = await storage.new_tenant()
    first = make_integration(actor.tenant_id)
    await _add(storage, actor, first)
    second = make_integration(actor.tenant_id, provider="other_email")

    with pytest.raises(Conflict) as refused:
        await storage.commit_work(actor.tenant_id, actor.user_id, lambda uow: uow.integrations.add(second))

    assert refused.value.code == "capability_taken"
    assert await _get(storage, actor, second.id) is None
    assert await _enabled_for(storage, actor, Capability.EMAIL) == first
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (await uow.integrations.list(PageRequest(limit=100))).items == [first]


async def test_the_refusal_leaves_the_unit_of_work_usable_for_other_writes(storage: Storage):
    actor = await storage.new_tenant()
    first = make_integration(actor.tenant_id)
    refused = make_integration(actor.tenant_id, provider="other_email")
    kept = make_integration(actor.tenant_id, provider="fake_sms", capability=Capability.SMS)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.integrations.add(first)
        with pytest.raises(Conflict) as taken:
            await uow.integrations.add(refused)  # the first is not committed yet
        await uow.integrations.add(kept)
        await uow.commit()

    assert taken.value.code == "capability_taken"
    assert await _get(storage, actor, first.id) == first
    assert await _get(storage, actor, kept.id) == kept
    assert await _get(storage, actor, refused.id) is None


async def test_a_disabled_integration_may_join_an_enabled_one_of_the_same_capability(storage: Storage):
    actor = await storage.new_tenant()
    enabled = make_integration(actor.tenant_id)
    spare = make_integration(actor.tenant_id, provider="other_email", enabled=False)
    another_spare = make_integration(actor.tenant_id, provider="third_email", enabled=False)

    await _add(storage, actor, enabled, spare, another_spare)

    assert await _get(storage, actor, spare.id) == spare
    assert await _get(storage, actor, another_spare.id) == another_spare
    assert await _enabled_for(storage, actor, Capability.EMAIL) == enabled


# --- optimistic updates --------------------------------------------------------------------------


async def test_an_update_with_the_current_version_stores_the_mutable_fields(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)
    changed = _changed(integration, enabled=False)

    assert await _update(storage, actor, changed, expected_version=integration.version) is True

    assert await _get(storage, actor, integration.id) == changed
    assert await _enabled_for(storage, actor, Capability.EMAIL) is None


async def test_an_enabled_integration_can_be_updated_while_it_stays_enabled(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)
    changed = _changed(integration)

    assert await _update(storage, actor, changed, expected_version=integration.version) is True

    assert await _enabled_for(storage, actor, Capability.EMAIL) == changed


async def test_an_update_with_a_stale_version_returns_false_and_changes_nothing(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)
    first = _changed(integration)
    assert await _update(storage, actor, first, expected_version=1) is True
    late = _changed(integration, enabled=False)  # also written against version 1

    assert await _update(storage, actor, late, expected_version=1) is False

    assert await _get(storage, actor, integration.id) == first


async def test_an_update_of_an_unknown_integration_returns_false(storage: Storage):
    actor = await storage.new_tenant()
    assert await _update(storage, actor, make_integration(actor.tenant_id), expected_version=1) is False
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (await uow.integrations.list(PageRequest(limit=100))).items == []


async def test_an_update_that_enables_a_second_integration_for_a_capability_is_refused(storage: Storage):
    actor = await storage.new_tenant()
    holder = make_integration(actor.tenant_id)
    spare = make_integration(actor.tenant_id, provider="other_email", enabled=False)
    await _add(storage, actor, holder, spare)

    with pytest.raises(Conflict) as refused:
        await _update(storage, actor, _changed(spare, enabled=True), expected_version=spare.version)

    assert refused.value.code == "capability_taken"
    assert await _get(storage, actor, spare.id) == spare
    assert await _enabled_for(storage, actor, Capability.EMAIL) == holder


async def test_once_the_holder_is_disabled_another_integration_can_be_enabled(storage: Storage):
    actor = await storage.new_tenant()
    holder = make_integration(actor.tenant_id)
    spare = make_integration(actor.tenant_id, provider="other_email", enabled=False)
    await _add(storage, actor, holder, spare)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.integrations.update(_changed(holder, enabled=False), holder.version) is True
        assert await uow.integrations.update(_changed(spare, enabled=True), spare.version) is True
        await uow.commit()

    enabled = await _enabled_for(storage, actor, Capability.EMAIL)
    assert enabled is not None
    assert enabled.id == spare.id


async def test_an_update_never_changes_provider_capability_or_creation_time(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id, enabled=False)
    await _add(storage, actor, integration)
    disguised = _changed(
        integration,
        provider="fake_payments",
        capability=Capability.PAYMENTS,
        created_at=integration.created_at - timedelta(days=30),
        enabled=True,
    )

    assert await _update(storage, actor, disguised, expected_version=integration.version) is True

    stored = await _get(storage, actor, integration.id)
    assert stored == replace(
        integration,
        enabled=True,
        sealed_config=disguised.sealed_config,
        secret_fields=disguised.secret_fields,
        updated_at=disguised.updated_at,
        version=disguised.version,
    )
    assert await _enabled_for(storage, actor, Capability.PAYMENTS) is None
    assert await _enabled_for(storage, actor, Capability.EMAIL) == stored


async def test_an_update_never_moves_an_integration_to_another_tenant(storage: Storage):
    actor = await storage.new_tenant()
    other = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)
    moved = _changed(integration, tenant_id=other.tenant_id)

    # Whether the adapter stores the other fields or refuses outright, the owner stays the same.
    await _update(storage, actor, moved, expected_version=integration.version)

    stored = await _get(storage, actor, integration.id)
    assert stored is not None
    assert stored.tenant_id == actor.tenant_id
    assert (stored.provider, stored.capability, stored.created_at) == (
        integration.provider,
        integration.capability,
        integration.created_at,
    )
    assert await _get(storage, other, integration.id) is None


async def test_the_capability_check_of_an_update_is_made_against_the_stored_capability(storage: Storage):
    """A dataclass naming another capability must not trip that capability's holder."""
    actor = await storage.new_tenant()
    email = make_integration(actor.tenant_id)
    sms_holder = make_integration(actor.tenant_id, provider="fake_sms", capability=Capability.SMS)
    await _add(storage, actor, email, sms_holder)
    disguised = _changed(email, capability=Capability.SMS)

    assert await _update(storage, actor, disguised, expected_version=email.version) is True

    stored = await _get(storage, actor, email.id)
    assert stored is not None
    assert stored.capability == Capability.EMAIL
    assert await _enabled_for(storage, actor, Capability.SMS) == sms_holder


# --- delete --------------------------------------------------------------------------------------


async def test_delete_removes_the_integration_and_says_so_once(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.integrations.delete(integration.id) is True
        await uow.commit()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.integrations.delete(integration.id) is False

    assert await _get(storage, actor, integration.id) is None
    assert await _enabled_for(storage, actor, Capability.EMAIL) is None


async def test_deleting_the_enabled_integration_frees_its_capability(storage: Storage):
    actor = await storage.new_tenant()
    old = make_integration(actor.tenant_id)
    await _add(storage, actor, old)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.integrations.delete(old.id)
        await uow.commit()
    new = make_integration(actor.tenant_id, provider="other_email")

    await _add(storage, actor, new)

    assert await _enabled_for(storage, actor, Capability.EMAIL) == new


async def test_a_delete_that_is_not_committed_changes_nothing(storage: Storage):
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id)
    await _add(storage, actor, integration)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.integrations.delete(integration.id) is True

    assert await _get(storage, actor, integration.id) == integration
