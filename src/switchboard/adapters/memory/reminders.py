"""The reminder settings repository in memory, behaving like the PostgreSQL one."""

from __future__ import annotations

from dataclasses import replace

from switchboard.adapters.memory.repositories import _Scoped
from switchboard.core.reminders.model import ReminderSettings


class MemoryReminderSettingsRepository(_Scoped):
    async def get(self) -> ReminderSettings | None:
        found: ReminderSettings | None = self._tx.read("reminder_settings").get(self._tenant_id)
        return found

    async def save(self, settings: ReminderSettings, expected_version: int) -> bool:
        tenant_id = self._tenant_id
        if tenant_id is None:
            raise PermissionError("row violates the tenant isolation policy")
        self._check_own_tenant(tenant_id)
        current = self._tx.read("reminder_settings").get(tenant_id)
        stored_version = current.version if current is not None else 0
        if stored_version != expected_version:
            return False
        self._tx.write("reminder_settings")[tenant_id] = replace(settings, tenant_id=tenant_id)
        return True
