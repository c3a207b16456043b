"""Avatar video use cases: the decisions and the records around the provider's calls.

The calls themselves (listing the catalogs, generating, asking for a status) are made by the
entrypoints (entrypoints/avatar_videos.py) with no transaction open; these functions decide what
to ask for and record what came back.

- **Catalogs**: ``catalog_plan`` answers the tenant's cached copy while it is fresh (two hours,
  same connection) and otherwise says to fetch; ``keep_catalog`` stores what was fetched.
- **Requesting** a video (``request_video``) stores it ``queued`` with an outbox job
  (``avatar_video.generate``) in the same transaction. A client's Idempotency-Key is stored on
  the video: the same key again answers the same video, whenever it comes back.
- **Generating** (``video_to_generate``, ``video_submitted``): the worker sends the video with
  our id as the provider's callback id and idempotency key, stores the provider's id (status
  ``processing``) and queues the first status check.
- **Settling**: a provider's report, by webhook (``apply_report``) or by polling
  (``poll_answered``), moves the video forward only; the poll chain stops at the first turn that
  finds the video final.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.avatar_videos.model import (
    ERROR_MAX,
    POLL_LIMIT,
    SCRIPT_MAX,
    TITLE_MAX,
    URL_MAX,
    AvatarVideo,
    CachedCatalog,
    CatalogItem,
    CatalogKind,
    VideoFilter,
    VideoReport,
    VideoStatus,
    clean_dimension,
    clean_provider_id,
    clean_text,
    parse_status,
    poll_delay,
    short,
)
from switchboard.core.errors import Conflict, NotFound, gather
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import OutboxMessage, new_outbox_message
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork

FEATURE = "avatar_video"
GENERATE_JOB = "avatar_video.generate"
POLL_JOB = "avatar_video.poll"
GENERATE_MAX_ATTEMPTS = 8
POLL_MAX_ATTEMPTS = 5  # failures of one status check, each retried with the outbox's backoff
VIDEO_NOT_FOUND = "no avatar video with this id"
NOT_CONNECTED = "no avatar_video provider is connected: connect one with POST /v1/integrations"


# --- commands and answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestVideo:
    title: str
    script: str
    avatar_id: str
    voice_id: str
    width: int | None = None
    height: int | None = None
    request_key: str | None = None  # the client's Idempotency-Key


@dataclass(frozen=True)
class Requested:
    video: AvatarVideo
    created: bool  # False: the request key named a video requested before


@dataclass(frozen=True)
class ListVideos:
    page: PageRequest = field(default_factory=PageRequest)
    status: str | None = None


@dataclass(frozen=True)
class CatalogPlan:
    tenant_id: UUID
    integration: Integration
    cached: CachedCatalog | None  # fresh and usable as it is; None: fetch it


@dataclass(frozen=True)
class GeneratePlan:
    video: AvatarVideo
    current_provider: str | None  # the tenant's avatar_video provider now, if any


# --- catalogs ----------------------------------------------------------------------------------


async def catalog_plan(
    kind: CatalogKind, principal: Principal, uow: UnitOfWork, clock: Clock, *, refresh: bool = False
) -> CatalogPlan:
    """The tenant's cached catalog when it is fresh; a forced refresh is for managers."""
    require(principal, Action.AVATAR_VIDEOS_MANAGE if refresh else Action.AVATAR_VIDEOS_READ)
    async with uow:
        await ensure_enabled(uow, FEATURE)
        integration = await _connection(uow)
        cached = await uow.avatar_catalogs.get(kind)
    usable = cached if cached and not refresh and cached.fresh(integration.id, clock.now()) else None
    return CatalogPlan(principal.tenant_id, integration, usable)


async def keep_catalog(
    plan: CatalogPlan, kind: CatalogKind, items: list[CatalogItem], uow: UnitOfWork, clock: Clock
) -> CachedCatalog:
    catalog = CachedCatalog(plan.tenant_id, kind, plan.integration.id, clock.now(), tuple(items))
    async with uow:
        await uow.avatar_catalogs.save(catalog)
        await uow.commit()
    return catalog


# --- requesting, reading -----------------------------------------------------------------------


