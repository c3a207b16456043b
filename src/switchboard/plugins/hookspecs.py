"""The hooks a Switchboard plugin may implement. Hooks register what a plugin offers; they never
dispatch work. Every hook is prefixed ``switchboard_`` and documented here (a test insists)."""

from __future__ import annotations

import pluggy

from switchboard.plugins.spec import ProviderSpec

hookspec = pluggy.HookspecMarker("switchboard")


@hookspec
def switchboard_providers() -> list[ProviderSpec]:
    """Declare the providers this plugin offers, one ``ProviderSpec`` each.

    Called once when the plugin catalog is built. Return every provider, whatever the tenants
    use: which provider serves a tenant is data (that tenant's integration), not code. Slugs are
    global: a slug already taken by another plugin is refused and reported.
    """
    raise NotImplementedError
