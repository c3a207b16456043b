"""``switchboard plugins``: what the installed plugins offer, and which failed to load."""

from __future__ import annotations

import click

from switchboard.plugins.manager import build_plugin_catalog


@click.group()
def plugins() -> None:
    """The provider plugins installed here."""


@plugins.command("list")
def list_plugins() -> None:
    """Each plugin with its version and providers; a plugin that failed to load says why."""
    catalog = build_plugin_catalog()
    for plugin in catalog.plugins:
        click.echo(f"{plugin.name} {plugin.version}")
        if plugin.error is not None:
            click.echo(f"  FAILED: {plugin.error}")
            continue
        for spec in plugin.providers:
            click.echo(f"  {spec.slug} ({spec.capability}): {spec.name}")
    failed = [p.name for p in catalog.plugins if p.error is not None]
    if failed:
        click.echo(
            f"\n{len(failed)} plugin(s) failed to load: {', '.join(failed)}; the server starts without them."
        )
