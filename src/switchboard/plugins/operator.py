"""Providers the platform operator configures (sign-in, calendars), not tenants: their settings
come from the environment, keyed by plugin slug, and are checked once, when the server starts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.core.errors import InvalidInput
from switchboard.core.integrations.model import Capability
from switchboard.plugins.manager import PluginCatalog


def validated_operator_configs(
    catalog: PluginCatalog,
    configs: Mapping[str, Mapping[str, Any]],
    capability: Capability,
    what: str,
    misconfigured: type[ValueError],
) -> dict[str, dict[str, Any]]:
    """Each provider's settings, validated by its own config model.

    Raises ``misconfigured``, naming the provider, for a slug no installed plugin offers, a
    provider of another capability, or settings its model refuses; the message names the fields
    at fault, never their values. ``what`` names the kind in messages ("sign-in provider").
    """
    validated_configs: dict[str, dict[str, Any]] = {}
    for slug, config in configs.items():
        description = catalog.describe(slug)
        if description is None:
            raise misconfigured(
                f"{what} {slug!r}: no installed plugin offers it"
                " (`switchboard plugins list` shows the plugins and any that failed to load)"
            )
        if description.capability is not capability:
            raise misconfigured(
                f"{what} {slug!r}: its capability is {description.capability}, not {capability}"
            )
        if not isinstance(config, Mapping):
            raise misconfigured(f"{what} {slug!r}: its settings must be a JSON object")
        try:
            validated = catalog.validate_config(slug, dict(config))
        except InvalidInput as error:
            problems = "; ".join(f"{e.field.removeprefix('config.')}: {e.message}" for e in error.errors)
            raise misconfigured(f"{what} {slug!r} is misconfigured: {problems}") from None
        validated_configs[slug] = validated.values
    return validated_configs
