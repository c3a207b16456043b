"""A local stand-in for HeyGen's REST API, for the heygen plugin's httpx calls in tests.

``HeyGenStandIn`` answers the calls Switchboard makes, the way HeyGen does:

- ``GET /v2/avatars`` and ``GET /v2/voices``: ``{"error": null, "data": {"avatars": [...]}}``
  (HeyGen's field names: ``avatar_id``, ``avatar_name``, ``preview_image_url``, ...);
- ``POST /v2/video/generate``: makes a video (``processing``) and answers ``data.video_id``; a
  repeated ``Idempotency-Key`` answers the first video again;
- ``GET /v1/video_status.get?video_id=``: ``{"code": 100, "data": {...}, "message": "Success"}``
  with ``status``, ``video_url``, ``thumbnail_url``, ``duration`` and ``error``; an unknown id
  is a 404.

The key must come in ``X-Api-Key`` (else HeyGen's 401). ``fail_next`` makes the next requests
fail with HeyGen's error body: a 400, 401, 404, 429, 500 or 503. ``finish`` completes or fails a
video, as HeyGen does when rendering ends; ``signed_event`` builds the webhook HeyGen would send
about it, signed with an endpoint secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

from tests.fakes.standin import Answer, RecordedRequest, StandIn

FAILURES: dict[int, tuple[str, str]] = {
    400: ("invalid_parameter", "avatar_id is invalid"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not_found", "Video not found"),
    429: ("rate_limit_exceeded", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}

AVATARS = [
    {
        "avatar_id": "Angela-inTshirt-20220820",
        "avatar_name": "Angela in T-shirt",
        "gender": "female",
        "preview_image_url": "https://files.heygen.test/angela.webp",
        "preview_video_url": "https://files.heygen.test/angela.mp4",
        "premium": False,
        "type": None,
        "tags": None,
        "default_voice_id": None,
    },
    {
        "avatar_id": "Tyler-incasualsuit-20220721",
        "avatar_name": "Tyler in Casual Suit",
        "gender": "male",
        "preview_image_url": "https://files.heygen.test/tyler.webp",
        "preview_video_url": "https://files.heygen.test/tyler.mp4",
        "premium": False,
        "type": None,
        "tags": None,
        "default_voice_id": "1bd001e7e50f421d891986aad5158bc8",
    },
]
VOICES = [
    {
        "voice_id": "1bd001e7e50f421d891986aad5158bc8",
        "language": "English",
        "gender": "male",
        "name": "Paul - Natural",
        "preview_audio": "https://files.heygen.test/paul.mp3",
        "support_pause": True,
        "emotion_support": False,
    },
    {
        "voice_id": "d7bbcdd6964c47bdaae26decade4a933",
        "language": "Portuguese",
        "gender": "female",
        "name": "Camila",
        "preview_audio": "https://files.heygen.test/camila.mp3",
        "support_pause": True,
        "emotion_support": False,
    },
]


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}, "data": None})


class HeyGenStandIn(StandIn):
    PROVIDER = "HeyGen"
    FAILURES = FAILURES
    BODY = "json"

    def __init__(self) -> None:
        super().__init__()
        self.videos: dict[str, dict[str, Any]] = {}  # by video id, as the status call answers
        self.generated: list[dict[str, Any]] = []  # the bodies of the videos made
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)

    # --- what tests arrange ------------------------------------------------------------------

    def finish(self, video_id: str, *, failed: bool = False) -> None:
        """Rendering ends: the status call says so from now on."""
        video = self.videos[video_id]
        if failed:
            video |= {
                "status": "failed",
                "error": {"code": 40119, "message": "Avatar not available", "detail": "retired"},
            }
        else:
            video |= {
                "status": "completed",
                "video_url": f"https://files.heygen.test/videos/{video_id}.mp4",
                "thumbnail_url": f"https://files.heygen.test/videos/{video_id}.jpg",
                "duration": 12.345,
            }

    def signed_event(
        self, video_id: str, secret: str, *, failed: bool = False
    ) -> tuple[bytes, dict[str, str]]:
        """HeyGen's webhook about the video: its raw body and headers, signed with ``secret``."""
        video = self.videos[video_id]
        if failed:
            event = {
                "event_type": "avatar_video.fail",
                "event_data": {
                    "video_id": video_id,
                    "msg": "Avatar not available",
                    "callback_id": video["callback_id"],
                },
            }
        else:
            event = {
                "event_type": "avatar_video.success",
                "event_data": {
                    "video_id": video_id,
                    "url": f"https://files.heygen.test/videos/{video_id}.mp4",
                    "gif_download_url": f"https://files.heygen.test/videos/{video_id}.gif",
                    "video_share_page_url": f"https://app.heygen.test/share/{video_id}",
                    "folder_id": "",
                    "callback_id": video["callback_id"],
                },
            }
        body = json.dumps(event).encode()
        return body, {"Signature": sign(body, secret), "Content-Type": "application/json"}

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return _error(failure, *FAILURES[failure])

    def route(self, request: RecordedRequest) -> Answer:
        if not request.headers.get("x-api-key"):
            return _error(401, *FAILURES[401])
        match request.method, request.path:
            case "GET", "/v2/avatars":
                return Answer(200, {"error": None, "data": {"avatars": AVATARS, "talking_photos": []}})
            case "GET", "/v2/voices":
                return Answer(200, {"error": None, "data": {"voices": VOICES}})
            case "POST", "/v2/video/generate":
                return self._generate(request)
            case "GET", "/v1/video_status.get":
                video = self.videos.get(request.query.get("video_id", ""))
                if video is None:
                    return Answer(404, {"code": 400404, "message": "Video not found", "data": None})
                return Answer(200, {"code": 100, "data": video, "message": "Success"})
        return _error(404, "not_found", f"{request.method} {request.path} is not a HeyGen endpoint")

    def _generate(self, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        key = request.headers.get("idempotency-key")
        if key and key in self._by_key:
            return Answer(200, {"error": None, "data": {"video_id": self._by_key[key]}})
        inputs = body.get("video_inputs")
        if not isinstance(inputs, list) or not inputs or "dimension" not in body:
            return _error(400, *FAILURES[400])
        video_id = f"{next(self._ids):032x}"
        if key:
            self._by_key[key] = video_id
        self.generated.append(body)
        self.videos[video_id] = {
            "id": video_id,
            "callback_id": body.get("callback_id"),
            "status": "processing",
            "video_url": None,
            "thumbnail_url": None,
            "gif_url": None,
            "caption_url": None,
            "duration": None,
            "error": None,
        }
        return Answer(200, {"error": None, "data": {"video_id": video_id}})


def sign(body: bytes, secret: str) -> str:
    """HeyGen's signature: the hex HMAC-SHA256 of the raw body under the endpoint's secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
