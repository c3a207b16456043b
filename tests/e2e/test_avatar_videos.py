"""Avatar videos over HTTP: the provider's avatars and voices cached per tenant for two hours, a
video generated through HeyGen's local stand-in and settled by its signed webhook (or, when none
comes, by polling), exactly once whatever the retries and duplicates, behind the avatar_video
feature and inside the tenant.
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from dependency_injector import providers

from switchboard.core.avatar_videos.handlers import GENERATE_JOB, POLL_JOB
from switchboard.core.flags.handlers import SetFlags, set_flags
from switchboard.entrypoints.http.blueprints.avatar_videos import (
    AvatarListOut,
    AvatarVideoListOut,
    AvatarVideoOut,
    VoiceListOut,
)
from switchboard.plugins.fake.avatar_video import FakeVideoRecord
from switchboard.plugins.heygen import API_BASE_SETTING
from switchboard.ports.providers import ProviderError
from tests.e2e.account_helpers import FakeClock
from tests.e2e.helpers import SignedUp, conforms, expect_problem, sign_up
from tests.e2e.payment_helpers import deliver_fake, drain, ok, outbox_rows, plugins_at
from tests.e2e.team_helpers import join
from tests.fakes.heygen_standin import HeyGenStandIn

SCRIPT = "Hi, I'm Ada from Hopper Plumbing. Your boiler service is booked for Monday."
HEYGEN_AVATAR = "Angela-inTshirt-20220820"
HEYGEN_VOICE = "1bd001e7e50f421d891986aad5158bc8"


@pytest.fixture(scope="module", name="heygen_api")
def heygen_api_fixture(container: Any) -> Iterator[HeyGenStandIn]:
    """HeyGen's stand-in, with the app's heygen plugin pointed at it for the module."""
    with HeyGenStandIn() as standin, plugins_at(container, API_BASE_SETTING, standin.api_base):
        yield standin


@contextlib.contextmanager
def app_clock(container: Any, start: datetime) -> Iterator[FakeClock]:
    """The clock of the requests and the worker, standing still at ``start`` until moved.

    The long-lived objects that keep a clock are made first, with the real one: made inside,
    they would keep the fake one for the rest of the session (tokens issued in its time)."""
    for keeper in (container.identity, container.quote_links, container.calendar_connections):
        keeper()
    container.calendar_sync()
    fake = FakeClock(start)
    container.clock.override(providers.Object(fake))
    try:
        yield fake
    finally:
        container.clock.reset_last_overriding()


@pytest.fixture
def clock(container: Any) -> Iterator[FakeClock]:
    with app_clock(container, datetime.now(UTC)) as fake:
        yield fake


@dataclass
class Studio:
    owner: SignedUp
    webhook_url: str = ""
    webhook_secret: str = ""

    @property
    def tenant_id(self) -> UUID:
        return UUID(self.owner.tenant_id)


async def open_studio(client: Any, container: Any, provider: str | None = "fake_avatar_video") -> Studio:
    """A tenant with the avatar_video feature on and ``provider`` connected."""
    owner = await sign_up(client, tenant_name="Hopper Plumbing")
    await set_flags(
        SetFlags(UUID(owner.tenant_id), {"avatar_video": True}),
        uuid.uuid4(),
        container.units()(UUID(owner.tenant_id)),
        container.clock(),
    )
    studio = Studio(owner)
    if provider == "heygen":
        secret = "whsec_" + uuid.uuid4().hex
        config = {"api_key": "hg_" + uuid.uuid4().hex, "webhook_secret": secret}
    elif provider is not None:
        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        config = {"api_key": "fk_test_" + uuid.uuid4().hex, "webhook_secret": secret, "label": "studio"}
    if provider is not None:
        body = await ok(
            await client.post(
                "/v1/integrations", json={"provider": provider, "config": config}, headers=owner.auth
            ),
            201,
        )
        studio.webhook_url, studio.webhook_secret = body["webhook_url"], secret
    return studio


def videos_record(container: Any) -> FakeVideoRecord:
    record: FakeVideoRecord = container.plugins().manager.get_plugin("fake").record.videos
    return record


async def request_video(client: Any, studio: Studio, **fields: Any) -> Any:
    headers = studio.owner.auth | fields.pop("headers", {})
    payload = {
        "title": "Booking confirmed",
        "script": SCRIPT,
        "avatar_id": fields.pop("avatar_id", "fake_avatar_ada"),
        "voice_id": fields.pop("voice_id", "fake_voice_en"),
    } | fields
    return await client.post("/v1/avatar-videos", json=payload, headers=headers)


async def requested(client: Any, studio: Studio, **fields: Any) -> dict[str, Any]:
    body = await ok(await request_video(client, studio, **fields), 202)
    conforms(AvatarVideoOut, body)
    return body


async def video_of(client: Any, studio: Studio, video_id: str) -> dict[str, Any]:
    body = await ok(await client.get(f"/v1/avatar-videos/{video_id}", headers=studio.owner.auth))
    conforms(AvatarVideoOut, body)
    return body


def make_polls_due(database: Any, tenant_id: UUID) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "UPDATE outbox SET next_attempt_at = now() "
            "WHERE tenant_id = %s AND kind = %s AND status = 'pending'",
            (tenant_id, POLL_JOB),
        )


def heygen_calls(standin: HeyGenStandIn, path: str) -> list[Any]:
    return [r for r in standin.requests if r.path == path]


# --- catalogs ----------------------------------------------------------------------------------


async def test_avatars_listed_twice_within_two_hours_are_fetched_once_and_again_after(
    client, container, clock
):
    studio = await open_studio(client, container)
    record = videos_record(container)
    before = len(record.catalog_fetches)

    first = await ok(await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth))
    clock.advance(timedelta(hours=1, minutes=59))
    second = await ok(await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth))
    fetched_once = len(record.catalog_fetches) - before
    clock.advance(timedelta(minutes=2))
    third = await ok(await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth))

    conforms(AvatarListOut, first)
    assert [a["id"] for a in first["data"]] == ["fake_avatar_ada", "fake_avatar_alan"]
    assert first["data"][0] == {
        "object": "avatar",
        "id": "fake_avatar_ada",
        "name": "Ada",
        "gender": "female",
        "preview_image_url": "https://avatars.fake.test/ada.png",
        "preview_video_url": None,
    }
    assert second == first
    assert fetched_once == 1
    assert len(record.catalog_fetches) - before == 2
    assert third["fetched_at"] != first["fetched_at"]


async def test_voices_are_cached_apart_from_avatars_and_page_by_cursor(client, container):
    studio = await open_studio(client, container)

    page = await ok(await client.get("/v1/avatar-videos/voices?limit=1", headers=studio.owner.auth))
    rest = await ok(
        await client.get(
            "/v1/avatar-videos/voices",
            query_string={"limit": 1, "cursor": page["next_cursor"]},
            headers=studio.owner.auth,
        )
    )

    conforms(VoiceListOut, page)
    assert [v["id"] for v in page["data"]] == ["fake_voice_en"]
    assert page["has_more"] is True
    assert [(v["id"], v["language"]) for v in rest["data"]] == [("fake_voice_fr", "French")]
    assert rest["has_more"] is False
    assert rest["next_cursor"] is None


async def test_managers_may_refresh_the_catalog_at_once_and_members_may_not(client, container, database):
    studio = await open_studio(client, container)
    member = await join(client, database, studio.owner, "member")
    record = videos_record(container)
    await ok(await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth))
    before = len(record.catalog_fetches)

    refused = await client.get("/v1/avatar-videos/avatars?refresh=true", headers=member.auth)
    cached = await client.get("/v1/avatar-videos/avatars", headers=member.auth)
    refreshed = await client.get("/v1/avatar-videos/avatars?refresh=true", headers=studio.owner.auth)

    await expect_problem(refused, 403, "forbidden")
    assert (cached.status_code, refreshed.status_code) == (200, 200)
    assert len(record.catalog_fetches) == before + 1


async def test_a_provider_that_cannot_be_reached_answers_503_and_caches_nothing(client, container):
    studio = await open_studio(client, container)
    record = videos_record(container)
    record.failures.append(ProviderError("down", retryable=True, status=503))

    down = await client.get("/v1/avatar-videos/voices", headers=studio.owner.auth)
    up = await client.get("/v1/avatar-videos/voices", headers=studio.owner.auth)

    await expect_problem(down, 503, "provider_unavailable")
    assert up.status_code == 200


async def test_heygens_catalogs_come_from_its_api(client, container, heygen_api):
    studio = await open_studio(client, container, "heygen")

    avatars = await ok(await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth))
    voices = await ok(await client.get("/v1/avatar-videos/voices", headers=studio.owner.auth))

    assert [a["name"] for a in avatars["data"]] == ["Angela in T-shirt", "Tyler in Casual Suit"]
    assert {v["id"] for v in voices["data"]} == {HEYGEN_VOICE, "d7bbcdd6964c47bdaae26decade4a933"}


# --- generating through HeyGen -----------------------------------------------------------------


async def test_a_video_is_generated_at_heygen_and_completed_by_its_signed_webhook_once(
    client, container, database, heygen_api
):
    studio = await open_studio(client, container, "heygen")

    video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)
    assert video["status"] == "queued"
    await drain(container)
    sent = heygen_calls(heygen_api, "/v2/video/generate")[-1]
    provider_id = next(vid for vid, v in heygen_api.videos.items() if v["callback_id"] == video["id"])
    processing = await video_of(client, studio, video["id"])

    body, headers = heygen_api.signed_event(provider_id, studio.webhook_secret)
    first = await client.post(studio.webhook_url, data=body, headers=headers)
    duplicate = await client.post(studio.webhook_url, data=body, headers=headers)
    await drain(container)
    completed = await video_of(client, studio, video["id"])
    checks_before = len(heygen_calls(heygen_api, "/v1/video_status.get"))
    make_polls_due(database, studio.tenant_id)
    await drain(container)

    assert sent.headers["idempotency-key"] == video["id"]
    assert sent.json["callback_id"] == video["id"]
    assert sent.json["video_inputs"][0]["voice"]["input_text"] == SCRIPT
    assert processing["status"] == "processing"
    assert (first.status_code, duplicate.status_code) == (200, 200)
    assert completed["status"] == "completed"
    assert completed["video_url"] == f"https://files.heygen.test/videos/{provider_id}.mp4"
    assert completed["finished_at"] is not None
    # The webhook settled it: the poll that came due asked HeyGen nothing and queued no other.
    assert len(heygen_calls(heygen_api, "/v1/video_status.get")) == checks_before
    polls = outbox_rows(database, studio.tenant_id, POLL_JOB)
    assert [p["status"] for p in polls] == ["done"]


async def test_without_a_webhook_polling_completes_the_video(client, container, database, heygen_api):
    studio = await open_studio(client, container, "heygen")
    # An hour ago, so each check it queues is already due for the database.
    with app_clock(container, datetime.now(UTC) - timedelta(hours=1)) as clock:
        video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)

        async def submitted() -> bool:
            return (await video_of(client, studio, video["id"]))["status"] == "processing"

        await drain(container, submitted)
        provider_id = next(vid for vid, v in heygen_api.videos.items() if v["callback_id"] == video["id"])
        clock.advance(timedelta(seconds=30))
        await drain(container, lambda: _polled(heygen_api, provider_id, 1))
        still = await video_of(client, studio, video["id"])
        heygen_api.finish(provider_id)
        clock.advance(timedelta(minutes=1))
        await drain(container)
    done = await video_of(client, studio, video["id"])

    assert still["status"] == "processing"
    assert done["status"] == "completed"
    assert done["thumbnail_url"] == f"https://files.heygen.test/videos/{provider_id}.jpg"
    assert done["duration_ms"] == 12_345
    checks = [
        r for r in heygen_calls(heygen_api, "/v1/video_status.get") if r.query["video_id"] == provider_id
    ]
    assert len(checks) == 2
    polls = outbox_rows(database, studio.tenant_id, POLL_JOB)
    assert [p["payload"]["poll"] for p in polls] == [1, 2]
    assert {p["status"] for p in polls} == {"done"}


async def _polled(standin: HeyGenStandIn, provider_id: str, times: int) -> bool:
    return (
        len([r for r in heygen_calls(standin, "/v1/video_status.get") if r.query["video_id"] == provider_id])
        >= times
    )


async def test_a_video_heygen_fails_is_failed_by_its_webhook_with_the_reason(client, container, heygen_api):
    studio = await open_studio(client, container, "heygen")
    video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)
    await drain(container)
    provider_id = next(vid for vid, v in heygen_api.videos.items() if v["callback_id"] == video["id"])

    body, headers = heygen_api.signed_event(provider_id, studio.webhook_secret, failed=True)
    assert (await client.post(studio.webhook_url, data=body, headers=headers)).status_code == 200
    await drain(container)

    failed = await video_of(client, studio, video["id"])
    assert (failed["status"], failed["error"], failed["video_url"]) == (
        "failed",
        "Avatar not available",
        None,
    )


async def test_a_tampered_webhook_is_refused_and_changes_nothing(client, container, heygen_api):
    studio = await open_studio(client, container, "heygen")
    video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)
    await drain(container)
    provider_id = next(vid for vid, v in heygen_api.videos.items() if v["callback_id"] == video["id"])
    body, headers = heygen_api.signed_event(provider_id, studio.webhook_secret)

    refused = await client.post(studio.webhook_url, data=body.replace(b"success", b"fail"), headers=headers)
    await drain(container)

    await expect_problem(refused, 400, "webhook_rejected")
    assert (await video_of(client, studio, video["id"]))["status"] == "processing"


async def test_heygen_failing_twice_is_retried_with_the_same_key_and_makes_one_video(
    client, container, database, heygen_api
):
    studio = await open_studio(client, container, "heygen")
    made_before = len(heygen_api.generated)
    heygen_api.fail_next(2, status=503)

    video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)
    await drain(container)

    attempts = [
        r for r in heygen_calls(heygen_api, "/v2/video/generate") if r.json["callback_id"] == video["id"]
    ]
    assert [r.headers["idempotency-key"] for r in attempts] == [video["id"]] * 3
    assert len(heygen_api.generated) == made_before + 1
    assert (await video_of(client, studio, video["id"]))["status"] == "processing"
    [job] = outbox_rows(database, studio.tenant_id, GENERATE_JOB)
    assert (job["status"], job["attempts"]) == ("done", 3)


async def test_a_video_heygen_refuses_fails_at_once_with_heygens_reason(
    client, container, database, heygen_api
):
    studio = await open_studio(client, container, "heygen")
    heygen_api.fail_next(status=400)

    video = await requested(client, studio, avatar_id=HEYGEN_AVATAR, voice_id=HEYGEN_VOICE)
    await drain(container)

    failed = await video_of(client, studio, video["id"])
    assert (failed["status"], failed["error"]) == ("failed", "heygen: HeyGen: avatar_id is invalid")
    [job] = outbox_rows(database, studio.tenant_id, GENERATE_JOB)
    assert job["attempts"] == 1


# --- idempotency, history, isolation, the feature, bad input -------------------------------------


async def test_a_retried_post_with_the_same_key_is_one_video_generated_once(client, container):
    studio = await open_studio(client, container)
    record = videos_record(container)
    key = {"Idempotency-Key": f"video-{uuid.uuid4()}"}

    first = await request_video(client, studio, headers=key)
    again = await request_video(client, studio, headers=key)
    await drain(container)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.get_json())["id"] == (await first.get_json())["id"]
    video_id = (await first.get_json())["id"]
    assert [r.callback_id for _, r in record.generated].count(video_id) == 1
    history = await ok(await client.get("/v1/avatar-videos", headers=studio.owner.auth))
    assert [v["id"] for v in history["data"]] == [video_id]


async def test_the_history_is_newest_first_and_filters_by_status(client, container):
    studio = await open_studio(client, container)
    record = videos_record(container)
    older = await requested(client, studio, title="Older")
    newer = await requested(client, studio, title="Newer")
    await drain(container)
    provider_id = next(vid for vid, r in record.videos.items() if r.callback_id == older["id"])
    record.finish(provider_id)
    data = {"video_id": provider_id, "callback_id": older["id"], "url": "https://videos.fake.test/x.mp4"}
    await ok(await deliver_fake(client, studio, "video.completed", data))
    await drain(container)

    everything = await ok(await client.get("/v1/avatar-videos", headers=studio.owner.auth))
    completed = await ok(await client.get("/v1/avatar-videos?status=completed", headers=studio.owner.auth))

    conforms(AvatarVideoListOut, everything)
    assert [v["id"] for v in everything["data"]] == [newer["id"], older["id"]]
    assert [v["id"] for v in completed["data"]] == [older["id"]]


async def test_another_tenants_video_is_not_found_and_not_listed(client, container):
    studio, stranger = await open_studio(client, container), await open_studio(client, container)
    video = await requested(client, studio)

    seen = await client.get(f"/v1/avatar-videos/{video['id']}", headers=stranger.owner.auth)
    listed = await ok(await client.get("/v1/avatar-videos", headers=stranger.owner.auth))

    await expect_problem(seen, 404, "not_found")
    assert listed["data"] == []


async def test_with_the_feature_off_every_avatar_video_route_is_403(client):
    owner = await sign_up(client)  # the free plan: avatar_video is off

    for method, path in [
        ("GET", "/v1/avatar-videos/avatars"),
        ("GET", "/v1/avatar-videos/voices"),
        ("GET", "/v1/avatar-videos"),
        ("GET", f"/v1/avatar-videos/{uuid.uuid4()}"),
    ]:
        await expect_problem(
            await client.open(path, method=method, headers=owner.auth), 403, "feature_disabled"
        )
    posted = await client.post(
        "/v1/avatar-videos",
        json={"title": "t", "script": "s", "avatar_id": "a", "voice_id": "v"},
        headers=owner.auth,
    )
    await expect_problem(posted, 403, "feature_disabled")


async def test_without_a_connected_provider_requests_are_409(client, container):
    studio = await open_studio(client, container, provider=None)

    await expect_problem(
        await client.get("/v1/avatar-videos/avatars", headers=studio.owner.auth),
        409,
        "provider_not_connected",
    )
    await expect_problem(await request_video(client, studio), 409, "provider_not_connected")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"script": ""}, "script"),
        ({"script": "x" * 5001}, "script"),
        ({"script": "   "}, "script"),
        ({"title": ""}, "title"),
        ({"avatar_id": "has space"}, "avatar_id"),
        ({"dimension": {"width": 10, "height": 720}}, "dimension.width"),
        ({"tenant_id": str(uuid.uuid4())}, "tenant_id"),
        ({"status": "completed"}, "status"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(client, container, change, field):
    studio = await open_studio(client, container)

    problem = await expect_problem(await request_video(client, studio, **change), 400)

    assert field in {e["field"] for e in problem["errors"]}
    assert (await ok(await client.get("/v1/avatar-videos", headers=studio.owner.auth)))["data"] == []


async def test_bad_filters_and_cursors_are_400(client, container):
    studio = await open_studio(client, container)

    await expect_problem(await client.get("/v1/avatar-videos?status=done", headers=studio.owner.auth), 400)
    await expect_problem(await client.get("/v1/avatar-videos?cursor=%%%", headers=studio.owner.auth), 400)
    await expect_problem(
        await client.get("/v1/avatar-videos/voices?cursor=***", headers=studio.owner.auth),
        400,
        "invalid_cursor",
    )


@pytest.mark.parametrize(
    "change", [{"title": "Intro\x00"}, {"script": "Hello\x00there"}, {"title": "\x1b[31mRed"}]
)
async def test_a_title_or_script_with_a_control_character_is_400_and_creates_nothing(
    client, container, change
):
    studio = await open_studio(client, container)

    problem = await expect_problem(await request_video(client, studio, **change), 400, "validation_error")

    assert set(change) == {e["field"] for e in problem["errors"]}
    assert (await ok(await client.get("/v1/avatar-videos", headers=studio.owner.auth)))["data"] == []
