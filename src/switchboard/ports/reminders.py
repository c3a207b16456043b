"""The reminder settings repository (the reminders themselves are outbox jobs)."""

from __future__ import annotations

from typing import Protocol

from switchboard.core.reminders.model import ReminderSettings


class ReminderSettingsRepository(Protocol):
    async def get(self) -> ReminderSettings | None:
        """The tenant's settings; None when never saved (the defaults apply)."""
        ...

    async def save(self, settings: ReminderSettings, expected_version: int) -> bool:
        """Store the settings if the stored version is ``expected_version`` (0: none stored yet);
        False when another writer got there first."""
        ...
