"""The built-in HeyGen plugin: avatar videos (capability ``avatar_video``) and HeyGen's webhooks.

One provider, slug ``heygen``. A tenant's configuration is its HeyGen API key and, if it
registered Switchboard's webhook address at HeyGen, that endpoint's signing secret; both are
secrets. Where requests go is not the tenant's to choose: HeyGen's API, or the operator's
stand-in named by ``SWITCHBOARD_HEYGEN_API_BASE`` (tests, local development).

HeyGen publishes no Python SDK; its REST API is called with httpx, one client per call, the key
in the ``X-Api-Key`` header:

- ``GET /v2/avatars`` and ``GET /v2/voices``: the catalogs (``data.avatars``, ``data.voices``);
- ``POST /v2/video/generate``: one scene, ``character`` ``{type: avatar, avatar_id}`` speaking
  ``voice`` ``{type: text, input_text, voice_id}``, with ``title``, ``dimension`` and
  ``callback_id`` (our video's id, echoed in HeyGen's events); the same id goes as the
  ``Idempotency-Key`` header, so a retried request is answered with the first video where
  HeyGen honours the key; answers ``data.video_id``;
- ``GET /v1/video_status.get?video_id=``: ``data.status`` (``pending``, ``waiting``,
  ``processing``, ``completed``, ``failed``), ``video_url``, ``thumbnail_url``, ``duration``
  (seconds) and ``error`` (``{code, message, detail}``).

Errors become ``ProviderError``: retryable for network failures, 429 and 5xx (and an answer
that is not HeyGen's JSON); not retryable for any other 4xx (a wrong key, an unknown avatar).

Webhooks: HeyGen signs each delivery's raw body with HMAC-SHA256 under the endpoint's secret and
sends the hex digest in the ``Signature`` header; the body is ``{"event_type", "event_data"}``.
``avatar_video.success`` carries ``video_id``, ``url`` and ``callback_id``;
``avatar_video.fail`` carries ``video_id``, ``msg`` and ``callback_id``. HeyGen's events have no
id of their own: an event's id here is its type and video id, so a repeated delivery is stored
once.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from switchboard.core.avatar_videos.model import Avatar, VideoReport, VideoStatus, Voice
from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import PermanentFailure
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.http import unreachable
from switchboard.plugins.payloads import text_of
from switchboard.plugins.spec import operator_api_base
from switchboard.ports.avatar_video import VideoRequest
from switchboard.ports.providers import IncomingWebhook, ProviderError, ProviderEvent, WebhookRejected

__all__ = [
    "API_BASE_SETTING",
    "VIDEO_EVENTS",
    "HeyGenConfig",
    "HeyGenPlugin",
    "HeyGenVideos",
    "verify_heygen_webhook",
]

API_BASE_SETTING = "SWITCHBOARD_HEYGEN_API_BASE"  # the operator's stand-in, never a tenant's
DEFAULT_API_BASE = "https://api.heygen.com"
TIMEOUT_SECONDS = 30.0
SIGNATURE_HEADER = "signature"
SUCCESS_EVENT = "avatar_video.success"
FAIL_EVENT = "avatar_video.fail"

_STATUSES = {
    "completed": VideoStatus.COMPLETED,
    "failed": VideoStatus.FAILED,
    "pending": VideoStatus.PROCESSING,
    "waiting": VideoStatus.PROCESSING,
    "processing": VideoStatus.PROCESSING,
}


class HeyGenConfig(BaseModel):
    """One tenant's HeyGen account. There is deliberately no base URL here: see API_BASE_SETTING."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(min_length=8, max_length=500)
    # The signing secret of the webhook endpoint registered at HeyGen; without it no webhook is
    # accepted and videos are settled by polling alone.
    webhook_secret: SecretStr | None = Field(default=None, min_length=8, max_length=500)


