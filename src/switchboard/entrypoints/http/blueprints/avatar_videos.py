"""Avatar videos over HTTP, through the tenant's avatar_video provider (HeyGen): its avatars and
voices (cached per tenant for two hours), generating a video from a script, and the history.
docs/avatar-videos.md has the whole story.

- ``GET /v1/avatar-videos/avatars``, ``GET /v1/avatar-videos/voices``: the catalogs, in id order,
  paged; ``?refresh=true`` (owners and admins) fetches them from the provider at once;
- ``POST /v1/avatar-videos``: request a video (202, ``queued``); the worker sends it and the
  provider's signed webhook, or polling when none comes, settles it. Honours Idempotency-Key,
  and the key is kept with the video: the same key later answers the same video;
- ``GET /v1/avatar-videos`` (newest first, ``?status=``) and ``GET /v1/avatar-videos/{id}``.

The whole family needs the ``avatar_video`` feature (the pro plan, or a platform admin's say).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, request
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.avatar_videos import handlers
from switchboard.core.avatar_videos.model import (
    DIMENSION_MAX,
    DIMENSION_MIN,
    PROVIDER_ID_MAX,
    SCRIPT_MAX,
    TITLE_MAX,
    Avatar,
    AvatarVideo,
    CachedCatalog,
    CatalogKind,
    VideoStatus,
    Voice,
    catalog_page,
)
from switchboard.entrypoints import avatar_videos as provider_calls
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory
from switchboard.ports.providers import ProviderRegistry

blueprint = Blueprint("avatar_videos", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)

TAG = ["avatar videos"]


# --- request and response models ---------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DimensionIn(_Strict):
    width: int = Field(ge=DIMENSION_MIN, le=DIMENSION_MAX, description="Pixels")
    height: int = Field(ge=DIMENSION_MIN, le=DIMENSION_MAX, description="Pixels")


class AvatarVideoIn(_Strict):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    script: str = Field(min_length=1, max_length=SCRIPT_MAX, description="What the avatar says")
    avatar_id: str = Field(min_length=1, max_length=PROVIDER_ID_MAX, description="From GET .../avatars")
    voice_id: str = Field(min_length=1, max_length=PROVIDER_ID_MAX, description="From GET .../voices")
    dimension: DimensionIn | None = Field(default=None, description="Default 1280 x 720")


class DimensionOut(BaseModel):
    width: int
    height: int


class AvatarVideoOut(BaseModel):
    object: Literal["avatar_video"]
    id: UUID
    title: str
    script: str
    avatar_id: str
    voice_id: str
    dimension: DimensionOut
    status: VideoStatus
    provider: str
    video_url: str | None = Field(description="Where the finished video is, once completed")
    thumbnail_url: str | None
    duration_ms: int | None
    error: str | None = Field(description="Why it failed, once failed")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class AvatarVideoListOut(ListOut[AvatarVideoOut]):
    """Avatar videos, newest first."""


class AvatarVideoListQuery(ListQuery):
    status: VideoStatus | None = None


class CatalogQuery(ListQuery):
    refresh: bool = Field(default=False, description="true: fetch from the provider now (owners and admins)")


class AvatarOut(BaseModel):
    object: Literal["avatar"]
    id: str
    name: str
    gender: str | None
    preview_image_url: str | None
    preview_video_url: str | None


class VoiceOut(BaseModel):
    object: Literal["voice"]
    id: str
    name: str
    language: str | None
    gender: str | None
    preview_audio_url: str | None


class AvatarListOut(ListOut[AvatarOut]):
    """The provider's avatars, in id order, as fetched at ``fetched_at``."""

    fetched_at: datetime


class VoiceListOut(ListOut[VoiceOut]):
    """The provider's voices, in id order, as fetched at ``fetched_at``."""

    fetched_at: datetime


# --- renderers ---------------------------------------------------------------------------------


def render_video(video: AvatarVideo) -> dict[str, Any]:
    return {
        "object": "avatar_video",
        "id": video.id,
        "title": video.title,
        "script": video.script,
        "avatar_id": video.avatar_id,
        "voice_id": video.voice_id,
        "dimension": {"width": video.width, "height": video.height},
        "status": video.status.value,
        "provider": video.provider,
        "video_url": video.video_url,
        "thumbnail_url": video.thumbnail_url,
        "duration_ms": video.duration_ms,
        "error": video.error,
        "created_at": video.created_at,
        "updated_at": video.updated_at,
        "finished_at": video.finished_at,
    }


