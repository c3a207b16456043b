"""Avatar videos and cached avatar and voice catalogs, on PostgreSQL."""

from __future__ import annotations

from functools import cache
from uuid import UUID

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import (
    Row,
    _Repository,
    newest_first,
    this_row,
    versioned_update,
)
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import avatar_catalogs, avatar_videos
from switchboard.core.avatar_videos.model import (
    AvatarVideo,
    CachedCatalog,
    CatalogKind,
    VideoFilter,
    VideoStatus,
    catalog_documents,
    catalog_items,
)
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest

REQUEST_KEY_TAKEN = "another avatar video was requested with this Idempotency-Key"
_REQUEST_KEY_CONSTRAINT = "avatar_videos_request_key_key"

_TENANT = avatar_videos.c.tenant_id == bindparam("tenant_id")
_THIS_VIDEO = this_row(avatar_videos)
_VIDEO_INSERT = compile_sql(insert(avatar_videos))
_VIDEO_GET = compile_sql(select(avatar_videos).where(_THIS_VIDEO))
_VIDEO_GET_FOR_UPDATE = compile_sql(select(avatar_videos).where(_THIS_VIDEO).with_for_update())
_VIDEO_BY_REQUEST_KEY = compile_sql(
    select(avatar_videos).where(_TENANT, avatar_videos.c.request_key == bindparam("request_key"))
)
_by_provider_id = select(avatar_videos).where(
    _TENANT,
    avatar_videos.c.provider == bindparam("provider"),
    avatar_videos.c.provider_video_id == bindparam("provider_video_id"),
)
_VIDEO_BY_PROVIDER_ID = {
    False: compile_sql(_by_provider_id),
    True: compile_sql(_by_provider_id.with_for_update()),
}
_UPDATED_COLUMNS = (
    "status",
    "provider_video_id",
    "video_url",
    "thumbnail_url",
    "duration_ms",
    "error",
    "updated_at",
    "finished_at",
    "version",
)
_VIDEO_UPDATE = versioned_update(avatar_videos, *_UPDATED_COLUMNS)

_CATALOG_GET = compile_sql(
    select(avatar_catalogs).where(
        avatar_catalogs.c.tenant_id == bindparam("tenant_id"), avatar_catalogs.c.kind == bindparam("kind")
    )
)
_catalog_upsert = pg_insert(avatar_catalogs)
_CATALOG_SAVE = compile_sql(
    _catalog_upsert.on_conflict_do_update(
        index_elements=["tenant_id", "kind"],
        set_={name: _catalog_upsert.excluded[name] for name in ("integration_id", "fetched_at", "items")},
    )
)


@cache
def _list_sql(after: bool, status: bool) -> str:
    statement = newest_first(avatar_videos, after)
    if status:
        statement = statement.where(avatar_videos.c.status == bindparam("status"))
    return compile_sql(statement)


def _video(row: Row) -> AvatarVideo:
    return AvatarVideo(**(row | {"status": VideoStatus(row["status"])}))


def _values(video: AvatarVideo) -> Row:
    return {
        "tenant_id": video.tenant_id,
        "id": video.id,
        "integration_id": video.integration_id,
        "provider": video.provider,
        "title": video.title,
        "script": video.script,
        "avatar_id": video.avatar_id,
        "voice_id": video.voice_id,
        "width": video.width,
        "height": video.height,
        "status": video.status.value,
        "request_key": video.request_key,
        "provider_video_id": video.provider_video_id,
        "video_url": video.video_url,
        "thumbnail_url": video.thumbnail_url,
        "duration_ms": video.duration_ms,
        "error": video.error,
        "created_at": video.created_at,
        "updated_at": video.updated_at,
        "finished_at": video.finished_at,
        "version": video.version,
    }


class PostgresAvatarVideoRepository(_Repository):
    async def add(self, video: AvatarVideo) -> None:
        await self._refusing_duplicates(
            _VIDEO_INSERT,
            _values(video),
            _REQUEST_KEY_CONSTRAINT,
            Conflict(REQUEST_KEY_TAKEN, code="idempotency_key_taken"),
        )

    async def get(self, video_id: UUID, *, for_update: bool = False) -> AvatarVideo | None:
        sql = _VIDEO_GET_FOR_UPDATE if for_update else _VIDEO_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": video_id})
        return _video(row) if row else None

    async def get_by_request_key(self, request_key: str) -> AvatarVideo | None:
        row = await self._one(
            _VIDEO_BY_REQUEST_KEY, {"tenant_id": self._tenant_id, "request_key": request_key}
        )
        return _video(row) if row else None

    async def get_by_provider_id(
        self, provider: str, provider_video_id: str, *, for_update: bool = False
    ) -> AvatarVideo | None:
        params = {"tenant_id": self._tenant_id, "provider": provider, "provider_video_id": provider_video_id}
        row = await self._one(_VIDEO_BY_PROVIDER_ID[for_update], params)
        return _video(row) if row else None

    async def update(self, video: AvatarVideo, expected_version: int) -> bool:
        params = _values(video) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        return await self._count(_VIDEO_UPDATE, params) == 1

    async def list(self, filters: VideoFilter, page: PageRequest) -> Page[AvatarVideo]:
        params: Row = {"status": filters.status.value} if filters.status else {}
        return await self._page(
            _list_sql(page.after is not None, filters.status is not None), params, page, _video
        )


class PostgresAvatarCatalogRepository(_Repository):
    async def get(self, kind: CatalogKind) -> CachedCatalog | None:
        row = await self._one(_CATALOG_GET, {"tenant_id": self._tenant_id, "kind": kind.value})
        if row is None:
            return None
        return CachedCatalog(
            tenant_id=row["tenant_id"],
            kind=kind,
            integration_id=row["integration_id"],
            fetched_at=row["fetched_at"],
            items=catalog_items(kind, row["items"]),
        )

    async def save(self, catalog: CachedCatalog) -> None:
        await self._conn.execute(
            _CATALOG_SAVE,
            {
                "tenant_id": catalog.tenant_id,
                "kind": catalog.kind.value,
                "integration_id": catalog.integration_id,
                "fetched_at": catalog.fetched_at,
                "items": Jsonb(catalog_documents(catalog.items)),
            },
        )


__all__ = ["PostgresAvatarCatalogRepository", "PostgresAvatarVideoRepository"]