async def request_video(cmd: RequestVideo, principal: Principal, uow: UnitOfWork, clock: Clock) -> Requested:
    require(principal, Action.AVATAR_VIDEOS_WRITE)
    checks: dict[str, Callable[[], Any]] = {
        "title": lambda: clean_text(cmd.title, "title", TITLE_MAX),
        "script": lambda: clean_text(cmd.script, "script", SCRIPT_MAX),
        "avatar_id": lambda: clean_provider_id(cmd.avatar_id, "avatar_id"),
        "voice_id": lambda: clean_provider_id(cmd.voice_id, "voice_id"),
        "dimension": lambda: clean_dimension(cmd.width, cmd.height),
    }
    checked = gather(checks)
    now = clock.now()
    async with uow:
        await ensure_enabled(uow, FEATURE)
        if cmd.request_key is not None:
            earlier = await uow.avatar_videos.get_by_request_key(cmd.request_key)
            if earlier is not None:
                return Requested(earlier, created=False)
        integration = await _connection(uow)
        width, height = checked["dimension"]
        video = AvatarVideo(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            integration_id=integration.id,
            provider=integration.provider,
            title=checked["title"],
            script=checked["script"],
            avatar_id=checked["avatar_id"],
            voice_id=checked["voice_id"],
            width=width,
            height=height,
            status=VideoStatus.QUEUED,
            created_at=now,
            updated_at=now,
            request_key=cmd.request_key,
        )
        await uow.avatar_videos.add(video)
        await uow.outbox.add(_generate_job(video, now))
        await uow.audit.record(
            "avatar_video.requested",
            "avatar_video",
            str(video.id),
            {
                "title": video.title,
                "avatar_id": video.avatar_id,
                "voice_id": video.voice_id,
                "provider": video.provider,
            },
        )
        await uow.commit()
    return Requested(video, created=True)


async def get_video(video_id: UUID, principal: Principal, uow: UnitOfWork) -> AvatarVideo:
    require(principal, Action.AVATAR_VIDEOS_READ)
    async with uow:
        await ensure_enabled(uow, FEATURE)
        video = await uow.avatar_videos.get(video_id)
    if video is None:
        raise NotFound(VIDEO_NOT_FOUND)
    return video


async def list_videos(cmd: ListVideos, principal: Principal, uow: UnitOfWork) -> Page[AvatarVideo]:
    require(principal, Action.AVATAR_VIDEOS_READ)
    status = parse_status(cmd.status) if cmd.status is not None else None
    async with uow:
        await ensure_enabled(uow, FEATURE)
        return await uow.avatar_videos.list(VideoFilter(status), cmd.page)


# --- the worker: generating --------------------------------------------------------------------


async def video_to_generate(video_id: UUID, uow: UnitOfWork) -> GeneratePlan | None:
    """None when there is nothing to send: the video is gone, already sent, or settled."""
    async with uow:
        video = await uow.avatar_videos.get(video_id)
        if video is None or video.provider_video_id is not None or video.status.final:
            return None
        integration = await uow.integrations.enabled_for(Capability.AVATAR_VIDEO)
    return GeneratePlan(video, integration.provider if integration else None)


async def video_submitted(video_id: UUID, provider_video_id: str, uow: UnitOfWork, clock: Clock) -> None:
    """The provider accepted the video: keep its id, mark it processing (unless a report came
    first and settled it), and queue the first status check."""
    now = clock.now()
    async with uow:
        current = await uow.avatar_videos.get(video_id, for_update=True)
        if current is None or current.provider_video_id is not None:
            return
        status = VideoStatus.PROCESSING if current.status is VideoStatus.QUEUED else current.status
        updated = replace(
            current,
            provider_video_id=provider_video_id,
            status=status,
            updated_at=now,
            version=current.version + 1,
        )
        if not await uow.avatar_videos.update(updated, expected_version=current.version):
            raise Conflict("the video changed while it was being submitted")
        if not status.final:
            await uow.outbox.add(_poll_job(updated, 1, now))
        await uow.commit()


async def fail_video(video_id: UUID, reason: str, uow: UnitOfWork, clock: Clock) -> None:
    """The video can never be made (the provider refused it, or is no longer connected)."""
    async with uow:
        current = await uow.avatar_videos.get(video_id, for_update=True)
        if current is None or current.status.final:
            return
        await _settle(uow, current, VideoStatus.FAILED, clock.now(), error=reason)
        await uow.commit()


# --- settling: webhooks and polling -------------------------------------------------------------