def _render_item(item: Avatar | Voice) -> dict[str, Any]:
    if isinstance(item, Avatar):
        return {
            "object": "avatar",
            "id": item.id,
            "name": item.name,
            "gender": item.gender,
            "preview_image_url": item.preview_image_url,
            "preview_video_url": item.preview_video_url,
        }
    return {
        "object": "voice",
        "id": item.id,
        "name": item.name,
        "language": item.language,
        "gender": item.gender,
        "preview_audio_url": item.preview_audio_url,
    }


def _encode_after(item_id: str) -> str:
    return base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")


def _decode_after(cursor: str) -> str:
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ApiError(400, "the cursor is not one this API issued", "invalid_cursor") from error
    if not after:
        raise ApiError(400, "the cursor is not one this API issued", "invalid_cursor")
    return after


def _catalog_response(found: CachedCatalog, query: CatalogQuery) -> Response:
    after = _decode_after(query.cursor) if query.cursor else None
    items, next_after = catalog_page(found.items, after, query.limit)
    return json_response(
        {
            "object": "list",
            "data": [_render_item(item) for item in items],
            "has_more": next_after is not None,
            "next_cursor": _encode_after(next_after) if next_after is not None else None,
            "fetched_at": found.fetched_at,
        }
    )


# --- catalogs ----------------------------------------------------------------------------------


@blueprint.get("/avatar-videos/avatars")
@tag(TAG)
@validate_querystring(CatalogQuery)
@document_response(AvatarListOut)
@inject
async def list_avatars(
    query_args: CatalogQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    registry: ProviderRegistry = Provide[Container.provider_registry],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """The provider's avatars, from the tenant's copy fetched within the last two hours."""
    return _catalog_response(
        await _catalog(CatalogKind.AVATARS, query_args, units, registry, clock), query_args
    )


@blueprint.get("/avatar-videos/voices")
@tag(TAG)
@validate_querystring(CatalogQuery)
@document_response(VoiceListOut)
@inject
async def list_voices(
    query_args: CatalogQuery,
    units: UnitOfWorkFactory = Provide[Container.units],
    registry: ProviderRegistry = Provide[Container.provider_registry],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """The provider's voices, from the tenant's copy fetched within the last two hours."""
    return _catalog_response(
        await _catalog(CatalogKind.VOICES, query_args, units, registry, clock), query_args
    )


async def _catalog(
    kind: CatalogKind, query: CatalogQuery, units: UnitOfWorkFactory, registry: ProviderRegistry, clock: Clock
) -> CachedCatalog:
    principal, _ = acting(units)
    return await provider_calls.catalog(
        kind, principal, lambda: acting(units)[1], registry, clock, refresh=query.refresh
    )


# --- videos ------------------------------------------------------------------------------------


@blueprint.post("/avatar-videos")
@tag(TAG)
@validate_request(AvatarVideoIn)
@document_response(AvatarVideoOut, 202)
@idempotent
@inject
async def request_video(
    data: AvatarVideoIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Ask for a video of the avatar saying the script in the voice: 202 with the video
    ``queued``; follow it with GET. Honours Idempotency-Key, for good: the same key answers the
    same video."""
    command = handlers.RequestVideo(
        title=data.title,
        script=data.script,
        avatar_id=data.avatar_id,
        voice_id=data.voice_id,
        width=data.dimension.width if data.dimension else None,
        height=data.dimension.height if data.dimension else None,
        request_key=request.headers.get("Idempotency-Key"),
    )
    requested = await handlers.request_video(command, *acting(units), clock)
    video = requested.video
    return json_response(render_video(video), 202, {"Location": f"/v1/avatar-videos/{video.id}"})


@blueprint.get("/avatar-videos")
@tag(TAG)
@validate_querystring(AvatarVideoListQuery)
@document_response(AvatarVideoListOut)
@inject
async def list_videos(
    query_args: AvatarVideoListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The tenant's avatar videos, newest first; ``status`` filters."""
    command = handlers.ListVideos(
        page_request(query_args), query_args.status.value if query_args.status else None
    )
    page = await handlers.list_videos(command, *acting(units))
    return list_response(page, render_video, encode_cursor)


@blueprint.get("/avatar-videos/<uuid:video_id>")
@tag(TAG)
@document_response(AvatarVideoOut)
@inject
async def get_video(video_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """One avatar video: its status, and once completed where the video is."""
    return json_response(render_video(await handlers.get_video(video_id, *acting(units))))
