"""The Quart application factory."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Quart
from quart.json.provider import JSONProvider
from quart_schema import Info, QuartSchema

import switchboard
from switchboard.entrypoints.container import Container, build_container
from switchboard.entrypoints.http import errors, observability
from switchboard.entrypoints.http.blueprints import (
    account,
    admin,
    agents,
    analytics,
    api_keys,
    audit,
    auth,
    avatar_videos,
    calendar_connections,
    calls,
    customers,
    health,
    integrations,
    knowledge_base,
    messages,
    payments,
    phone_numbers,
    public_quotes,
    reminders,
    sales,
    scheduling,
    team,
    tenant,
    webhook_endpoints,
    webhooks,
)
from switchboard.entrypoints.http.body_limits import allow_larger_bodies
from switchboard.entrypoints.http.openapi import SwitchboardOpenAPI
from switchboard.entrypoints.settings import Settings

BLUEPRINTS = (
    health,
    auth,
    account,
    tenant,
    team,
    api_keys,
    audit,
    customers,
    integrations,
    admin,
    webhooks,
    webhook_endpoints,
    scheduling,
    calendar_connections,
    sales,
    payments,
    public_quotes,
    reminders,
    # Avatar videos and the provider's avatars and voices (docs/avatar-videos.md).
    avatar_videos,
    # Text messages with customers, and opted-out numbers.
    messages,
    # Before any calls blueprint: /v1/calls/export is the analytics export, not a call id.
    analytics,
    # Voice agents, their versions, and the voice platform's phone numbers.
    agents,
    phone_numbers,
    # Agents' knowledge base documents (docs/knowledge-base.md).
    knowledge_base,
    # Calls: outbound calls, the call list and records, feedback, recording links.
    calls,
)


def create_app(container: Container | None = None) -> Quart:
    """Build the app. Nothing connects until it starts serving."""
    if container is None:
        settings = Settings()
        observability.configure_logging(settings.log_level)
        container = build_container(settings)
    settings = container.settings()

    app = Quart("switchboard", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    QuartSchema(
        app,
        info=Info(title="Switchboard API", version=switchboard.__version__),
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        security=[{"bearer": []}],
        openapi_provider_class=SwitchboardOpenAPI,
    )
    app.json = _with_orjson_parsing(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    app.register_blueprint(admin.sign_in)
    app.register_blueprint(scheduling.feeds)
    app.register_blueprint(calendar_connections.callbacks)
    app.register_blueprint(calls.recordings)
    # Every route keeps MAX_CONTENT_LENGTH but knowledge base uploads, which take larger files.
    allow_larger_bodies(app, {knowledge_base.UPLOAD_ENDPOINT: knowledge_base.body_limit(settings)})
    observability.install(app)
    errors.register_error_handlers(app)

    container.wire(packages=["switchboard.entrypoints.http"])
    app.extensions["container"] = container

    @app.before_serving
    async def open_pool() -> None:
        container.calendar_providers()  # the operator's calendar settings: a bad one stops the start
        if settings.storage == "postgres":
            await container.pool().open(wait=True, timeout=30)

    @app.after_serving
    async def close_pool() -> None:
        if settings.storage == "postgres":
            await container.pool().close()

    return app


def _with_orjson_parsing(app: Quart) -> JSONProvider:
    """The app's JSON provider (quart-schema's), parsing request bodies with orjson: faster,
    and its depth limit turns a hostile, deeply nested body into a ValueError, hence a 400,
    where the standard parser raises RecursionError."""

    class OrjsonParsing(type(app.json)):  # type: ignore[misc]
        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return orjson.loads(s)

    provider: JSONProvider = OrjsonParsing(app)
    return provider
