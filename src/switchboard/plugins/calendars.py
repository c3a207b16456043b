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

from switchboard.core.errors import InvalidInput
from switchboard.core.integrations.model import Capability
from switchboard.plugins.manager import PluginCatalog
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
        self._configs: dict[str, dict[str, Any]] = {}
        for slug, config in configs.items():
            description = catalog.describe(slug)
            if description is None:
                raise CalendarMisconfigured(
                    f"calendar provider {slug!r}: no installed plugin offers it"
                    " (`switchboard plugins list` shows the plugins and any that failed to load)"
                )
            if description.capability is not Capability.CALENDAR:
                raise CalendarMisconfigured(
                    f"calendar provider {slug!r}: its capability is {description.capability}, not calendar"
                )
            if not isinstance(config, Mapping):
                raise CalendarMisconfigured(f"calendar provider {slug!r}: its settings must be a JSON object")
            try:
                validated = catalog.validate_config(slug, dict(config))
            except InvalidInput as error:
                problems = "; ".join(f"{e.field.removeprefix('config.')}: {e.message}" for e in error.errors)
                raise CalendarMisconfigured(
                    f"calendar provider {slug!r} is misconfigured: {problems}"
                ) from None
            self._configs[slug] = validated.values

    def slugs(self) -> list[str]:
        return list(self._configs)

    def get(self, slug: str) -> CalendarConnector | None:
        values = self._configs.get(slug)
        if values is None:
            return None
        return cast(CalendarConnector, self._catalog.build(slug, values))


__all__ = ["CalendarMisconfigured", "OperatorCalendarProviders"]
