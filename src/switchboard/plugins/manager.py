"""Building the plugin manager, and the catalog of providers the installed plugins offer."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import SecretStr, ValidationError

import switchboard
from switchboard.core.errors import FieldError, InvalidInput
from switchboard.plugins import hookspecs
from switchboard.plugins.spec import ProviderSpec
from switchboard.ports.providers import (
    IncomingWebhook,
    ProviderDescription,
    ProviderEvent,
    ValidatedConfig,
    WebhookAcknowledgement,
    WebhookRejected,
)
from switchboard.ports.voice import VoiceMessages

ENTRY_POINT_GROUP = "switchboard.plugins"
log = logging.getLogger("switchboard.plugins")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    providers: list[ProviderSpec]
    error: str | None = None  # why it could not be loaded, if it could not


@dataclass
class PluginCatalog:
    """The providers on offer, by slug; implements the ProviderCatalog port."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    specs: dict[str, ProviderSpec] = field(default_factory=dict)

    def describe(self, slug: str) -> ProviderDescription | None:
        spec = self.specs.get(slug)
        if spec is None:
            return None
        return ProviderDescription(spec.slug, spec.capability, spec.name, self._owner(slug))

    def all(self) -> list[ProviderDescription]:
        return [d for slug in sorted(self.specs) if (d := self.describe(slug)) is not None]

    def validate_config(self, slug: str, config: dict[str, Any]) -> ValidatedConfig:
        spec = self.specs[slug]
        model = _validated(spec, config)
        values = model.model_dump(mode="json")  # secrets come out as '**********' here
        for name in spec.secret_fields:
            secret = getattr(model, name)
            values[name] = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        return ValidatedConfig(values=values, secret_fields=spec.secret_fields)

    def verify_webhook(
        self, slug: str, config: dict[str, Any], incoming: IncomingWebhook
    ) -> list[ProviderEvent]:
        spec = self.specs.get(slug)
        if spec is None or spec.verify_webhook is None:
            raise WebhookRejected(f"{slug} sends no webhooks here")
        return spec.verify_webhook(_validated(spec, config), incoming)

    def acknowledgement(self, slug: str) -> WebhookAcknowledgement | None:
        spec = self.specs.get(slug)
        return spec.acknowledgement if spec is not None else None

    def voice_messages(self, slug: str) -> VoiceMessages | None:
        spec = self.specs.get(slug)
        return spec.voice if spec is not None else None

    def build(self, slug: str, config: dict[str, Any]) -> object:
        """A new adapter for one stored configuration."""
        spec = self.specs[slug]
        return spec.build(_validated(spec, config))

    def _owner(self, slug: str) -> str:
        return next(p.name for p in self.plugins if any(s.slug == slug for s in p.providers))


def _validated(spec: ProviderSpec, config: dict[str, Any]) -> Any:
    try:
        return spec.config_model.model_validate(config, strict=False)
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(".".join(["config", *(str(p) for p in item["loc"])]), item["msg"])
                for item in error.errors()
            ]
        ) from error


# By import path: a provider's SDK is imported when the catalog is built, not with the server.
BUILTIN_PLUGINS = (
    "switchboard.plugins.fake:FakePlugin",
    "switchboard.plugins.stripe:StripePlugin",
    "switchboard.plugins.twilio:TwilioPlugin",
    "switchboard.plugins.sendgrid:SendGridPlugin",
    "switchboard.plugins.google:GooglePlugin",
    "switchboard.plugins.github:GitHubPlugin",
    "switchboard.plugins.google_calendar:GoogleCalendarPlugin",
    "switchboard.plugins.outlook_calendar:OutlookCalendarPlugin",
    "switchboard.plugins.heygen:HeyGenPlugin",
    "switchboard.plugins.vapi:VapiPlugin",
    "switchboard.plugins.retell:RetellPlugin",
)


def build_plugin_catalog(*, load_entry_points: bool = True) -> PluginCatalog:
    """Register the built-in plugins, then every installed ``switchboard.plugins`` entry point.

    A plugin that fails to import or to declare its providers is recorded with its error and
    left out; the others, and the server, carry on.
    """
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)
    for path in BUILTIN_PLUGINS:
        module, _, name = path.partition(":")
        plugin_class = getattr(importlib.import_module(module), name)
        _register(catalog, plugin_class(), plugin_class.name, switchboard.__version__)
    if load_entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            version = entry_point.dist.version if entry_point.dist else "unknown"
            try:
                plugin = entry_point.load()
            except Exception as error:  # an integrator's bug must not take the server down
                _failed(catalog, entry_point.name, version, error)
                continue
            _register(catalog, plugin, entry_point.name, version)
    manager.check_pending()
    return catalog


def _register(catalog: PluginCatalog, plugin: object, name: str, version: str) -> None:
    try:
        catalog.manager.register(plugin, name=name)
        catalog.manager.check_pending()  # no hook the specs do not know, no wrong signature
        # Ask this plugin alone (under whatever name it implements the hook, pluggy's specname
        # included), so each provider is attributed to the plugin that offers it.
        offered = [
            spec
            for hook in catalog.manager.hook.switchboard_providers.get_hookimpls()
            if hook.plugin is plugin
            for spec in hook.function()
        ]
        for spec in offered:
            if not isinstance(spec, ProviderSpec):
                raise TypeError(f"switchboard_providers returned {type(spec).__name__}, not ProviderSpec")
            if spec.slug in catalog.specs or [o.slug for o in offered].count(spec.slug) > 1:
                raise ValueError(f"provider slug {spec.slug!r} is already taken")
    except Exception as error:
        if catalog.manager.is_registered(plugin):
            catalog.manager.unregister(plugin)
        _failed(catalog, name, version, error)
        return
    for spec in offered:
        catalog.specs[spec.slug] = spec
    catalog.plugins.append(PluginInfo(name, version, offered))


def _failed(catalog: PluginCatalog, name: str, version: str, error: Exception) -> None:
    reason = f"{type(error).__name__}: {error}"
    log.error("plugin %s %s not loaded: %s", name, version, reason)
    catalog.plugins.append(PluginInfo(name, version, [], reason))
