"""Provider plugins. A plugin is any object with ``@hookimpl`` functions named after hookspecs.

Third-party plugins are pip packages that declare an entry point in the ``switchboard.plugins``
group; see docs/plugins.md.
"""

import pluggy

from switchboard.plugins.spec import ProviderSpec

hookimpl = pluggy.HookimplMarker("switchboard")

__all__ = ["ProviderSpec", "hookimpl"]
