"""The calendar providers the platform operator configured: the CalendarProviders port.

Like sign-in providers, calendar providers are the operator's OAuth clients at Google and
Microsoft (``SWITCHBOARD_CALENDAR_PROVIDERS``, a JSON object keyed by plugin slug), validated
once, when the server starts, with the provider's own config model. A tenant connects its own
calendar account through one of them; that account's tokens are the tenant's integration.
Each ``get`` builds a fresh connector from the operator's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from switchboard.core.integrations.model import Capability
from switchboard.plugins.manager import PluginCatalog
from switchboard.plugins.operator import validated_operator_configs
from switchboard.ports.calendar import CalendarConnector


class CalendarMisconfigured(ValueError):
    """The operator's calendar settings name a provider that cannot be used as they stand."""


class OperatorCalendarProviders:
    """Implements the CalendarProviders port over the plugin catalog.

    Raises ``CalendarMisconfigured``, naming the provider, for a slug no installed plugin offers,
    a provider that is not a calendar provider, or settings its config model refuses. The
    message names the fields at fault, never their values.
    """

    def __init__(self, catalog: PluginCatalog, configs: Mapping[str, Mapping[str, Any]]) -> None:
        self._catalog = catalog
        self._configs = validated_operator_configs(
            catalog, configs, Capability.CALENDAR, "calendar provider", CalendarMisconfigured
        )

    def slugs(self) -> list[str]:
        return list(self._configs)

    def get(self, slug: str) -> CalendarConnector | None:
        values = self._configs.get(slug)
        if values is None:
            return None
        return cast(CalendarConnector, self._catalog.build(slug, values))


__all__ = ["CalendarMisconfigured", "OperatorCalendarProviders"]
