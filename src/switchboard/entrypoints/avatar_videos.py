"""Avatar videos: the provider calls around the core's decisions (core/avatar_videos/handlers.py),
for the HTTP routes and the worker.

The core decides and records; here the tenant's provider is called with no transaction open,
and its failures become the core's errors: in a request ``ProviderUnavailable`` (try again) or
``ProviderRefused``; in the worker a retry of the job, or a failed video when retrying cannot help.

The worker gets a handler for every video event an avatar_video plugin reads
(``ProviderSpec.video_events``), and the performers of the ``avatar_video.generate`` and
``avatar_video.poll`` outbox jobs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from uuid import UUID

import structlog

from switchboard.core.avatar_videos import handlers as core
from switchboard.core.avatar_videos.model import (
    CachedCatalog,
    CatalogItem,
    CatalogKind,
    VideoReport,
)
from switchboard.core.errors import DomainError
from switchboard.core.identity.model import Principal
from switchboard.core.queues.model import InboxEvent, OutboxMessage, PermanentFailure
from switchboard.entrypoints.provider_jobs import guarded, retry_or_fail
from switchboard.plugins.manager import PluginCatalog
from switchboard.ports.avatar_video import AvatarVideoPort, VideoRequest
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWork, UnitOfWorkFactory
from switchboard.ports.providers import ProviderError, ProviderEvent, ProviderRegistry

log = structlog.get_logger("switchboard.avatar_videos")

EventHandler = Callable[[InboxEvent], Awaitable[None]]
Performer = Callable[[OutboxMessage], Awaitable[None]]


async def catalog(
    kind: CatalogKind,
    principal: Principal,
    unit: Callable[[], UnitOfWork],
    registry: ProviderRegistry,
    clock: Clock,
    *,
    refresh: bool = False,
) -> CachedCatalog:
    """The tenant's avatars or voices: its cached copy while fresh, else fetched (a read, so it
    is made in the request) and kept for every process to share."""
    plan = await core.catalog_plan(kind, principal, unit(), clock, refresh=refresh)
    if plan.cached is not None:
        return plan.cached
    provider = await registry.avatar_video_for(plan.tenant_id)
    fetch = provider.list_avatars if kind is CatalogKind.AVATARS else provider.list_voices
    items: list[CatalogItem] = list(
        await guarded(plan.integration.provider, fetch(), "avatar_video_provider_failed")
    )
    return await core.keep_catalog(plan, kind, items, unit(), clock)


# --- the worker ----------------------------------------------------------------------------------


def video_event_handlers(
    catalog: PluginCatalog, units: UnitOfWorkFactory, clock: Clock
) -> dict[tuple[str, str], EventHandler]:
    """A handler for each (provider, event type) an avatar_video plugin reads."""
    return {
        (slug, event_type): partial(_handle_event, read, units, clock)
        for slug, spec in catalog.specs.items()
        for event_type, read in spec.video_events.items()
    }


async def _handle_event(
    read: Callable[[ProviderEvent], VideoReport], units: UnitOfWorkFactory, clock: Clock, event: InboxEvent
) -> None:
    report = read(ProviderEvent(event.event_id, event.type, event.data, event.occurred_at))
    video = await core.apply_report(report, event.provider, units(event.tenant_id), clock)
    if video is None:
        log.info("avatar_video_event_ignored", provider=event.provider, event_id=event.event_id)


def video_performers(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock
) -> dict[str, Performer]:
    return {
        core.GENERATE_JOB: partial(generate_video, units, registry, clock),
        core.POLL_JOB: partial(poll_video, units, registry, clock),
    }


def _payload(job: OutboxMessage) -> tuple[UUID, int]:
    try:
        return UUID(str(job.payload["video_id"])), int(job.payload.get("poll", 0))
    except (KeyError, ValueError, TypeError) as error:
        raise PermanentFailure(f"malformed {job.kind} payload: {error}") from error


async def generate_video(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, job: OutboxMessage
) -> None:
    """Send the video to the provider with our id as its callback id and idempotency key, and
    keep the provider's id. A refusal, or failures until the last attempt, fail the video."""
    video_id, _ = _payload(job)
    tenant_id = job.tenant_id
    plan = await core.video_to_generate(video_id, units(tenant_id))
    if plan is None:
        return  # already sent, settled, or gone
    video = plan.video
    if plan.current_provider != video.provider:
        reason = f"{video.provider}, which the video was requested from, is no longer connected"
        await core.fail_video(video_id, reason, units(tenant_id), clock)
        return
    request = VideoRequest(
        title=video.title,
        script=video.script,
        avatar_id=video.avatar_id,
        voice_id=video.voice_id,
        width=video.width,
        height=video.height,
        callback_id=str(video.id),
        idempotency_key=str(video.id),
    )
    try:
        provider: AvatarVideoPort = await registry.avatar_video_for(tenant_id)
        provider_video_id = await provider.generate_video(request)
    except ProviderError as error:  # retried with the same key while attempts remain
        await retry_or_fail(
            error,
            job,
            video.provider,
            lambda reason: core.fail_video(video_id, reason, units(tenant_id), clock),
        )
        return
    except DomainError as error:  # the feature turned off, or the provider disconnected meanwhile
        await core.fail_video(video_id, error.detail, units(tenant_id), clock)
        return
    await core.video_submitted(video_id, provider_video_id, units(tenant_id), clock)


async def poll_video(
    units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock, job: OutboxMessage
) -> None:
    """One status check of a video no webhook has settled; queues the next one if need be."""
    video_id, poll = _payload(job)
    tenant_id = job.tenant_id
    video = await core.video_to_poll(video_id, units(tenant_id))
    if video is None or video.provider_video_id is None:
        return  # settled (by a webhook, or an earlier check) or gone: the chain stops
    try:
        provider = await registry.avatar_video_for(tenant_id)
        report = await provider.video_status(video.provider_video_id)
    except ProviderError as error:
        if not error.retryable:
            await core.fail_video(video_id, f"{video.provider}: {error}", units(tenant_id), clock)
            return
        if job.attempts < job.max_attempts:
            raise
        # This check kept failing: give the chain its next turn rather than ending it here.
        report = VideoReport(video.provider_video_id, video.status)
    except DomainError:
        return  # the feature turned off or the provider disconnected: nothing can be asked
    await core.poll_answered(video, report, max(poll, 1), units(tenant_id), clock)
