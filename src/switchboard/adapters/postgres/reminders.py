"""The reminder settings repository on PostgreSQL: one row per tenant."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import Row, _Repository
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import reminder_settings
from switchboard.core.reminders.model import SETTINGS_FIELDS, ReminderSettings

_GET = compile_sql(select(reminder_settings).where(reminder_settings.c.tenant_id == bindparam("tenant_id")))
_INSERT = compile_sql(pg_insert(reminder_settings).on_conflict_do_nothing(index_elements=["tenant_id"]))
_UPDATE = compile_sql(
    update(reminder_settings)
    .where(
        reminder_settings.c.tenant_id == bindparam("tenant_id"),
        reminder_settings.c.version == bindparam("expected_version"),
    )
    .values({c.name: bindparam(c.name) for c in reminder_settings.columns if c.name != "tenant_id"})
)


class PostgresReminderSettingsRepository(_Repository):
    async def get(self) -> ReminderSettings | None:
        row = await self._one(_GET, {"tenant_id": self._tenant_id})
        return ReminderSettings(**row) if row else None

    async def save(self, settings: ReminderSettings, expected_version: int) -> bool:
        params: Row = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
        params |= {
            "tenant_id": self._tenant_id,
            "updated_at": settings.updated_at,
            "version": settings.version,
            "expected_version": expected_version,
        }
        if expected_version == 0:
            return await self._count(_INSERT, params) == 1
        return await self._count(_UPDATE, params) == 1
