"""The reminder settings repository: the same behaviour on memory and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from switchboard.core.reminders.model import ReminderSettings
from tests.contract.conftest import Storage, utc_now


async def test_reminder_settings_are_absent_until_saved_then_saved_once_per_version(storage: Storage):
    actor = await storage.new_tenant()
    other = await storage.new_tenant()
    settings = ReminderSettings(
        actor.tenant_id, appointment_reminder_hours=48, updated_at=utc_now(), version=1
    )

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.reminder_settings.get() is None
        assert await uow.reminder_settings.save(settings, expected_version=0) is True
        await uow.commit()
    async with storage.units(actor.tenant_id) as uow:
        assert (
            await uow.reminder_settings.save(replace(settings, quote_follow_up=False), expected_version=0)
            is False
        )
        changed = replace(settings, invoice_overdue=False, invoice_overdue_max=5, version=2)
        assert await uow.reminder_settings.save(changed, expected_version=1) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.reminder_settings.get() == changed
    async with storage.units(other.tenant_id) as uow:
        assert await uow.reminder_settings.get() is None


async def test_uncommitted_reminder_settings_are_not_kept(storage: Storage):
    actor = await storage.new_tenant()
    settings = ReminderSettings(actor.tenant_id, quote_follow_up_days=9, updated_at=utc_now(), version=1)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.reminder_settings.save(settings, expected_version=0) is True
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.reminder_settings.get() is None
