"""Vapi: voice agents (Vapi's assistants), their phone numbers and calls, over Vapi's REST API.

One provider, slug ``vapi``, capability ``voice``. A tenant's configuration is its Vapi private
API key and how Vapi proves its server messages: a server secret (sent back in
``X-Vapi-Secret``), an HMAC credential's secret (with the credential's id at Vapi, which the
assistants' server settings then name), or both. Where requests go is not the tenant's to
choose: Vapi's API, or the operator's stand-in named by ``SWITCHBOARD_VAPI_API_BASE``.

The calls are made with httpx, not the official ``vapi-server-sdk``: its 3.0 release pins
``pydantic-core<2.44``, which would force the whole application back from pydantic 2.14 to
2.12. Each call gets a client of its own (nothing of one tenant outlives the call), does not
retry (the outbox worker does), and maps failures to ``ProviderError``: a refusal (4xx other
than 408, 409 and 429) is not retryable; those three, Vapi's 5xx and network failures are.

How the port maps onto Vapi:

- an agent is an assistant (``POST /assistant``, ``PATCH /assistant/{id}``, ``DELETE``): the
  model with the system prompt as its system message, the voice ``{provider, voiceId}``, the
  first message, each business tool as a ``function`` tool whose server is the agent's server
  URL, the knowledge files as an inline ``query`` tool over their file ids, the server URL with
  the connection's secret or credential, and the metadata;
- phone numbers: ``GET /phone-number``; assigning one sets its ``assistantId`` (or clears it,
  and Vapi then sends an ``assistant-request`` to the number's server URL for each call);
- a call: ``POST /call`` with ``assistantId``, ``phoneNumberId``, ``customer``,
  ``assistantOverrides.variableValues`` and ``metadata``; ending one posts ``{"type":
  "end-call"}`` to the call's live control address (``monitor.controlUrl`` of ``GET /call/{id}``),
  which takes no key; a call already ended is left as it is;
- knowledge files: ``POST /file`` (multipart) and ``DELETE /file/{id}``.

Server messages are read in ``plugins/vapi/messages.py``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.http import failed_answer, unreachable
from switchboard.plugins.payloads import json_object
from switchboard.plugins.spec import operator_api_base
from switchboard.plugins.vapi.messages import VAPI_MESSAGES, read_vapi_message, verify_vapi_webhook
from switchboard.ports.providers import ProviderError
from switchboard.ports.voice import (
    AgentDefinition,
    KnowledgeFileUpload,
    OutboundCallRequest,
    ProviderCall,
    ProviderPhoneNumber,
)

__all__ = [
    "API_BASE_SETTING",
    "VapiConfig",
    "VapiPlugin",
    "VapiVoice",
    "read_vapi_message",
    "verify_vapi_webhook",
]

API_BASE_SETTING = "SWITCHBOARD_VAPI_API_BASE"  # the operator's stand-in, never a tenant's
VAPI_API = "https://api.vapi.ai"
TIMEOUT_SECONDS = 30.0
HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
# Server messages an assistant sends to its server URL (assistant requests come from numbers).
SERVER_MESSAGES = ("status-update", "transcript", "end-of-call-report", "tool-calls")
NAME_LIMIT = 40  # Vapi's limit on an assistant's name


class VapiConfig(BaseModel):
    """One tenant's Vapi account. No base URL here on purpose: see API_BASE_SETTING."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(min_length=8, max_length=255)  # the private key
    server_secret: SecretStr | None = Field(default=None, min_length=8, max_length=255)
    hmac_secret: SecretStr | None = Field(default=None, min_length=8, max_length=255)
    # The HMAC credential's id at Vapi: assistants' and numbers' server settings name it.
    server_credential_id: str | None = Field(default=None, min_length=1, max_length=100)
    hmac_signature_header: str = Field(default="x-signature", pattern=HEADER_NAME)
    hmac_timestamp_header: str = Field(default="x-timestamp", pattern=HEADER_NAME)

    @field_validator("hmac_signature_header", "hmac_timestamp_header")
    @classmethod
    def _lower_case(cls, name: str) -> str:
        return name.lower()

    @model_validator(mode="after")
    def _messages_can_be_proven(self) -> Self:
        if self.server_secret is None and self.hmac_secret is None:
            raise ValueError("server_secret or hmac_secret is required: Vapi's messages must be provable")
        if self.hmac_secret is not None and self.server_credential_id is None:
            raise ValueError("server_credential_id (the HMAC credential's id at Vapi) goes with hmac_secret")
        return self


