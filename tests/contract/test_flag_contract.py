"""The FlagRepository contract, on both adapters."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from switchboard.core.flags.model import FlagChange, FlagOverride
from tests.contract.conftest import Storage, utc_now


async def test_an_override_is_set_replaced_and_removed(storage: Storage):
    actor = await storage.new_tenant()
    now = utc_now()

    async with storage.units(actor.tenant_id) as uow:
        await uow.flags.set_override(FlagOverride(actor.tenant_id, "sms", True, now, "platform_admin:a"))
        await uow.flags.set_override(FlagOverride(actor.tenant_id, "payments", True, now, "platform_admin:a"))
        await uow.flags.set_override(FlagOverride(actor.tenant_id, "sms", False, now, "platform_admin:b"))
        await uow.flags.remove_override("payments")
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.flags.overrides() == {"sms": False}


async def test_overrides_belong_to_their_tenant(storage: Storage):
    first, second = await storage.new_tenant(), await storage.new_tenant()
    async with storage.units(first.tenant_id) as uow:
        await uow.flags.set_override(
            FlagOverride(first.tenant_id, "sms", True, utc_now(), "platform_admin:a")
        )
        await uow.commit()

    async with storage.units(second.tenant_id) as uow:
        assert await uow.flags.overrides() == {}
        with pytest.raises(Exception):  # noqa: B017, PT011 (PermissionError in memory, psycopg error on postgres)
            await uow.flags.set_override(FlagOverride(first.tenant_id, "sms", False, utc_now(), "x"))


async def test_changes_read_back_newest_first_and_limited(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    changes = [
        FlagChange(
            uuid4(), actor.tenant_id, "sms", None, True, "platform_admin:a", start + timedelta(seconds=i)
        )
        for i in range(4)
    ]
    async with storage.units(actor.tenant_id) as uow:
        for change in changes:
            await uow.flags.record(change)
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.flags.changes(limit=3) == changes[::-1][:3]

    other = await storage.new_tenant()
    async with storage.units(other.tenant_id) as uow:
        assert await uow.flags.changes(limit=10) == []
