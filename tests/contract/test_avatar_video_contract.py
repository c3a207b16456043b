"""Avatar video storage, on memory and PostgreSQL alike: videos and cached catalogs round trip and
stay in their tenant, request keys are unique per tenant, updates are versioned, the history
pages newest first; and the use cases on top move a video forward only, whatever order reports
come in.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from switchboard.core.avatar_videos import handlers
from switchboard.core.avatar_videos.model import (
    Avatar,
    AvatarVideo,
    CachedCatalog,
    CatalogKind,
    VideoFilter,
    VideoReport,
    VideoStatus,
    Voice,
)
from switchboard.core.errors import Conflict
from switchboard.core.flags.model import FlagOverride
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, utc_now


class Clock:
    def __init__(self, at: datetime | None = None) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at or datetime.now(UTC)


def make_video(actor: Actor, **overrides: Any) -> AvatarVideo:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        integration_id=uuid4(),
        provider="fake_avatar_video",
        title="Welcome",
        script="Hello there",
        avatar_id="fake_avatar_ada",
        voice_id="fake_voice_en",
        width=1280,
        height=720,
        status=VideoStatus.QUEUED,
        created_at=now,
        updated_at=now,
    )
    return AvatarVideo(**(fields | overrides))


async def add(storage: Storage, actor: Actor, *videos: AvatarVideo) -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for video in videos:
            await uow.avatar_videos.add(video)
        await uow.commit()


async def get(storage: Storage, actor: Actor, video: AvatarVideo) -> AvatarVideo | None:
    async with storage.units(actor.tenant_id) as uow:
        return await uow.avatar_videos.get(video.id)


async def connected(storage: Storage) -> tuple[Actor, Principal]:
    """A tenant with the avatar_video feature on and the fake provider connected."""
    actor = await storage.new_tenant()
    now = utc_now()
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.flags.set_override(FlagOverride(actor.tenant_id, "avatar_video", True, now, "test"))
        await uow.integrations.add(
            Integration(
                uuid4(),
                actor.tenant_id,
                "fake_avatar_video",
                Capability.AVATAR_VIDEO,
                True,
                b"x",
                (),
                now,
                now,
            )
        )
        await uow.commit()
    return actor, Principal(actor.user_id, actor.tenant_id, Role.OWNER)


# --- storage -----------------------------------------------------------------------------------


async def test_a_video_round_trips_and_is_invisible_to_another_tenant(storage: Storage):
    actor, other = await storage.new_tenant(), await storage.new_tenant()
    video = make_video(actor, request_key="key-1")
    await add(storage, actor, video)

    assert await get(storage, actor, video) == video
    assert await get(storage, other, video) is None
    async with storage.units(other.tenant_id) as uow:
        assert (await uow.avatar_videos.list(VideoFilter(), PageRequest())).items == []
        assert await uow.avatar_videos.get_by_request_key("key-1") is None


async def test_a_request_key_names_one_video_per_tenant(storage: Storage):
    actor, other = await storage.new_tenant(), await storage.new_tenant()
    await add(storage, actor, make_video(actor, request_key="same"))

    with pytest.raises(Conflict) as taken:
        await add(storage, actor, make_video(actor, request_key="same"))
    await add(storage, other, make_video(other, request_key="same"))

    assert taken.value.code == "idempotency_key_taken"
    async with storage.units(actor.tenant_id) as uow:
        found = await uow.avatar_videos.get_by_request_key("same")
    assert found is not None
    assert found.tenant_id == actor.tenant_id


async def test_updates_are_versioned_and_store_the_outcome(storage: Storage):
    actor = await storage.new_tenant()
    video = make_video(actor)
    await add(storage, actor, video)
    done_at = utc_now()
    done = replace(
        video,
        status=VideoStatus.COMPLETED,
        provider_video_id="v-1",
        video_url="https://videos.test/v-1.mp4",
        thumbnail_url="https://videos.test/v-1.jpg",
        duration_ms=1234,
        updated_at=done_at,
        finished_at=done_at,
        version=2,
        title="not stored",
    )

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.avatar_videos.update(done, expected_version=1)
        assert not await uow.avatar_videos.update(done, expected_version=1)
        by_provider = await uow.avatar_videos.get_by_provider_id("fake_avatar_video", "v-1")
        await uow.commit()

    assert await get(storage, actor, video) == replace(done, title="Welcome")
    assert by_provider is not None
    assert by_provider.id == video.id


async def test_a_final_video_must_say_when_it_finished(storage: Storage):
    actor = await storage.new_tenant()
    with pytest.raises((ValueError, psycopg.errors.CheckViolation)):
        await add(storage, actor, make_video(actor, status=VideoStatus.COMPLETED))


async def test_the_history_pages_newest_first_and_filters_by_status(storage: Storage):
    actor = await storage.new_tenant()
    start = utc_now()
    videos = [make_video(actor, created_at=start + timedelta(seconds=i)) for i in range(5)]
    videos[1] = replace(videos[1], status=VideoStatus.PROCESSING, provider_video_id="p1")
    videos[3] = replace(videos[3], status=VideoStatus.PROCESSING, provider_video_id="p3")
    await add(storage, actor, *videos)

    async with storage.units(actor.tenant_id) as uow:
        first = await uow.avatar_videos.list(VideoFilter(), PageRequest(limit=3))
        rest = await uow.avatar_videos.list(VideoFilter(), PageRequest(limit=3, after=first.next_position))
        processing = await uow.avatar_videos.list(VideoFilter(VideoStatus.PROCESSING), PageRequest())

    assert [v.id for v in first.items + rest.items] == [v.id for v in reversed(videos)]
    assert not rest.has_more
    assert [v.id for v in processing.items] == [videos[3].id, videos[1].id]


async def test_a_cached_catalog_is_replaced_and_stays_in_its_tenant(storage: Storage):
    actor, other = await storage.new_tenant(), await storage.new_tenant()
    integration_id = uuid4()
    first = CachedCatalog(
        actor.tenant_id, CatalogKind.AVATARS, integration_id, utc_now(), (Avatar("a1", "Ada"),)
    )
    second = CachedCatalog(
        actor.tenant_id,
        CatalogKind.AVATARS,
        integration_id,
        utc_now(),
        (Avatar("a2", "Alan", "male", "https://img.test/a2.png"),),
    )
    voices = CachedCatalog(
        actor.tenant_id, CatalogKind.VOICES, integration_id, utc_now(), (Voice("v1", "Paul"),)
    )

    for catalog in (first, second, voices):
        async with storage.units(actor.tenant_id) as uow:
            await uow.avatar_catalogs.save(catalog)
            await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.avatar_catalogs.get(CatalogKind.AVATARS) == second
        assert await uow.avatar_catalogs.get(CatalogKind.VOICES) == voices
    async with storage.units(other.tenant_id) as uow:
        assert await uow.avatar_catalogs.get(CatalogKind.AVATARS) is None


# --- the use cases on top ----------------------------------------------------------------------


async def test_the_same_request_key_answers_the_video_requested_before(storage: Storage):
    actor, owner = await connected(storage)
    command = handlers.RequestVideo("Hi", "Hello", "fake_avatar_ada", "fake_voice_en", request_key="k1")

    first = await handlers.request_video(
        command, owner, storage.units(actor.tenant_id, actor.user_id), Clock()
    )
    again = await handlers.request_video(
        command, owner, storage.units(actor.tenant_id, actor.user_id), Clock()
    )

    assert (first.created, again.created) == (True, False)
    assert again.video == first.video
    async with storage.units(actor.tenant_id) as uow:
        assert len((await uow.avatar_videos.list(VideoFilter(), PageRequest())).items) == 1


async def test_a_report_moves_a_video_forward_only_and_twice_changes_nothing(storage: Storage):
    actor, owner = await connected(storage)
    command = handlers.RequestVideo("Hi", "Hello", "fake_avatar_ada", "fake_voice_en")
    video = (await handlers.request_video(command, owner, storage.units(actor.tenant_id), Clock())).video
    await handlers.video_submitted(video.id, "p-1", storage.units(actor.tenant_id), Clock())
    completed = VideoReport("p-1", VideoStatus.COMPLETED, "https://v.test/p-1.mp4", callback_id=str(video.id))
    failed = VideoReport("p-1", VideoStatus.FAILED, error="late and wrong")

    once = await handlers.apply_report(
        completed, "fake_avatar_video", storage.units(actor.tenant_id), Clock()
    )
    twice = await handlers.apply_report(
        completed, "fake_avatar_video", storage.units(actor.tenant_id), Clock()
    )
    after = await handlers.apply_report(failed, "fake_avatar_video", storage.units(actor.tenant_id), Clock())

    assert once is not None
    assert once.status is VideoStatus.COMPLETED
    assert twice == once
    assert after == once
    assert await get(storage, actor, video) == once


async def test_a_report_of_another_provider_or_an_unknown_video_is_ignored(storage: Storage):
    actor, owner = await connected(storage)
    command = handlers.RequestVideo("Hi", "Hello", "fake_avatar_ada", "fake_voice_en")
    video = (await handlers.request_video(command, owner, storage.units(actor.tenant_id), Clock())).video
    report = VideoReport("p-9", VideoStatus.COMPLETED, callback_id=str(video.id))

    assert await handlers.apply_report(report, "heygen", storage.units(actor.tenant_id), Clock()) is None
    unknown = replace(report, callback_id="not-a-uuid")
    assert (
        await handlers.apply_report(unknown, "fake_avatar_video", storage.units(actor.tenant_id), Clock())
        is None
    )
    assert (await get(storage, actor, video)) == video
