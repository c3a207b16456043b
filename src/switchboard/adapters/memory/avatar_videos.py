"""Avatar videos and cached catalogs over the memory store, with the checks the PostgreSQL schema
makes (keys, unique request keys and provider ids, status and finish rules)."""

from __future__ import annotations

import json
from dataclasses import replace
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped, newest_first
from switchboard.core.avatar_videos.model import (
    AvatarVideo,
    CachedCatalog,
    CatalogKind,
    VideoFilter,
    catalog_documents,
    catalog_items,
)
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest

REQUEST_KEY_TAKEN = "another avatar video was requested with this Idempotency-Key"


class MemoryAvatarVideoRepository(_Scoped):
    async def add(self, video: AvatarVideo) -> None:
        self._check_own_tenant(video.tenant_id)
        self._check(video)
        self._tx.insert("avatar_videos", (video.tenant_id, video.id), video)

    async def get(self, video_id: UUID, *, for_update: bool = False) -> AvatarVideo | None:
        found: AvatarVideo | None = self._tx.read("avatar_videos").get((self._tenant_id, video_id))
        return found

    async def get_by_request_key(self, request_key: str) -> AvatarVideo | None:
        return next((v for v in self._own() if v.request_key == request_key), None)

    async def get_by_provider_id(
        self, provider: str, provider_video_id: str, *, for_update: bool = False
    ) -> AvatarVideo | None:
        return next(
            (v for v in self._own() if (v.provider, v.provider_video_id) == (provider, provider_video_id)),
            None,
        )

    async def update(self, video: AvatarVideo, expected_version: int) -> bool:
        current = await self.get(video.id)
        if current is None or current.version != expected_version:
            return False
        stored = replace(
            current,
            status=video.status,
            provider_video_id=video.provider_video_id,
            video_url=video.video_url,
            thumbnail_url=video.thumbnail_url,
            duration_ms=video.duration_ms,
            error=video.error,
            updated_at=video.updated_at,
            finished_at=video.finished_at,
            version=video.version,
        )
        self._check(stored)
        self._tx.write("avatar_videos")[(current.tenant_id, current.id)] = stored
        return True

    async def list(self, filters: VideoFilter, page: PageRequest) -> Page[AvatarVideo]:
        return newest_first([v for v in self._own() if filters.status in (None, v.status)], page)

    def _check(self, video: AvatarVideo) -> None:
        """The table's checks, then its unique keys, as PostgreSQL checks them."""
        if not 1 <= len(video.script) <= 5000:
            raise ValueError("avatar_videos_script_check")
        if video.width <= 0 or video.height <= 0:
            raise ValueError("avatar_videos_dimension_check")
        if video.status.final != (video.finished_at is not None):
            raise ValueError("avatar_videos_finished_check")
        for other in self._own():
            if other.id == video.id:
                continue
            if video.request_key is not None and other.request_key == video.request_key:
                raise Conflict(REQUEST_KEY_TAKEN, code="idempotency_key_taken")
            if video.provider_video_id is not None and (other.provider, other.provider_video_id) == (
                video.provider,
                video.provider_video_id,
            ):
                raise ValueError("avatar_videos_provider_video_id_key")

    def _own(self) -> list[AvatarVideo]:
        return [v for (tid, _), v in self._tx.read("avatar_videos").items() if tid == self._tenant_id]


class MemoryAvatarCatalogRepository(_Scoped):
    async def get(self, kind: CatalogKind) -> CachedCatalog | None:
        stored = self._tx.read("avatar_catalogs").get((self._tenant_id, kind.value))
        if stored is None:
            return None
        # Rebuilt from JSON, as a JSONB column gives it back.
        return replace(
            stored, items=catalog_items(kind, json.loads(json.dumps(catalog_documents(stored.items))))
        )

    async def save(self, catalog: CachedCatalog) -> None:
        self._check_own_tenant(catalog.tenant_id)
        self._tx.write("avatar_catalogs")[(catalog.tenant_id, catalog.kind.value)] = catalog
