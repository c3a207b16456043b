"""A local stand-in for Retell's API, for the official ``retell-sdk`` to talk to, and Retell's
posts to a server URL, signed with the SDK's own helper.

``RetellStandIn`` answers what the ``retell`` plugin calls, as Retell does:

- ``POST /create-retell-llm``, ``PATCH /update-retell-llm/{id}``, ``DELETE /delete-retell-llm/{id}``
  (``general_tools`` of type ``custom`` need ``name`` and ``url``; ``knowledge_base_ids`` must
  exist);
- ``POST /create-agent`` (``response_engine`` naming an existing LLM, ``voice_id``),
  ``GET /get-agent/{id}``, ``PATCH /update-agent/{id}``, ``DELETE /delete-agent/{id}``;
- ``GET /v2/list-phone-numbers`` (``limit``; one page), ``PATCH /update-phone-number/{number}``;
- ``POST /v2/create-phone-call`` (``from_number`` one of the account's, ``override_agent_id``,
  ``idempotency_key`` replays the first answer), ``GET /v2/get-call/{id}``,
  ``POST /v2/stop-call/{id}`` (400 for a call that is not live);
- ``POST /create-knowledge-base`` (multipart: ``knowledge_base_name``,
  ``knowledge_base_files``), ``DELETE /delete-knowledge-base/{id}``.

``Authorization: Bearer <key>`` is required (401 otherwise; ``accepted_keys`` narrows it).
Errors are Retell's ``{"status": "error", "message": "..."}``. Every request is recorded;
``fail_next`` makes the next ones fail with 400, 401, 404, 422, 429, 500 or 503.

``retell_post(api_key, body)`` signs a post as Retell signs it (``Retell.verify``'s own
scheme, from ``retell.lib.webhook_auth``); the ``*_event`` builders make realistic bodies.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from retell.lib.webhook_auth import symmetric

from tests.fakes.standin import Answer, RecordedRequest, StandIn

FAILURES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class RetellError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.answer = Answer(status, {"status": "error", "message": message})


def _millis() -> int:
    return int(time.time() * 1000)


class RetellStandIn(StandIn):
    PROVIDER = "Retell"
    FAILURES = FAILURES
    BODY = "json"
    METHODS = ("GET", "POST", "PATCH", "DELETE")

    def __init__(
        self,
        *,
        phone_numbers: Iterable[str] = ("+15550100001", "+15550100002"),
        accepted_keys: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.accepted_keys = accepted_keys
        self.llms: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.knowledge_bases: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self._replays: dict[str, dict[str, Any]] = {}
        self.phone_numbers: dict[str, dict[str, Any]] = {
            number: {
                "phone_number": number,
                "phone_number_pretty": number,
                "phone_number_type": "retell-twilio",
                "nickname": f"Line {number[-4:]}",
                "inbound_agents": None,
                "outbound_agents": None,
                "inbound_webhook_url": None,
                "area_code": 555,
                "last_modification_timestamp": _millis(),
            }
            for number in phone_numbers
        }

    def finish_call(self, call_id: str, reason: str = "user_hangup") -> None:
        with self._lock:
            self.calls[call_id].update(
                call_status="ended", disconnection_reason=reason, end_timestamp=_millis()
            )

    # --- answering ---------------------------------------------------------------------------

    def answer_failure(self, failure: int) -> Answer:
        return RetellError(failure, FAILURES[failure]).answer

    def route(self, request: RecordedRequest) -> Answer:
        try:
            key = request.api_key
            if not key or (self.accepted_keys is not None and key not in self.accepted_keys):
                raise RetellError(401, "Invalid API key")
            with self._lock:
                return self._dispatch(request)
        except RetellError as error:
            return error.answer

    def _dispatch(self, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        parts = [part for part in request.path.split("/") if part]
        match (request.method, parts):
            case ("POST", ["create-retell-llm"]):
                return Answer(201, self._save_llm(None, body))
            case ("PATCH", ["update-retell-llm", llm_id]):
                return Answer(200, self._save_llm(llm_id, body))
            case ("DELETE", ["delete-retell-llm", llm_id]):
                self._take(self.llms, llm_id, pop=True)
                return Answer(204)
            case ("POST", ["create-agent"]):
                return Answer(201, self._save_agent(None, body))
            case ("GET", ["get-agent", agent_id]):
                return Answer(200, self._take(self.agents, agent_id))
            case ("PATCH", ["update-agent", agent_id]):
                return Answer(200, self._save_agent(agent_id, body))
            case ("DELETE", ["delete-agent", agent_id]):
                self._take(self.agents, agent_id, pop=True)
                return Answer(204)
            case ("GET", ["v2", "list-phone-numbers"]):
                return Answer(200, {"items": list(self.phone_numbers.values()), "has_more": False})
            case ("PATCH", ["update-phone-number", number]):
                return Answer(200, self._update_number(number, body))
            case ("POST", ["v2", "create-phone-call"]):
                return Answer(201, self._create_call(body))
            case ("GET", ["v2", "get-call", call_id]):
                return Answer(200, self._take(self.calls, call_id))
            case ("POST", ["v2", "stop-call", call_id]):
                call = self._take(self.calls, call_id)
                if call["call_status"] not in ("registered", "ongoing"):
                    raise RetellError(400, "Call is not ongoing")
                call.update(
                    call_status="ended", disconnection_reason="call_transfer", end_timestamp=_millis()
                )
                return Answer(204)
            case ("POST", ["create-knowledge-base"]):
                return Answer(201, self._create_knowledge_base(request))
            case ("DELETE", ["delete-knowledge-base", base_id]):
                self._take(self.knowledge_bases, base_id, pop=True)
                self.file_contents.pop(base_id, None)
                return Answer(204)
        raise RetellError(404, f"Cannot {request.method} {request.path}")

    def _take(self, table: dict[str, dict[str, Any]], key: str, *, pop: bool = False) -> dict[str, Any]:
        found = table.pop(key, None) if pop else table.get(key)
        if found is None:
            raise RetellError(404, "Not Found")
        return found

    def _save_llm(self, llm_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        for tool in body.get("general_tools") or []:
            if tool.get("type") == "custom" and not (tool.get("name") and tool.get("url")):
                raise RetellError(400, "custom tools need a name and a url")
        for base_id in body.get("knowledge_base_ids") or []:
            if base_id not in self.knowledge_bases:
                raise RetellError(400, f"knowledge base {base_id} not found")
        if llm_id is None:
            llm_id = f"llm_{secrets.token_hex(12)}"
            self.llms[llm_id] = {"llm_id": llm_id, "version": 0, "is_published": False}
        llm = self._take(self.llms, llm_id)
        llm.update(body, last_modification_timestamp=_millis())
        return llm

    def _save_agent(self, agent_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        engine = body.get("response_engine")
        if agent_id is None and not (isinstance(engine, dict) and engine.get("llm_id") in self.llms):
            raise RetellError(400, "response_engine must name an existing Retell LLM")
        if agent_id is None and not body.get("voice_id"):
            raise RetellError(400, "voice_id is required")
        if agent_id is None:
            agent_id = f"agent_{secrets.token_hex(12)}"
            self.agents[agent_id] = {"agent_id": agent_id, "version": 0, "is_published": False}
        agent = self._take(self.agents, agent_id)
        agent.update(body, last_modification_timestamp=_millis())
        return agent

    def _update_number(self, number: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self._take(self.phone_numbers, number)
        for inbound in body.get("inbound_agents") or []:
            if inbound.get("agent_id") not in self.agents:
                raise RetellError(400, f"agent {inbound.get('agent_id')} not found")
        found.update(body, last_modification_timestamp=_millis())
        return found

    def _create_call(self, body: dict[str, Any]) -> dict[str, Any]:
        key = body.get("idempotency_key")
        if key and key in self._replays:
            return self._replays[key]
        if body.get("from_number") not in self.phone_numbers:
            raise RetellError(400, "from_number is not a number of this account")
        if body.get("override_agent_id") not in self.agents:
            raise RetellError(400, "override_agent_id not found")
        call_id = f"call_{secrets.token_hex(16)}"
        call = {
            "call_id": call_id,
            "call_type": "phone_call",
            "agent_id": body["override_agent_id"],
            "agent_version": 0,
            "call_status": "registered",
            "direction": "outbound",
            "from_number": body["from_number"],
            "to_number": body.get("to_number"),
            "metadata": body.get("metadata"),
            "retell_llm_dynamic_variables": body.get("retell_llm_dynamic_variables"),
        }
        self.calls[call_id] = call
        if key:
            self._replays[key] = call
        return call

    def _create_knowledge_base(self, request: RecordedRequest) -> dict[str, Any]:
        fields = request.multipart()
        if fields is None:
            raise RetellError(400, "Expected multipart/form-data")
        names = fields.get("knowledge_base_name") or []
        files = fields.get("knowledge_base_files") or fields.get("knowledge_base_files[]") or []
        if len(names) != 1 or not files:
            raise RetellError(400, "knowledge_base_name and knowledge_base_files are required")
        name = names[0].get_content().strip()
        if len(name) >= 40:
            raise RetellError(400, "knowledge_base_name must be less than 40 characters")
        base_id = f"knowledge_base_{secrets.token_hex(8)}"
        sources = []
        for part in files:
            content = part.get_payload(decode=True) or b""
            self.file_contents[base_id] = content
            sources.append(
                {
                    "type": "document",
                    "source_id": f"source_{secrets.token_hex(6)}",
                    "filename": part.get_filename(),
                    "file_url": f"https://retell-kb.example/{base_id}/{part.get_filename()}",
                    "file_size": len(content),
                    "content_type": part.get_content_type(),
                }
            )
        base = {
            "knowledge_base_id": base_id,
            "knowledge_base_name": name,
            "status": "in_progress",
            "knowledge_base_sources": sources,
            "user_modified_timestamp": _millis(),
        }
        self.knowledge_bases[base_id] = base
        return base


# --- what Retell posts -----------------------------------------------------------------------------


def retell_post(
    api_key: str, body: Mapping[str, Any], *, timestamp_ms: int | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body of one post from Retell, signed with the SDK's own signing function."""
    text = json.dumps(dict(body), separators=(",", ":"))
    signature = symmetric["sign"](text, api_key, timestamp_ms)
    return {"content-type": "application/json", "x-retell-signature": signature}, text.encode()


