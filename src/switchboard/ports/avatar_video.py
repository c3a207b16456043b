"""Avatar video providers in Switchboard's words, and the storage of videos and cached catalogs.

An avatar_video plugin (``heygen``, ``fake_avatar_video``) offers an ``AvatarVideoPort`` for one
tenant's configuration, and reads its provider's webhook events into ``VideoReport``s
(``ProviderSpec.video_events``). Failures are ``ProviderError`` (ports/providers.py), with
``retryable`` telling whether the same call may succeed later.

The storage protocols are attributes of the unit of work (``uow.avatar_videos``,
``uow.avatar_catalogs``), confined to its tenant like every other repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from switchboard.core.avatar_videos.model import (
    Avatar,
    AvatarVideo,
    CachedCatalog,
    CatalogKind,
    VideoFilter,
    VideoReport,
    Voice,
)
from switchboard.core.pagination import Page, PageRequest

__all__ = [
    "Avatar",
    "AvatarCatalogRepository",
    "AvatarVideoPort",
    "AvatarVideoRepository",
    "VideoReport",
    "VideoRequest",
    "Voice",
]


@dataclass(frozen=True)
class VideoRequest:
    title: str
    script: str  # what the avatar says
    avatar_id: str
    voice_id: str
    width: int
    height: int
    # Our video's id: the provider echoes it in its events, so they find the video even before
    # its provider id is stored.
    callback_id: str
    # The same for one video on every attempt, so a retried request does not make a second one
    # where the provider honours it.
    idempotency_key: str


class AvatarVideoPort(Protocol):
    """One tenant's account at an avatar video provider."""

    async def list_avatars(self) -> list[Avatar]: ...

    async def list_voices(self) -> list[Voice]: ...

    async def generate_video(self, request: VideoRequest) -> str:
        """Start rendering; return the provider's id of the video."""
        ...

    async def video_status(self, provider_video_id: str) -> VideoReport:
        """Where the video stands (``processing`` until it is ``completed`` or ``failed``)."""
        ...


class AvatarVideoRepository(Protocol):
    async def add(self, video: AvatarVideo) -> None:
        """Raises ``Conflict(code="idempotency_key_taken")`` when another video of the tenant was
        requested with the same ``request_key``."""
        ...

    async def get(self, video_id: UUID, *, for_update: bool = False) -> AvatarVideo | None: ...

    async def get_by_request_key(self, request_key: str) -> AvatarVideo | None: ...

    async def get_by_provider_id(
        self, provider: str, provider_video_id: str, *, for_update: bool = False
    ) -> AvatarVideo | None: ...

    async def update(self, video: AvatarVideo, expected_version: int) -> bool:
        """Store status, provider_video_id, video_url, thumbnail_url, duration_ms, error,
        updated_at, finished_at and version if the stored version is still ``expected_version``."""
        ...

    async def list(self, filters: VideoFilter, page: PageRequest) -> Page[AvatarVideo]:
        """Newest first. (Defined last: it shadows ``list`` in the annotations that follow it.)"""
        ...


class AvatarCatalogRepository(Protocol):
    async def get(self, kind: CatalogKind) -> CachedCatalog | None: ...

    async def save(self, catalog: CachedCatalog) -> None:
        """Insert or replace the tenant's copy of this catalog."""
        ...
