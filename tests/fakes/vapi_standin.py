"""A local stand-in for Vapi's REST API, and Vapi's server messages, signed, for tests to post.

``VapiStandIn`` answers the calls the ``vapi`` plugin makes, the way Vapi does:

- ``POST /assistant``, ``PATCH /assistant/{id}`` (the fields sent replace those stored; a
  ``model`` is replaced whole, as Vapi documents), ``DELETE /assistant/{id}``;
- ``GET /phone-number``, ``PATCH /phone-number/{id}`` (``assistantId``, ``server``);
- ``POST /call`` (``assistantId``, ``phoneNumberId``, ``customer``, ``assistantOverrides``,
  ``metadata``), ``GET /call/{id}`` with its ``monitor.controlUrl``; ``POST`` to that control
  address with ``{"type": "end-call"}`` ends a live call, as Vapi's live call control does;
- ``POST /file`` (multipart, the document as ``file``), ``DELETE /file/{id}``.

Every request needs ``Authorization: Bearer <private key>`` (401 otherwise; ``accepted_keys``
narrows which keys work). Unknown ids are 404 and bad bodies 400, in Vapi's error shape
``{"message": [...] | "...", "error": "Not Found", "statusCode": 404}``. Every request is
recorded (method, path, headers, JSON body, raw body for the multipart upload) so a test checks
what was sent; ``fail_next`` makes the next ones fail with 400, 401, 404, 429, 500 or 503.

``vapi_server_message`` signs a server message as Vapi sends it to a server URL, with the
``X-Vapi-Secret`` header or an HMAC credential; the ``*_message`` builders make realistic
messages of each type, shaped as Vapi's documentation shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tests.fakes.standin import Answer, RecordedRequest, StandIn

ORG_ID = "6b5d7f2a-1c3e-4f50-9a8b-0c1d2e3f4a5b"

FAILURES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class VapiError(Exception):
    def __init__(self, status: int, message: str | list[str]) -> None:
        super().__init__(str(message))
        self.answer = Answer(
            status, {"message": message, "error": FAILURES.get(status, "Error"), "statusCode": status}
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class VapiStandIn(StandIn):
    PROVIDER = "Vapi"
    FAILURES = FAILURES
    BODY = "json"
    METHODS = ("GET", "POST", "PATCH", "DELETE")

    def __init__(
        self,
        *,
        phone_numbers: Iterable[str] = ("+15550100001", "+15550100002"),
        accepted_keys: set[str] | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.delay = delay
        self.accepted_keys = accepted_keys
        self.assistants: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.phone_numbers: dict[str, dict[str, Any]] = {}
        for number in phone_numbers:
            number_id = str(uuid.uuid4())
            self.phone_numbers[number_id] = {
                "id": number_id,
                "orgId": ORG_ID,
                "number": number,
                "name": f"Line {number[-4:]}",
                "provider": "vapi",
                "status": "active",
                "assistantId": None,
                "createdAt": _now(),
                "updatedAt": _now(),
            }

    # --- what tests read and arrange ---------------------------------------------------------

    def number_id(self, number: str) -> str:
        return next(n["id"] for n in self.phone_numbers.values() if n["number"] == number)

    def finish_call(self, call_id: str, reason: str = "customer-ended-call") -> None:
        """The call ends on its own (the customer hangs up)."""
        with self._lock:
            self.calls[call_id].update(status="ended", endedReason=reason, endedAt=_now())

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return VapiError(failure, FAILURES[failure]).answer

    def route(self, request: RecordedRequest) -> Answer:
        try:
            parts = [part for part in request.path.split("/") if part]
            if parts[:1] == ["call-control"]:
                return self._control(parts[1:], request)  # the control address takes no key
            self._authenticate(request)
            with self._lock:
                return self._dispatch(request.method, parts, request)
        except VapiError as error:
            return error.answer

    def _authenticate(self, request: RecordedRequest) -> None:
        key = request.api_key
        if not key or (self.accepted_keys is not None and key not in self.accepted_keys):
            raise VapiError(
                401,
                "Invalid Key. Hot tip, you may be using the private key instead of the public key, "
                "or vice versa.",
            )

    def _dispatch(self, method: str, parts: list[str], request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        match (method, parts):
            case ("POST", ["assistant"]):
                return Answer(201, self._save_assistant(None, body))
            case ("PATCH", ["assistant", assistant_id]):
                return Answer(200, self._save_assistant(assistant_id, body))
            case ("DELETE", ["assistant", assistant_id]):
                return Answer(200, self._found(self.assistants, assistant_id, pop=True))
            case ("GET", ["phone-number"]):
                return Answer(200, list(self.phone_numbers.values()))
            case ("PATCH", ["phone-number", number_id]):
                return Answer(200, self._update_number(number_id, body))
            case ("POST", ["call"]):
                return Answer(201, self._create_call(body, request))
            case ("GET", ["call", call_id]):
                return Answer(200, self._found(self.calls, call_id))
            case ("POST", ["file"]):
                return Answer(201, self._upload(request))
            case ("DELETE", ["file", file_id]):
                self.file_contents.pop(file_id, None)
                return Answer(200, self._found(self.files, file_id, pop=True))
        raise VapiError(404, f"Cannot {method} {request.path}")

    def _found(
        self, table: dict[str, dict[str, Any]], object_id: str, *, pop: bool = False
    ) -> dict[str, Any]:
        found = table.pop(object_id, None) if pop else table.get(object_id)
        if found is None:
            raise VapiError(404, "Not Found")
        return found

    def _save_assistant(self, assistant_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        problems = []
        if "name" in body and (not isinstance(body["name"], str) or len(body["name"]) > 40):
            problems.append("name must be shorter than or equal to 40 characters")
        model = body.get("model")
        if model is not None and not (
            isinstance(model, dict) and model.get("provider") and model.get("model")
        ):
            problems.append("model.provider and model.model must be given")
        for tool in (model or {}).get("tools", []) if isinstance(model, dict) else []:
            if tool.get("type") == "query":
                for base in tool.get("knowledgeBases", []):
                    problems += [
                        f"file {f} does not exist" for f in base.get("fileIds", []) if f not in self.files
                    ]
        if problems:
            raise VapiError(400, problems)
        if assistant_id is None:
            assistant_id = str(uuid.uuid4())
            assistant = {"id": assistant_id, "orgId": ORG_ID, "createdAt": _now()}
            self.assistants[assistant_id] = assistant
        else:
            assistant = self._found(self.assistants, assistant_id)
        assistant.update(body, updatedAt=_now())
        return assistant

    def _update_number(self, number_id: str, body: dict[str, Any]) -> dict[str, Any]:
        number = self._found(self.phone_numbers, number_id)
        assistant_id = body.get("assistantId")
        if assistant_id is not None and assistant_id not in self.assistants:
            raise VapiError(400, f"Couldn't Find Assistant. assistantId: {assistant_id}")
        number.update(body, updatedAt=_now())
        return number

    def _create_call(self, body: dict[str, Any], request: RecordedRequest) -> dict[str, Any]:
        assistant_id = body.get("assistantId")
        if assistant_id not in self.assistants:
            raise VapiError(400, f"Couldn't Get Assistant. `assistantId` {assistant_id} Does Not Exist.")
        number_id = body.get("phoneNumberId") or next(iter(self.phone_numbers), None)
        if number_id not in self.phone_numbers:
            raise VapiError(400, f"Couldn't Get Phone Number. `phoneNumberId` {number_id} Does Not Exist.")
        customer = body.get("customer")
        if not isinstance(customer, dict) or not re.fullmatch(
            r"\+[1-9]\d{6,14}", str(customer.get("number"))
        ):
            raise VapiError(400, ["customer.number must be a valid phone number in the E.164 format."])
        call_id = str(uuid.uuid4())
        host = request.headers.get("host", "127.0.0.1")
        call = {
            "id": call_id,
            "orgId": ORG_ID,
            "type": "outboundPhoneCall",
            "status": "queued",
            "assistantId": assistant_id,
            "phoneNumberId": number_id,
            "customer": customer,
            "assistantOverrides": body.get("assistantOverrides", {}),
            "metadata": body.get("metadata", {}),
            "monitor": {
                "listenUrl": f"ws://{host}/call-control/{call_id}/listen",
                "controlUrl": f"http://{host}/call-control/{call_id}/control",
            },
            "createdAt": _now(),
            "updatedAt": _now(),
        }
        self.calls[call_id] = call
        return call

    def _control(self, parts: list[str], request: RecordedRequest) -> Answer:
        if len(parts) != 2 or parts[1] != "control" or request.method != "POST":
            raise VapiError(404, "Not Found")
        with self._lock:
            call = self.calls.get(parts[0])
            if call is None or call["status"] == "ended":
                raise VapiError(404, "Call not found or already ended")
            if not isinstance(request.json, dict) or request.json.get("type") != "end-call":
                raise VapiError(400, "Unknown control message")
            call.update(status="ended", endedReason="call.ended-by-api", endedAt=_now())
        return Answer(200, {"message": "ok"})

    def _upload(self, request: RecordedRequest) -> dict[str, Any]:
        fields = request.multipart()
        if fields is None:
            raise VapiError(400, "Expected multipart/form-data")
        parts = fields.get("file", [])
        if len(parts) != 1:
            raise VapiError(400, "file must be given once")
        part = parts[0]
        content = part.get_payload(decode=True) or b""
        file_id = str(uuid.uuid4())
        name = part.get_filename() or "file"
        self.files[file_id] = {
            "id": file_id,
            "orgId": ORG_ID,
            "object": "file",
            "status": "done",
            "name": name,
            "originalName": name,
            "mimetype": part.get_content_type(),
            "bytes": len(content),
            "url": f"https://storage.vapi.ai/{file_id}-{name}",
            "createdAt": _now(),
            "updatedAt": _now(),
        }
        self.file_contents[file_id] = content
        return self.files[file_id]


# --- server messages ---------------------------------------------------------------------------


def vapi_server_message(
    secret: str,
    message: Mapping[str, Any],
    *,
    scheme: str = "secret",
    timestamp_ms: int | None = None,
    signature_header: str = "x-signature",
    timestamp_header: str = "x-timestamp",
) -> tuple[dict[str, str], bytes]:
    """The headers and body of one server message as Vapi posts it: ``{"message": message}``.

    ``scheme="secret"`` sends the server secret in ``X-Vapi-Secret``; ``scheme="hmac"`` signs as
    an HMAC credential does by default: hex HMAC-SHA256 of ``<timestamp>.<body>`` in
    ``signature_header``, the timestamp (milliseconds since the epoch) in ``timestamp_header``.
    """
    body = json.dumps({"message": dict(message)}, separators=(",", ":")).encode()
    headers = {"content-type": "application/json", "user-agent": "Vapi/1.0"}
    if scheme == "secret":
        headers["x-vapi-secret"] = secret
    elif scheme == "hmac":
        stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers[signature_header] = digest
        headers[timestamp_header] = stamp
    else:
        raise ValueError(f"unknown scheme {scheme!r}: 'secret' or 'hmac'")
    return headers, body


def vapi_call(
    call_id: str,
    *,
    business_number: str = "+15550100001",
    customer_number: str = "+14155550123",
    direction: str = "inbound",
    assistant_id: str | None = None,
    phone_number_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    status: str = "in-progress",
) -> dict[str, Any]:
    """The ``call`` object Vapi puts on every message of one call."""
    call: dict[str, Any] = {
        "id": call_id,
        "orgId": ORG_ID,
        "type": "inboundPhoneCall" if direction == "inbound" else "outboundPhoneCall",
        "status": status,
        "phoneNumberId": phone_number_id or str(uuid.uuid5(uuid.NAMESPACE_URL, business_number)),
        "customer": {"number": customer_number},
        "phoneCallProvider": "twilio",
        "phoneCallTransport": "pstn",
        "createdAt": _now(),
        "updatedAt": _now(),
    }
    if assistant_id is not None:
        call["assistantId"] = assistant_id
    if metadata:
        call["metadata"] = dict(metadata)
    return call


def _envelope(type_: str, call: Mapping[str, Any], business_number: str | None = None) -> dict[str, Any]:
    number = business_number or "+15550100001"
    customer = dict(call.get("customer") or {})
    return {
        "type": type_,
        "timestamp": int(time.time() * 1000),
        "call": dict(call),
        "phoneNumber": {"id": call.get("phoneNumberId"), "number": number, "provider": "vapi"},
        "customer": customer,
    }


def assistant_request_message(
    call: Mapping[str, Any], business_number: str = "+15550100001"
) -> dict[str, Any]:
    return _envelope("assistant-request", call, business_number)


def tool_calls_message(
    call: Mapping[str, Any],
    tool_calls: Iterable[tuple[str, str, Mapping[str, Any]]],
    *,
    arguments_as_text: bool = False,
    business_number: str = "+15550100001",
) -> dict[str, Any]:
    """``tool-calls`` with one entry per ``(tool call id, name, arguments)``; Vapi sends the
    arguments as an object, some models as a JSON string (``arguments_as_text``)."""
    entries = []
    for tool_call_id, name, arguments in tool_calls:
        entries.append(
            {
                "id": tool_call_id,
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": json.dumps(dict(arguments)) if arguments_as_text else dict(arguments),
                },
            }
        )
    message = _envelope("tool-calls", call, business_number)
    message["toolCallList"] = entries
    message["toolWithToolCallList"] = [
        {"type": "function", "function": {"name": entry["function"]["name"]}, "toolCall": entry}
        for entry in entries
    ]
    return message


def status_update_message(
    call: Mapping[str, Any],
    status: str,
    ended_reason: str | None = None,
    business_number: str = "+15550100001",
) -> dict[str, Any]:
    message = _envelope("status-update", {**call, "status": status}, business_number)
    message["status"] = status
    if ended_reason is not None:
        message["endedReason"] = ended_reason
    return message


def transcript_message(
    call: Mapping[str, Any],
    role: str,
    text: str,
    *,
    final: bool = True,
    business_number: str = "+15550100001",
) -> dict[str, Any]:
    message = _envelope("transcript", call, business_number)
    message.update(role=role, transcriptType="final" if final else "partial", transcript=text)
    return message


def end_of_call_report_message(
    call: Mapping[str, Any],
    *,
    ended_reason: str = "customer-ended-call",
    started_at: str = "2026-11-03T09:00:00.000Z",
    ended_at: str = "2026-11-03T09:02:05.500Z",
    summary: str = "The caller booked a boiler service for Tuesday at 10:00.",
    success_evaluation: str = "true",
    structured_data: Mapping[str, Any] | None = None,
    cost_breakdown: Mapping[str, float] | None = None,
    recording_url: str = "https://storage.vapi.ai/recordings/mono.wav",
    business_number: str = "+15550100001",
) -> dict[str, Any]:
    """An ``end-of-call-report`` as Vapi sends it: the artifact (messages timed from the start,
    transcript, recording), the analysis, the cost and its breakdown in US dollars."""
    breakdown = dict(
        cost_breakdown
        if cost_breakdown is not None
        else {"transport": 0.0125, "stt": 0.0213, "llm": 0.00405, "tts": 0.0317, "vapi": 0.1042}
    )
    total = round(sum(breakdown.values()), 6)
    breakdown.update(
        total=total,
        llmPromptTokens=1830,
        llmCompletionTokens=142,
        ttsCharacters=611,
        analysisCostBreakdown={"summary": 0.0004, "structuredData": 0.0003, "successEvaluation": 0.0002},
    )
    messages = [
        {
            "role": "system",
            "message": "You are the booking assistant.",
            "time": 1762160400000,
            "secondsFromStart": 0,
        },
        {
            "role": "bot",
            "message": "Hello, Harbour Plumbing, how can I help?",
            "time": 1762160400800,
            "endTime": 1762160402900,
            "secondsFromStart": 0.8,
            "duration": 2.1,
        },
        {
            "role": "user",
            "message": "I'd like my boiler serviced next Tuesday.",
            "time": 1762160404100,
            "endTime": 1762160406600,
            "secondsFromStart": 4.1,
            "duration": 2.5,
        },
        {
            "role": "tool_calls",
            "toolCalls": [
                {
                    "id": "call_book_1",
                    "type": "function",
                    "function": {
                        "name": "book_appointment",
                        "arguments": '{"start": "2026-11-10T10:00:00Z"}',
                    },
                }
            ],
            "message": "",
            "time": 1762160408000,
            "secondsFromStart": 8.0,
        },
        {
            "role": "tool_call_result",
            "toolCallId": "call_book_1",
            "name": "book_appointment",
            "result": '{"appointment_id": "a1"}',
            "time": 1762160408300,
            "secondsFromStart": 8.3,
        },
        {
            "role": "bot",
            "message": "You're booked for Tuesday at ten.",
            "time": 1762160409000,
            "endTime": 1762160410500,
            "secondsFromStart": 9.0,
            "duration": 1.5,
        },
    ]
    transcript = (
        "AI: Hello, Harbour Plumbing, how can I help?\n"
        "User: I'd like my boiler serviced next Tuesday.\n"
        "AI: You're booked for Tuesday at ten.\n"
    )
    message = _envelope("end-of-call-report", {**call, "status": "ended"}, business_number)
    message.update(
        endedReason=ended_reason,
        startedAt=started_at,
        endedAt=ended_at,
        durationSeconds=125.5,
        cost=total,
        costBreakdown=breakdown,
        costs=[
            {"type": name, "cost": value} for name, value in breakdown.items() if isinstance(value, float)
        ],
        summary=summary,
        transcript=transcript,
        messages=messages,
        recordingUrl=recording_url,
        analysis={
            "summary": summary,
            "structuredData": dict(structured_data or {"service": "boiler", "booked": True}),
            "successEvaluation": success_evaluation,
        },
        artifact={
            "messages": messages,
            "transcript": transcript,
            "recordingUrl": recording_url,
            "recording": {"mono": {"combinedUrl": recording_url}},
        },
    )
    return message


def new_call_id() -> str:
    return str(uuid.uuid4())


def new_tool_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"
