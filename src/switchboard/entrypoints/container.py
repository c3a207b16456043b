"""The composition root: every port bound to its adapter, in one place.

Storage is chosen by configuration (``memory`` or ``postgres``) through a Selector; tests swap
any provider with ``container.<provider>.override(...)``. Nothing here does I/O when built: the
connection pool is created closed and opened by the app when it starts serving.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TypeVar

from dependency_injector import containers, providers

from switchboard.adapters.calendar_busy import busy_times_for
from switchboard.adapters.clock import SystemClock
from switchboard.adapters.documents.text import DocumentTextExtractor
from switchboard.adapters.email.console import ConsoleEmailSender
from switchboard.adapters.files.local import LocalFileStorage
from switchboard.adapters.files.memory import MemoryFileStorage
from switchboard.adapters.files.s3 import S3FileStorage
from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import (
    MemoryIdentityDirectory,
    MemoryJobClaims,
    MemoryUnitOfWork,
)
from switchboard.adapters.pdf.renderer import FpdfDocumentRenderer
from switchboard.adapters.postgres.database import app_conninfo, make_pool
from switchboard.adapters.postgres.unit_of_work import (
    PostgresIdentityDirectory,
    PostgresJobClaims,
    PostgresUnitOfWork,
)
from switchboard.adapters.recording_source import HttpRecordingSource
from switchboard.adapters.security.passwords import Argon2PasswordHasher
from switchboard.adapters.security.recording_links import JwtRecordingLinks
from switchboard.adapters.security.secret_box import FernetSecretBox
from switchboard.adapters.security.tokens import JwtAccessTokens
from switchboard.adapters.security.totp import PyotpOneTimePasswords
from switchboard.adapters.throttling.limits_throttle import LimitsAttemptThrottle
from switchboard.adapters.tool_runs import IdempotencyKeyLedger
from switchboard.adapters.webhooks.sender import HttpWebhookSender
from switchboard.core.identity.sessions import Identity
from switchboard.core.integrations.webhooks import WebhookReception
from switchboard.core.sales.public import QuoteLinks
from switchboard.core.scheduling.calendar_sync import CalendarConnections, CalendarSync
from switchboard.entrypoints.avatar_videos import video_event_handlers, video_performers
from switchboard.entrypoints.knowledge_sync import knowledge_performers
from switchboard.entrypoints.messaging import message_event_handlers, message_performers
from switchboard.entrypoints.online_payments import payment_event_handlers, payment_performers
from switchboard.entrypoints.readiness import AlwaysReady, PostgresReadiness
from switchboard.entrypoints.settings import Settings
from switchboard.entrypoints.voice_calls import call_performers, voice_event_router
from switchboard.entrypoints.voice_sync import voice_performers
from switchboard.entrypoints.worker import Worker
from switchboard.plugins.calendars import OperatorCalendarProviders
from switchboard.plugins.manager import build_plugin_catalog
from switchboard.plugins.registry import PluginProviderRegistry
from switchboard.plugins.sign_in import OperatorSignInProviders

K = TypeVar("K")
V = TypeVar("V")


def _merged(*groups: dict[K, V]) -> dict[K, V]:
    """Performers or event handlers of several slices, as one table."""
    return {key: value for group in groups for key, value in group.items()}


def _s3_file_storage(settings: Settings) -> S3FileStorage:
    secret = settings.s3_secret_access_key
    return S3FileStorage(
        settings.s3_bucket or "",
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration()

    clock = providers.Singleton(SystemClock)
    password_hasher = providers.Singleton(Argon2PasswordHasher)
    access_tokens = providers.Singleton(
        JwtAccessTokens,
        signing_key=providers.Callable(lambda s: s.signing_key(), settings),
        lifetime_seconds=config.access_token_lifetime_seconds,
    )

    memory_store = providers.Singleton(MemoryStore)
    pool = providers.Singleton(
        make_pool,
        conninfo=providers.Callable(lambda s: app_conninfo(s.database_url, s.app_password()), settings),
        size=config.database_pool_size,
    )

    # A UnitOfWorkFactory: called with (tenant_id, user_id) for one unit of work.
    units = providers.Selector(
        config.storage,
        memory=providers.Singleton(partial, MemoryUnitOfWork, memory_store),
        postgres=providers.Singleton(partial, PostgresUnitOfWork, pool),
    )
    directory = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryIdentityDirectory, memory_store),
        postgres=providers.Singleton(PostgresIdentityDirectory, pool),
    )

    plugins = providers.Singleton(build_plugin_catalog)
    secret_box = providers.Singleton(
        FernetSecretBox, keys=providers.Callable(lambda s: s.secret_keys(), settings)
    )
    # Providers' incoming calls: routed to their tenants, verified, stored (one per process: it
    # remembers routes and opened configurations).
    webhook_reception = providers.Singleton(WebhookReception, directory, units, plugins, secret_box, clock)
    provider_registry = providers.Singleton(
        PluginProviderRegistry, units, plugins, secret_box, providers.Singleton(ConsoleEmailSender)
    )

    throttle = providers.Singleton(LimitsAttemptThrottle, config.rate_limit_storage_url)
    one_time_passwords = providers.Singleton(PyotpOneTimePasswords)
    identity = providers.Singleton(
        Identity,
        directory=directory,
        units=units,
        hasher=password_hasher,
        tokens=access_tokens,
        clock=clock,
        throttle=throttle,
        otp=one_time_passwords,
        box=secret_box,
        app_url=config.app_url,
    )
    sign_in_providers = providers.Singleton(OperatorSignInProviders, plugins, config.sign_in_providers)

    # Sales: quotes and invoices as PDF; the ports of the public quote page.
    document_renderer = providers.Singleton(FpdfDocumentRenderer)
    quote_links = providers.Singleton(QuoteLinks, directory=directory, units=units, clock=clock)

    # Connected calendars: the operator's OAuth clients (SWITCHBOARD_CALENDAR_PROVIDERS), what
    # connecting a tenant's account needs, the worker's pushes and syncs, and busy times (none
    # at all when no calendar provider is configured).
    calendar_providers = providers.Singleton(OperatorCalendarProviders, plugins, config.calendar_providers)
    calendar_connections = providers.Singleton(
        CalendarConnections,
        units=units,
        providers=calendar_providers,
        tokens=access_tokens,
        box=secret_box,
        clock=clock,
    )
    calendar_sync = providers.Singleton(
        CalendarSync,
        units=units,
        providers=calendar_providers,
        box=secret_box,
        clock=clock,
        sync_every=providers.Callable(lambda m: timedelta(minutes=m), config.calendar_sync_minutes),
    )
    busy_times = providers.Singleton(
        busy_times_for, calendar_providers, calendar_sync, config.calendar_busy_cache_seconds
    )
    # Agents' knowledge base: where uploaded files are kept (SWITCHBOARD_FILE_STORAGE), and
    # the text read out of them.
    file_storage = providers.Selector(
        providers.Callable(lambda s: s.file_storage_kind(), settings),
        memory=providers.Singleton(MemoryFileStorage),
        local=providers.Singleton(
            LocalFileStorage, providers.Callable(lambda s: s.file_storage_root(), settings)
        ),
        s3=providers.Singleton(_s3_file_storage, settings),
    )
    text_extractor = providers.Singleton(DocumentTextExtractor)
    # The live-call tool server's answers kept for a platform's retries (core/calls/live.py).
    tool_run_ledger = providers.Singleton(IdempotencyKeyLedger, units)

    job_claims = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryJobClaims, memory_store, clock),
        postgres=providers.Singleton(PostgresJobClaims, pool),
    )
    webhook_sender = providers.Singleton(HttpWebhookSender, allow_loopback=config.webhooks_allow_loopback)
    # Call recordings: short-lived signed links, and the bytes read from the platform's address.
    recording_links = providers.Singleton(
        JwtRecordingLinks, signing_key=providers.Callable(lambda s: s.signing_key(), settings)
    )
    recording_source = providers.Singleton(HttpRecordingSource, allow_loopback=config.webhooks_allow_loopback)
    worker = providers.Factory(
        Worker,
        job_claims,
        units,
        provider_registry,
        clock,
        webhook_sender,
        secret_box,
        # Payments and refunds that providers' events tell of; refunds sent to providers.
        event_handlers=providers.Factory(
            _merged,
            providers.Factory(payment_event_handlers, plugins, units, clock),
            # Inbound text messages and their status callbacks (docs/messaging.md).
            providers.Factory(message_event_handlers, plugins, units, clock),
            # Avatar videos finished or failed at their provider (docs/avatar-videos.md).
            providers.Factory(video_event_handlers, plugins, units, clock),
        ),
        # Every message of a voice platform, whatever its type, recorded on its call.
        event_routers=providers.List(providers.Factory(voice_event_router, plugins, units, clock)),
        performers=providers.Factory(
            _merged,
            providers.Factory(payment_performers, units, provider_registry, clock),
            # Text messages to customers, checked against opt-outs at send time.
            providers.Factory(message_performers, units, provider_registry, clock),
            # Bookings pushed to connected calendars, and their periodic syncs.
            providers.Callable(lambda sync: sync.performers(), calendar_sync),
            # Outbound calls placed, and live calls hung up, at the tenant's voice platform.
            providers.Factory(call_performers, units, provider_registry, clock),
            # Voice agents and phone numbers kept in step with the tenant's voice platform.
            providers.Factory(voice_performers, units, provider_registry, clock, config.public_url),
            # Knowledge base files sent to and removed from the voice platform, and from storage.
            providers.Factory(knowledge_performers, units, provider_registry, file_storage, clock),
            # Avatar videos sent to their provider, and their status checks when no webhook comes.
            providers.Factory(video_performers, units, provider_registry, clock),
        ),
    )

    readiness = providers.Selector(
        config.storage,
        memory=providers.Singleton(AlwaysReady),
        postgres=providers.Singleton(PostgresReadiness, pool),
    )


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.config.from_dict(settings.model_dump())
    return container
