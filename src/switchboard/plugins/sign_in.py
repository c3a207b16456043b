"""The sign-in providers the platform operator configured: the SignInProviders port.

Sign-in happens before any tenant is known, so sign-in providers are not tenants' integrations:
the operator gives each one's settings (``SWITCHBOARD_SIGN_IN_PROVIDERS``, a JSON object keyed
by slug). They are validated once, when the server starts, with the provider's own config
model; each ``get`` then builds a fresh adapter from them, as the provider registry does for a
tenant's integration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from switchboard.core.integrations.model import Capability
from switchboard.plugins.manager import PluginCatalog
from switchboard.plugins.operator import validated_operator_configs
from switchboard.ports.sign_in import SignInProvider


class SignInMisconfigured(ValueError):
    """The operator's sign-in settings name a provider that cannot be used as they stand."""


class OperatorSignInProviders:
    """Implements the SignInProviders port over the plugin catalog.

    Raises ``SignInMisconfigured``, naming the provider, for a slug no installed plugin offers, a
    provider that is not a sign-in provider, or settings its config model refuses. The message
    names the fields at fault, never their values.
    """

    def __init__(self, catalog: PluginCatalog, configs: Mapping[str, Mapping[str, Any]]) -> None:
        self._catalog = catalog
        self._configs = validated_operator_configs(
            catalog, configs, Capability.SIGN_IN, "sign-in provider", SignInMisconfigured
        )

    def slugs(self) -> list[str]:
        return list(self._configs)

    def get(self, slug: str) -> SignInProvider | None:
        values = self._configs.get(slug)
        if values is None:
            return None
        # A new adapter each time: nothing one sign-in fetched or learned is kept for the next.
        return cast(SignInProvider, self._catalog.build(slug, values))


__all__ = ["OperatorSignInProviders", "SignInMisconfigured"]
