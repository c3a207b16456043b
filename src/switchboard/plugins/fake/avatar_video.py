"""The fake avatar video provider (``fake_avatar_video``): catalogs, videos and their statuses in
memory, recording what it was asked.

Its videos stay ``processing`` until a test finishes them (``FakeVideoRecord.finish``). It tells
of them with two events signed per Standard Webhooks, body ``{"type": ..., "data": {...}}``:

- ``video.completed``: ``{"video_id", "callback_id", "url", "thumbnail_url"?, "duration_ms"?}``;
- ``video.failed``: ``{"video_id", "callback_id", "error"}``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from switchboard.core.avatar_videos.model import Avatar, VideoReport, VideoStatus, Voice
from switchboard.core.queues.model import PermanentFailure
from switchboard.ports.avatar_video import VideoRequest
from switchboard.ports.providers import IncomingWebhook, ProviderError, ProviderEvent, WebhookRejected

FAKE_AVATARS = (
    Avatar("fake_avatar_ada", "Ada", "female", "https://avatars.fake.test/ada.png"),
    Avatar("fake_avatar_alan", "Alan", "male", "https://avatars.fake.test/alan.png"),
)
FAKE_VOICES = (
    Voice("fake_voice_en", "Clear English", "English", "female", "https://voices.fake.test/en.mp3"),
    Voice("fake_voice_fr", "Français posé", "French", "male", "https://voices.fake.test/fr.mp3"),
)


class FakeAvatarVideoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="fake", max_length=100)
    api_key: SecretStr = Field(min_length=8, max_length=200)
    # Standard Webhooks secret ("whsec_" + base64) for the fake provider's signed events.
    webhook_secret: SecretStr | None = Field(default=None, max_length=200)


@dataclass
class FakeVideoRecord:
    """What the fake provider holds and was asked, with the label of each configuration."""

    avatars: list[Avatar] = field(default_factory=lambda: list(FAKE_AVATARS))
    voices: list[Voice] = field(default_factory=lambda: list(FAKE_VOICES))
    catalog_fetches: list[tuple[str, str]] = field(default_factory=list)  # (label, "avatars" | "voices")
    generated: list[tuple[str, VideoRequest]] = field(default_factory=list)
    status_checks: list[tuple[str, str]] = field(default_factory=list)  # (label, provider video id)
    videos: dict[str, VideoReport] = field(default_factory=dict)  # by provider video id
    # What a test wants the next calls to raise, in order (then they succeed again).
    failures: list[ProviderError] = field(default_factory=list)
    _by_key: dict[str, str] = field(default_factory=dict)  # idempotency key -> video id
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def finish(
        self, video_id: str, status: VideoStatus = VideoStatus.COMPLETED, **fields: Any
    ) -> VideoReport:
        """The provider is done with the video: its status checks say so from now on."""
        if status is VideoStatus.COMPLETED:
            fields = {
                "video_url": f"https://videos.fake.test/{video_id}.mp4",
                "thumbnail_url": f"https://videos.fake.test/{video_id}.jpg",
                "duration_ms": 12_500,
            } | fields
        report = replace(self.videos[video_id], status=status, **fields)
        self.videos[video_id] = report
        return report

    def _fail_or_go_on(self) -> None:
        if self.failures:
            raise self.failures.pop(0)


class FakeAvatarVideo:
    def __init__(self, config: FakeAvatarVideoConfig, record: FakeVideoRecord) -> None:
        self.config, self._record = config, record

    async def list_avatars(self) -> list[Avatar]:
        self._record.catalog_fetches.append((self.config.label, "avatars"))
        self._record._fail_or_go_on()
        return list(self._record.avatars)

    async def list_voices(self) -> list[Voice]:
        self._record.catalog_fetches.append((self.config.label, "voices"))
        self._record._fail_or_go_on()
        return list(self._record.voices)

    async def generate_video(self, request: VideoRequest) -> str:
        record = self._record
        record.generated.append((self.config.label, request))
        record._fail_or_go_on()
        key = f"{self.config.label}:{request.idempotency_key}"
        if key in record._by_key:  # as a provider that honours idempotency keys
            return record._by_key[key]
        video_id = f"fake_video_{next(record._ids):06d}"
        record._by_key[key] = video_id
        record.videos[video_id] = VideoReport(
            video_id, VideoStatus.PROCESSING, callback_id=request.callback_id
        )
        return video_id

    async def video_status(self, provider_video_id: str) -> VideoReport:
        self._record.status_checks.append((self.config.label, provider_video_id))
        self._record._fail_or_go_on()
        report = self._record.videos.get(provider_video_id)
        if report is None:
            raise ProviderError("no such video", retryable=False, status=404)
        return report


def verify_fake_video_webhook(
    config: FakeAvatarVideoConfig, incoming: IncomingWebhook
) -> list[ProviderEvent]:
    """Signed per Standard Webhooks; the body is {"type": ..., "data": {...}}."""
    if config.webhook_secret is None:
        raise WebhookRejected("this connection has no webhook secret")
    try:
        body = Webhook(config.webhook_secret.get_secret_value()).verify(incoming.body, incoming.headers)
        return [ProviderEvent(incoming.headers["webhook-id"], str(body["type"]), dict(body.get("data", {})))]
    except (
        WebhookVerificationError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
    ) as error:
        raise WebhookRejected(f"not a valid signed event: {error}") from error


def _video_id(event: ProviderEvent) -> str:
    video_id = event.data.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        raise PermanentFailure(f"fake event {event.event_id}: no video_id")
    return video_id


def _optional(event: ProviderEvent, name: str) -> str | None:
    value = event.data.get(name)
    return value if isinstance(value, str) else None


def read_fake_completed(event: ProviderEvent) -> VideoReport:
    duration = event.data.get("duration_ms")
    return VideoReport(
        provider_video_id=_video_id(event),
        status=VideoStatus.COMPLETED,
        video_url=_optional(event, "url"),
        thumbnail_url=_optional(event, "thumbnail_url"),
        duration_ms=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        callback_id=_optional(event, "callback_id"),
    )


def read_fake_failed(event: ProviderEvent) -> VideoReport:
    return VideoReport(
        provider_video_id=_video_id(event),
        status=VideoStatus.FAILED,
        error=_optional(event, "error"),
        callback_id=_optional(event, "callback_id"),
    )


FAKE_VIDEO_EVENTS = {"video.completed": read_fake_completed, "video.failed": read_fake_failed}
