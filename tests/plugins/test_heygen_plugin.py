"""The built-in HeyGen plugin: its configuration, every call over real HTTP to a local stand-in of
HeyGen's API (key header, request shapes, answers read into our words, errors sorted into
retryable or not), and HeyGen's webhook signature, checked on the raw body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pluggy
import pytest

from switchboard.core.avatar_videos.model import VideoStatus
from switchboard.core.errors import InvalidInput
from switchboard.plugins import hookspecs
from switchboard.plugins.heygen import API_BASE_SETTING, VIDEO_EVENTS, HeyGenPlugin
from switchboard.plugins.manager import PluginCatalog, _register
from switchboard.ports.avatar_video import VideoRequest
from switchboard.ports.providers import Capability, IncomingWebhook, ProviderError, WebhookRejected
from tests.fakes.heygen_standin import HeyGenStandIn, sign

API_KEY = "hg_test_key_0123456789abcdef"
SECRET = "whsec_heygen_endpoint_secret_42"
CONFIG = {"api_key": API_KEY, "webhook_secret": SECRET}
URL = "https://switchboard.example.com/v1/webhooks/heygen/7d1c6a52-5a7e-4a0e-9a4e-0d6f1c2b3a4d"


def catalog_with(plugin: object) -> PluginCatalog:
    manager = pluggy.PluginManager("switchboard")
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager)
    _register(catalog, plugin, "heygen", "test")
    return catalog


@pytest.fixture
def heygen_api() -> Iterator[HeyGenStandIn]:
    with HeyGenStandIn() as standin:
        yield standin


@pytest.fixture
def catalog(heygen_api: HeyGenStandIn) -> PluginCatalog:
    return catalog_with(HeyGenPlugin(api_base=heygen_api.api_base))


def a_request(**fields: object) -> VideoRequest:
    values: dict[str, object] = {
        "title": "Welcome",
        "script": "Hello from Hopper Plumbing!",
        "avatar_id": "Angela-inTshirt-20220820",
        "voice_id": "1bd001e7e50f421d891986aad5158bc8",
        "width": 1280,
        "height": 720,
        "callback_id": "5f0c7a1e-0000-4000-8000-000000000001",
        "idempotency_key": "5f0c7a1e-0000-4000-8000-000000000001",
    }
    return VideoRequest(**(values | fields))  # type: ignore[arg-type]


def delivery(body: bytes, signature: str | None) -> IncomingWebhook:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["signature"] = signature
    return IncomingWebhook(headers=headers, body=body, url=URL)


# --- configuration -----------------------------------------------------------------------------


def test_heygen_offers_the_avatar_video_capability_with_both_secrets_masked():
    catalog = catalog_with(HeyGenPlugin())
    spec = catalog.specs["heygen"]

    assert spec.capability is Capability.AVATAR_VIDEO
    assert spec.secret_fields == {"api_key", "webhook_secret"}
    assert set(spec.video_events) == {"avatar_video.success", "avatar_video.fail"}


def test_a_configuration_without_a_key_or_with_a_base_url_is_refused():
    catalog = catalog_with(HeyGenPlugin())

    with pytest.raises(InvalidInput) as missing:
        catalog.validate_config("heygen", {"webhook_secret": SECRET})
    with pytest.raises(InvalidInput) as aimed:
        catalog.validate_config("heygen", CONFIG | {"api_base": "http://169.254.169.254"})

    assert [e.field for e in missing.value.errors] == ["config.api_key"]
    assert [e.field for e in aimed.value.errors] == ["config.api_base"]


def test_the_api_base_is_the_operators_setting_only(monkeypatch):
    monkeypatch.setenv(API_BASE_SETTING, "http://127.0.0.1:9/")
    assert HeyGenPlugin().api_base == "http://127.0.0.1:9"
    monkeypatch.delenv(API_BASE_SETTING)
    assert HeyGenPlugin().api_base is None


# --- calls -------------------------------------------------------------------------------------


async def test_avatars_and_voices_are_read_into_our_words_with_the_key_in_its_header(catalog, heygen_api):
    heygen = catalog.build("heygen", CONFIG)

    avatars = await heygen.list_avatars()
    voices = await heygen.list_voices()

    assert [(a.id, a.name, a.gender) for a in avatars] == [
        ("Angela-inTshirt-20220820", "Angela in T-shirt", "female"),
        ("Tyler-incasualsuit-20220721", "Tyler in Casual Suit", "male"),
    ]
    assert avatars[0].preview_image_url == "https://files.heygen.test/angela.webp"
    assert (voices[0].id, voices[0].name, voices[0].language, voices[0].preview_audio_url) == (
        "1bd001e7e50f421d891986aad5158bc8",
        "Paul - Natural",
        "English",
        "https://files.heygen.test/paul.mp3",
    )
    assert [(r.method, r.path) for r in heygen_api.requests] == [
        ("GET", "/v2/avatars"),
        ("GET", "/v2/voices"),
    ]
    assert {r.headers["x-api-key"] for r in heygen_api.requests} == {API_KEY}
    assert all("authorization" not in r.headers for r in heygen_api.requests)


async def test_a_video_is_generated_with_one_scene_and_our_id_as_callback_and_idempotency_key(
    catalog, heygen_api
):
    heygen = catalog.build("heygen", CONFIG)

    video_id = await heygen.generate_video(a_request())

    [sent] = heygen_api.requests
    assert (sent.method, sent.path) == ("POST", "/v2/video/generate")
    assert sent.headers["idempotency-key"] == "5f0c7a1e-0000-4000-8000-000000000001"
    assert sent.json == {
        "title": "Welcome",
        "callback_id": "5f0c7a1e-0000-4000-8000-000000000001",
        "dimension": {"width": 1280, "height": 720},
        "video_inputs": [
            {
                "character": {
                    "type": "avatar",
                    "avatar_id": "Angela-inTshirt-20220820",
                    "avatar_style": "normal",
                },
                "voice": {
                    "type": "text",
                    "input_text": "Hello from Hopper Plumbing!",
                    "voice_id": "1bd001e7e50f421d891986aad5158bc8",
                },
            }
        ],
    }
    assert video_id in heygen_api.videos


async def test_a_retried_generation_with_the_same_key_answers_the_same_video(catalog, heygen_api):
    heygen = catalog.build("heygen", CONFIG)

    first = await heygen.generate_video(a_request())
    again = await heygen.generate_video(a_request())

    assert again == first
    assert len(heygen_api.generated) == 1


async def test_the_status_of_a_video_is_read_as_it_moves_on(catalog, heygen_api):
    heygen = catalog.build("heygen", CONFIG)
    video_id = await heygen.generate_video(a_request())

    processing = await heygen.video_status(video_id)
    heygen_api.finish(video_id)
    completed = await heygen.video_status(video_id)

    assert processing.status is VideoStatus.PROCESSING
    assert processing.video_url is None
    assert completed.status is VideoStatus.COMPLETED
    assert completed.video_url == f"https://files.heygen.test/videos/{video_id}.mp4"
    assert completed.thumbnail_url == f"https://files.heygen.test/videos/{video_id}.jpg"
    assert completed.duration_ms == 12_345
    assert completed.callback_id == "5f0c7a1e-0000-4000-8000-000000000001"
    status_call = heygen_api.requests[-1]
    assert (status_call.method, status_call.path, status_call.query) == (
        "GET",
        "/v1/video_status.get",
        {"video_id": video_id},
    )


async def test_a_failed_video_says_why(catalog, heygen_api):
    heygen = catalog.build("heygen", CONFIG)
    video_id = await heygen.generate_video(a_request())
    heygen_api.finish(video_id, failed=True)

    report = await heygen.video_status(video_id)

    assert report.status is VideoStatus.FAILED
    assert report.error == "Avatar not available"


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (429, True), (500, True), (503, True)]
)
async def test_heygens_errors_say_whether_a_retry_can_help(catalog, heygen_api, status, retryable):
    heygen = catalog.build("heygen", CONFIG)
    heygen_api.fail_next(status=status)

    with pytest.raises(ProviderError) as raised:
        await heygen.generate_video(a_request())

    assert raised.value.retryable is retryable
    assert raised.value.status == status
    assert str(raised.value).startswith("HeyGen: ")
    assert API_KEY not in str(raised.value)


async def test_an_unknown_video_is_not_retried(catalog):
    heygen = catalog.build("heygen", CONFIG)

    with pytest.raises(ProviderError) as raised:
        await heygen.video_status("no-such-video")

    assert (raised.value.status, raised.value.retryable) == (404, False)


async def test_an_unreachable_heygen_is_retryable():
    with HeyGenStandIn() as standin:
        closed = standin.api_base  # the port closes with the block
    heygen = catalog_with(HeyGenPlugin(api_base=closed)).build("heygen", CONFIG)

    with pytest.raises(ProviderError) as raised:
        await heygen.list_avatars()

    assert raised.value.retryable is True


# --- webhooks ----------------------------------------------------------------------------------


def test_a_success_event_signed_with_the_endpoint_secret_is_read_into_a_report(catalog):
    body = json.dumps(
        {
            "event_type": "avatar_video.success",
            "event_data": {
                "video_id": "v123",
                "url": "https://files.heygen.test/v123.mp4",
                "callback_id": "cb",
            },
        }
    ).encode()

    [event] = catalog.verify_webhook("heygen", CONFIG, delivery(body, sign(body, SECRET)))
    report = VIDEO_EVENTS[event.type](event)

    assert (event.event_id, event.type) == ("avatar_video.success:v123", "avatar_video.success")
    assert (report.provider_video_id, report.status, report.video_url, report.callback_id) == (
        "v123",
        VideoStatus.COMPLETED,
        "https://files.heygen.test/v123.mp4",
        "cb",
    )


def test_a_fail_event_carries_heygens_reason(catalog):
    body = json.dumps(
        {
            "event_type": "avatar_video.fail",
            "event_data": {"video_id": "v9", "msg": "Bad script", "callback_id": "cb"},
        }
    ).encode()

    [event] = catalog.verify_webhook("heygen", CONFIG, delivery(body, sign(body, SECRET).upper()))
    report = VIDEO_EVENTS[event.type](event)

    assert (report.status, report.error) == (VideoStatus.FAILED, "Bad script")


@pytest.mark.parametrize(
    ("case", "body", "signature"),
    [
        ("missing", b'{"event_type": "avatar_video.success", "event_data": {"video_id": "v1"}}', None),
        ("another secret", b'{"event_type": "avatar_video.success", "event_data": {}}', "other"),
        ("not hex", b'{"event_type": "avatar_video.success", "event_data": {}}', "zz-not-a-digest"),
    ],
)
def test_a_delivery_without_heygens_signature_is_rejected(catalog, case, body, signature):
    if signature == "other":
        signature = sign(body, "whsec_someone_else_entirely")

    with pytest.raises(WebhookRejected):
        catalog.verify_webhook("heygen", CONFIG, delivery(body, signature))


def test_a_tampered_body_is_rejected(catalog):
    body = b'{"event_type": "avatar_video.success", "event_data": {"video_id": "v1", "url": "https://a"}}'
    signature = sign(body, SECRET)
    tampered = body.replace(b"https://a", b"https://evil")

    with pytest.raises(WebhookRejected, match="bad signature"):
        catalog.verify_webhook("heygen", CONFIG, delivery(tampered, signature))


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"event_type": "x"}', b'{"event_data": {}}'])
def test_a_signed_body_that_is_not_a_heygen_event_is_rejected(catalog, body):
    with pytest.raises(WebhookRejected, match="malformed"):
        catalog.verify_webhook("heygen", CONFIG, delivery(body, sign(body, SECRET)))


def test_without_a_webhook_secret_no_delivery_is_accepted(catalog):
    body = b'{"event_type": "avatar_video.success", "event_data": {"video_id": "v1"}}'

    with pytest.raises(WebhookRejected, match="no webhook secret"):
        catalog.verify_webhook("heygen", {"api_key": API_KEY}, delivery(body, sign(body, SECRET)))