def retell_call(
    call_id: str,
    *,
    direction: str = "inbound",
    business_number: str = "+15550100001",
    customer_number: str = "+14155550123",
    agent_id: str = "agent_0a1b2c3d4e5f",
    metadata: Mapping[str, str] | None = None,
    status: str = "ongoing",
) -> dict[str, Any]:
    inbound = direction == "inbound"
    return {
        "call_id": call_id,
        "call_type": "phone_call",
        "agent_id": agent_id,
        "agent_version": 1,
        "call_status": status,
        "direction": direction,
        "from_number": customer_number if inbound else business_number,
        "to_number": business_number if inbound else customer_number,
        "metadata": dict(metadata or {}),
        "retell_llm_dynamic_variables": {"customer_name": "Grace"},
        "start_timestamp": 1762160400000,
    }


def call_started_event(call: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": "call_started", "call": dict(call)}


def call_ended_event(call: Mapping[str, Any]) -> dict[str, Any]:
    """``call_ended`` as Retell sends it: transcript with word timings, costs in cents."""
    return {
        "event": "call_ended",
        "call": {
            **call,
            "call_status": "ended",
            "end_timestamp": 1762160525500,
            "duration_ms": 125500,
            "disconnection_reason": "user_hangup",
            "transcript": "Agent: Hello, Harbour Plumbing.\nUser: I need a boiler service.\n",
            "transcript_object": [
                {
                    "role": "agent",
                    "content": "Hello, Harbour Plumbing.",
                    "words": [
                        {"word": "Hello,", "start": 0.8, "end": 1.2},
                        {"word": "Harbour", "start": 1.3, "end": 1.7},
                        {"word": "Plumbing.", "start": 1.75, "end": 2.3},
                    ],
                },
                {
                    "role": "user",
                    "content": "I need a boiler service.",
                    "words": [
                        {"word": "I", "start": 4.1, "end": 4.2},
                        {"word": "need", "start": 4.25, "end": 4.5},
                        {"word": "a", "start": 4.55, "end": 4.6},
                        {"word": "boiler", "start": 4.65, "end": 5.1},
                        {"word": "service.", "start": 5.15, "end": 5.9},
                    ],
                },
            ],
            "recording_url": "https://dxc03zgurdly9.cloudfront.net/call_recording.wav",
            "call_cost": {
                "product_costs": [
                    {"product": "elevenlabs_tts", "unit_price": 0.0116667, "cost": 1.4641667},
                    {"product": "gpt_4.1_mini", "unit_price": 0.00033, "cost": 0.041415},
                    {"product": "retell_platform", "unit_price": 0.0016667, "cost": 0.2091667},
                    {"product": "retell_twilio_telephony", "unit_price": 0.0025, "cost": 0.31375},
                    {"product": "deepgram_stt", "unit_price": 0.0004, "cost": 0.0502},
                ],
                "total_duration_seconds": 126,
                "total_duration_unit_price": 0.0162,
                "combined_cost": 2.0787334,
            },
        },
    }


def call_analyzed_event(call: Mapping[str, Any]) -> dict[str, Any]:
    ended = call_ended_event(call)
    ended["event"] = "call_analyzed"
    ended["call"]["call_analysis"] = {
        "call_summary": "The caller booked a boiler service for Tuesday.",
        "in_voicemail": False,
        "user_sentiment": "Positive",
        "call_successful": True,
        "custom_analysis_data": {"service": "boiler"},
    }
    return ended


def call_inbound_event(
    from_number: str = "+14155550123", to_number: str = "+15550100001", agent_id: str | None = None
) -> dict[str, Any]:
    inbound: dict[str, Any] = {"from_number": from_number, "to_number": to_number}
    if agent_id is not None:
        inbound["agent_id"] = agent_id
    return {"event": "call_inbound", "event_timestamp": _millis(), "call_inbound": inbound}


def function_call_post(call: Mapping[str, Any], name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """A custom function's request: the call so far, the function's name, its arguments."""
    return {"name": name, "call": dict(call), "args": dict(args)}