def _vapi_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no details"
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        return "; ".join(str(item) for item in message)
    return str(message or body)


class VapiVoice:
    """The VoicePort for one tenant's Vapi account."""

    def __init__(self, config: VapiConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base or VAPI_API

    # --- agents --------------------------------------------------------------------------------

    async def save_agent(self, agent: AgentDefinition, provider_agent_id: str | None) -> str:
        body = self._assistant(agent)
        if provider_agent_id is None:
            created = await self._request("POST", "/assistant", json=body)
        else:
            created = await self._request("PATCH", f"/assistant/{_segment(provider_agent_id)}", json=body)
        return _id_of(created)

    async def delete_agent(self, provider_agent_id: str) -> None:
        await self._request("DELETE", f"/assistant/{_segment(provider_agent_id)}", gone_is_fine=True)

    def _server(self, url: str) -> dict[str, Any]:
        server: dict[str, Any] = {"url": url}
        if self._config.server_secret is not None:
            server["secret"] = self._config.server_secret.get_secret_value()
        if self._config.server_credential_id is not None:
            server["credentialId"] = self._config.server_credential_id
        return server

    def _assistant(self, agent: AgentDefinition) -> dict[str, Any]:
        tools: list[dict[str, Any]] = [
            {
                "type": "function",
                "async": False,
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
                "server": self._server(agent.server_url),
            }
            for tool in agent.tools
        ]
        if agent.knowledge_file_ids:
            tools.append(
                {
                    "type": "query",
                    "function": {"name": "knowledge_base"},
                    "knowledgeBases": [
                        {
                            "provider": "google",
                            "name": "business-documents",
                            "description": "The business's own documents: services, prices, policies, FAQs.",
                            "fileIds": list(agent.knowledge_file_ids),
                        }
                    ],
                }
            )
        body: dict[str, Any] = {
            "name": agent.name[:NAME_LIMIT],
            "model": {
                "provider": agent.model_provider,
                "model": agent.model,
                "messages": [{"role": "system", "content": agent.system_prompt}],
                "tools": tools,
            },
            "voice": {"provider": agent.voice_provider, "voiceId": agent.voice_id},
            "server": self._server(agent.server_url),
            "serverMessages": list(SERVER_MESSAGES),
            "metadata": dict(agent.metadata),
        }
        if agent.first_message:
            body.update(firstMessage=agent.first_message, firstMessageMode="assistant-speaks-first")
        else:
            body["firstMessageMode"] = "assistant-waits-for-user"
        return body

    # --- numbers -------------------------------------------------------------------------------

    async def list_phone_numbers(self) -> list[ProviderPhoneNumber]:
        listed = await self._request("GET", "/phone-number")
        if not isinstance(listed, list):
            raise ProviderError("Vapi listed phone numbers as something other than a list", retryable=False)
        return [
            ProviderPhoneNumber(
                provider_id=str(item["id"]),
                number=item["number"],
                name=item.get("name") if isinstance(item.get("name"), str) else None,
                provider_agent_id=item.get("assistantId")
                if isinstance(item.get("assistantId"), str)
                else None,
            )
            for item in listed
            # SIP and other numbers without an E.164 number cannot take calls from the network.
            if isinstance(item, dict) and isinstance(item.get("number"), str) and item.get("id")
        ]

    async def assign_phone_number(
        self, provider_number_id: str, provider_agent_id: str | None, server_url: str
    ) -> None:
        body = {"assistantId": provider_agent_id, "server": self._server(server_url)}
        await self._request("PATCH", f"/phone-number/{_segment(provider_number_id)}", json=body)

    # --- calls ---------------------------------------------------------------------------------

    async def start_call(self, request: OutboundCallRequest) -> ProviderCall:
        customer: dict[str, Any] = {"number": request.customer_number}
        if request.customer_name:
            customer["name"] = request.customer_name[:40]
        body: dict[str, Any] = {"assistantId": request.provider_agent_id, "customer": customer}
        if request.provider_phone_number_id is not None:
            body["phoneNumberId"] = request.provider_phone_number_id
        if request.variables:
            body["assistantOverrides"] = {"variableValues": dict(request.variables)}
        if request.metadata:
            body["metadata"] = dict(request.metadata)
        # Vapi's POST /call takes no idempotency key: request.idempotency_key cannot be passed.
        call = await self._request("POST", "/call", json=body)
        return ProviderCall(
            provider_id=_id_of(call),
            status=str(call.get("status") or "queued"),
            recording_url=_recording_of(call),
        )

    async def end_call(self, provider_call_id: str) -> None:
        call = await self._request("GET", f"/call/{_segment(provider_call_id)}")
        if call.get("status") == "ended":
            return
        control_url = json_object(call.get("monitor")).get("controlUrl")
        if not isinstance(control_url, str) or not re.match(r"^https?://", control_url):
            raise ProviderError(f"Vapi gave no control address for call {provider_call_id}", retryable=False)
        # The control address is the call's own capability: it takes no key, so none is sent.
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            try:
                response = await client.post(control_url, json={"type": "end-call"})
            except httpx.HTTPError as error:
                raise unreachable("Vapi", error) from error
        if response.status_code == 404:
            return  # it ended meanwhile
        _raise_for(response)

    # --- knowledge files -----------------------------------------------------------------------

    async def upload_knowledge_file(self, upload: KnowledgeFileUpload) -> str:
        files = {"file": (upload.name, upload.content, upload.media_type)}
        return _id_of(await self._request("POST", "/file", files=files))

    async def delete_knowledge_file(self, provider_file_id: str) -> None:
        await self._request("DELETE", f"/file/{_segment(provider_file_id)}", gone_is_fine=True)

    # --- HTTP ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {self._config.api_key.get_secret_value()}"}
        async with httpx.AsyncClient(
            base_url=self._api_base, headers=headers, timeout=TIMEOUT_SECONDS
        ) as client:
            yield client

    async def _request(self, method: str, path: str, *, gone_is_fine: bool = False, **kwargs: Any) -> Any:
        async with self._client() as client:
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.HTTPError as error:
                raise unreachable("Vapi", error) from error
        if gone_is_fine and response.status_code == 404:
            return {}
        _raise_for(response)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as error:
            raise ProviderError("Vapi answered with something other than JSON", retryable=True) from error


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise failed_answer("Vapi", response.status_code, _vapi_message(response))


def _segment(provider_id: str) -> str:
    """An id as one path segment: Vapi's ids are UUIDs, and nothing else may steer the path."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", provider_id) or provider_id in (".", ".."):
        raise ProviderError(f"not a Vapi id: {provider_id!r}", retryable=False)
    return provider_id


def _id_of(answer: Any) -> str:
    found = json_object(answer).get("id")
    if not isinstance(found, str) or not found:
        raise ProviderError("Vapi's answer carries no id", retryable=False)
    return found


def _recording_of(call: dict[str, Any]) -> str | None:
    url = json_object(call.get("artifact")).get("recordingUrl") or call.get("recordingUrl")
    return url if isinstance(url, str) else None


class VapiPlugin:
    """Offers ``vapi`` (voice). Holds only the operator's API base, never a tenant's settings."""

    name = "vapi"

    def __init__(self, api_base: str | None = None) -> None:
        self.api_base = operator_api_base(api_base, API_BASE_SETTING)

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="vapi",
                capability=Capability.VOICE,
                name="Vapi",
                config_model=VapiConfig,
                build=lambda config: VapiVoice(config, api_base),
                description="Runs voice agents, their phone numbers and calls on Vapi.",
                verify_webhook=verify_vapi_webhook,
                voice=VAPI_MESSAGES,
            )
        ]