class HeyGenVideos:
    """The AvatarVideoPort for one tenant's HeyGen account."""

    def __init__(self, config: HeyGenConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base or DEFAULT_API_BASE

    async def list_avatars(self) -> list[Avatar]:
        data = await self._call("GET", "/v2/avatars")
        return [
            Avatar(
                id=str(item["avatar_id"]),
                name=text_of(item.get("avatar_name")) or str(item["avatar_id"]),
                gender=text_of(item.get("gender")),
                preview_image_url=text_of(item.get("preview_image_url")),
                preview_video_url=text_of(item.get("preview_video_url")),
            )
            for item in _listed(data, "avatars")
            if text_of(item.get("avatar_id"))
        ]

    async def list_voices(self) -> list[Voice]:
        data = await self._call("GET", "/v2/voices")
        return [
            Voice(
                id=str(item["voice_id"]),
                name=text_of(item.get("name")) or str(item["voice_id"]),
                language=text_of(item.get("language")),
                gender=text_of(item.get("gender")),
                preview_audio_url=text_of(item.get("preview_audio")),
            )
            for item in _listed(data, "voices")
            if text_of(item.get("voice_id"))
        ]

    async def generate_video(self, request: VideoRequest) -> str:
        body = {
            "title": request.title,
            "callback_id": request.callback_id,
            "dimension": {"width": request.width, "height": request.height},
            "video_inputs": [
                {
                    "character": {"type": "avatar", "avatar_id": request.avatar_id, "avatar_style": "normal"},
                    "voice": {"type": "text", "input_text": request.script, "voice_id": request.voice_id},
                }
            ],
        }
        data = await self._call(
            "POST", "/v2/video/generate", json=body, headers={"Idempotency-Key": request.idempotency_key}
        )
        video_id = text_of(data.get("video_id"))
        if video_id is None:
            raise ProviderError("HeyGen answered without a video id", retryable=True)
        return video_id

    async def video_status(self, provider_video_id: str) -> VideoReport:
        data = await self._call("GET", "/v1/video_status.get", params={"video_id": provider_video_id})
        status = _STATUSES.get(str(data.get("status")), VideoStatus.PROCESSING)
        error = data.get("error")
        message = None
        if isinstance(error, dict):
            message = (
                text_of(error.get("message")) or text_of(error.get("detail")) or text_of(error.get("code"))
            )
        elif isinstance(error, str):
            message = error
        duration = data.get("duration")
        return VideoReport(
            provider_video_id=provider_video_id,
            status=status,
            video_url=text_of(data.get("video_url")),
            thumbnail_url=text_of(data.get("thumbnail_url")),
            duration_ms=round(duration * 1000)
            if isinstance(duration, int | float) and duration >= 0
            else None,
            error=message if status is VideoStatus.FAILED else None,
            callback_id=text_of(data.get("callback_id")),
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; HeyGen's ``data`` object, or a ProviderError saying if a retry may help."""
        sent = {"X-Api-Key": self._config.api_key.get_secret_value(), "Accept": "application/json"}
        try:
            async with httpx.AsyncClient(base_url=self._api_base, timeout=TIMEOUT_SECONDS) as client:
                response = await client.request(
                    method, path, json=json, params=params, headers=sent | (headers or {})
                )
        except httpx.HTTPError as error:
            raise unreachable("HeyGen", error) from error
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        status = response.status_code
        if status >= 400:
            retryable = status == 429 or status >= 500
            raise ProviderError(
                _message(answer, status), retryable=retryable, status=status, code=_code(answer)
            )
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(answer, dict) and answer.get("error"):
            raise ProviderError(_message(answer, status), retryable=False, status=status, code=_code(answer))
        if not isinstance(data, dict):
            raise ProviderError("HeyGen's answer carries no data", retryable=True, status=status)
        return data


def _listed(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = data.get(name)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _error_of(answer: Any) -> dict[str, Any]:
    """HeyGen's error object: ``{"error": {"code", "message"}}`` (v2) or the answer itself (v1)."""
    if not isinstance(answer, dict):
        return {}
    error = answer.get("error")
    return error if isinstance(error, dict) else answer


def _message(answer: Any, status: int) -> str:
    message = _error_of(answer).get("message")
    return f"HeyGen: {message}" if isinstance(message, str) and message else f"HeyGen answered {status}"


def _code(answer: Any) -> str | int | None:
    code = _error_of(answer).get("code")
    return code if isinstance(code, str | int) else None


def verify_heygen_webhook(config: HeyGenConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """HeyGen's signature (hex HMAC-SHA256 of the raw body) checked in constant time; raises
    WebhookRejected when it does not hold or the body is not one of HeyGen's events."""
    if config.webhook_secret is None:
        raise WebhookRejected("this connection has no webhook secret")
    signature = incoming.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected("missing Signature header")
    expected = hmac.new(
        config.webhook_secret.get_secret_value().encode(), incoming.body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise WebhookRejected("Signature: bad signature")
    try:
        body = orjson.loads(incoming.body)
    except orjson.JSONDecodeError as error:
        raise WebhookRejected("malformed HeyGen event") from error
    event_type = body.get("event_type") if isinstance(body, dict) else None
    data = body.get("event_data") if isinstance(body, dict) else None
    if not isinstance(event_type, str) or not event_type or not isinstance(data, dict):
        raise WebhookRejected("malformed HeyGen event")
    subject = text_of(data.get("video_id")) or hashlib.sha256(incoming.body).hexdigest()
    return [ProviderEvent(event_id=f"{event_type}:{subject}", type=event_type, data=data)]


def _reported_video(event: ProviderEvent) -> str:
    video_id = text_of(event.data.get("video_id"))
    if video_id is None:
        raise PermanentFailure(f"HeyGen event {event.event_id} names no video")
    return video_id


def read_success(event: ProviderEvent) -> VideoReport:
    """``avatar_video.success``: the video is ready at ``url``."""
    return VideoReport(
        provider_video_id=_reported_video(event),
        status=VideoStatus.COMPLETED,
        video_url=text_of(event.data.get("url")),
        callback_id=text_of(event.data.get("callback_id")),
    )


def read_failure(event: ProviderEvent) -> VideoReport:
    """``avatar_video.fail``: why, in ``msg``."""
    return VideoReport(
        provider_video_id=_reported_video(event),
        status=VideoStatus.FAILED,
        error=text_of(event.data.get("msg")) or "HeyGen could not make the video",
        callback_id=text_of(event.data.get("callback_id")),
    )


VIDEO_EVENTS = {SUCCESS_EVENT: read_success, FAIL_EVENT: read_failure}


class HeyGenPlugin:
    name = "heygen"

    def __init__(self, api_base: str | None = None) -> None:
        """``api_base`` (or ``SWITCHBOARD_HEYGEN_API_BASE``) points every tenant's calls at a
        stand-in; unset, they go to HeyGen's API."""
        self.api_base = operator_api_base(api_base, API_BASE_SETTING)

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="heygen",
                capability=Capability.AVATAR_VIDEO,
                name="HeyGen",
                config_model=HeyGenConfig,
                build=lambda config: HeyGenVideos(config, api_base),
                description="Generates avatar videos from a script through HeyGen.",
                verify_webhook=verify_heygen_webhook,
                video_events=VIDEO_EVENTS,
            )
        ]