async def apply_report(
    report: VideoReport, provider: str, uow: UnitOfWork, clock: Clock
) -> AvatarVideo | None:
    """Move the video the report is about forward; None when it is not one of ours. Applying
    a report twice, or after a later one, changes nothing."""
    async with uow:
        video = await _reported(uow, report, provider)
        if video is None:
            return None
        if not video.status.advances_to(report.status) and video.provider_video_id is not None:
            return video
        now = clock.now()
        if video.status.advances_to(report.status):
            video = await _settle(uow, video, report.status, now, report)
        else:  # already final, but its provider id was not stored yet: keep it
            video = await _save(uow, replace(video, provider_video_id=report.provider_video_id), now)
        await uow.commit()
    return video


async def video_to_poll(video_id: UUID, uow: UnitOfWork) -> AvatarVideo | None:
    """None when polling is over: the video is gone or final (a webhook settled it)."""
    async with uow:
        video = await uow.avatar_videos.get(video_id)
    if video is None or video.status.final or video.provider_video_id is None:
        return None
    return video


async def poll_answered(
    video: AvatarVideo, report: VideoReport, poll: int, uow: UnitOfWork, clock: Clock
) -> None:
    """Apply a final answer, or queue the next check while the limit allows."""
    if report.status.final:
        await apply_report(replace(report, callback_id=str(video.id)), video.provider, uow, clock)
        return
    now = clock.now()
    async with uow:
        current = await uow.avatar_videos.get(video.id, for_update=True)
        if current is None or current.status.final:
            return
        if current.status.advances_to(report.status):
            current = await _settle(uow, current, report.status, now)
        if poll < POLL_LIMIT:
            await uow.outbox.add(_poll_job(current, poll + 1, now))
        await uow.commit()


# --- helpers -----------------------------------------------------------------------------------


async def _connection(uow: UnitOfWork) -> Integration:
    integration = await uow.integrations.enabled_for(Capability.AVATAR_VIDEO)
    if integration is None:
        raise Conflict(NOT_CONNECTED, code="provider_not_connected")
    return integration


async def _reported(uow: UnitOfWork, report: VideoReport, provider: str) -> AvatarVideo | None:
    """The video a report names: by our id echoed as its callback id, else by the provider's."""
    video = None
    if report.callback_id:
        try:
            video = await uow.avatar_videos.get(UUID(report.callback_id), for_update=True)
        except ValueError:
            video = None  # a callback id that is not ours (a video made outside Switchboard)
    if video is None:
        video = await uow.avatar_videos.get_by_provider_id(
            provider, report.provider_video_id, for_update=True
        )
    if video is None or video.provider != provider:
        return None
    if video.provider_video_id not in (None, report.provider_video_id):
        return None  # our id, but another video at the provider: not this one's report
    return video


async def _settle(
    uow: UnitOfWork,
    video: AvatarVideo,
    status: VideoStatus,
    now: datetime,
    report: VideoReport | None = None,
    error: str | None = None,
) -> AvatarVideo:
    """Move the video to ``status``, with what the report tells; audited when final."""
    updated = replace(video, status=status, finished_at=now if status.final else None)
    if report is not None:
        updated = replace(
            updated,
            provider_video_id=video.provider_video_id or report.provider_video_id,
            video_url=short(report.video_url, URL_MAX),
            thumbnail_url=short(report.thumbnail_url, URL_MAX),
            duration_ms=report.duration_ms,
        )
        error = error or report.error
    if status is VideoStatus.FAILED:
        updated = replace(updated, error=short(error or "the provider could not make the video", ERROR_MAX))
    saved = await _save(uow, updated, now)
    if status.final:
        changes: dict[str, str] = {"status": status.value}
        if saved.error:
            changes["error"] = saved.error
        await uow.audit.record(f"avatar_video.{status.value}", "avatar_video", str(saved.id), changes)
    return saved


async def _save(uow: UnitOfWork, video: AvatarVideo, now: datetime) -> AvatarVideo:
    current_version = video.version
    saved = replace(video, updated_at=now, version=current_version + 1)
    if not await uow.avatar_videos.update(saved, expected_version=current_version):
        raise Conflict("the video changed meanwhile")
    return saved


def _generate_job(video: AvatarVideo, now: datetime) -> OutboxMessage:
    return new_outbox_message(
        video.tenant_id, GENERATE_JOB, {"video_id": str(video.id)}, now, max_attempts=GENERATE_MAX_ATTEMPTS
    )


def _poll_job(video: AvatarVideo, poll: int, now: datetime) -> OutboxMessage:
    message = new_outbox_message(
        video.tenant_id,
        POLL_JOB,
        {"video_id": str(video.id), "poll": poll},
        now,
        max_attempts=POLL_MAX_ATTEMPTS,
    )
    return replace(message, next_attempt_at=now + poll_delay(poll))
