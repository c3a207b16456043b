"""Retell: voice agents, their phone numbers and calls, through the official ``retell-sdk``.

One provider, slug ``retell``, capability ``voice``. A tenant's configuration is its Retell API
key, and, when another key carries Retell's webhook badge, that key (``webhook_api_key``):
Retell signs what it posts (``x-retell-signature: v=<milliseconds>,d=<hex HMAC-SHA256 of the body
followed by the timestamp>``) with the webhook key, and the SDK's own ``verify`` checks it,
five minutes of tolerance included. Where requests go is not the tenant's to choose: Retell's
API, or the operator's stand-in named by ``SWITCHBOARD_RETELL_API_BASE``.

How the port maps onto Retell, which has no single "assistant" object:

- an agent is a Retell LLM (the response engine: ``general_prompt`` from the system prompt,
  ``begin_message`` from the first message, ``model``, each business tool as a ``custom``
  general tool posting to the agent's server URL, ``knowledge_base_ids`` from the agent's
  knowledge files) plus an agent using it (``voice_id``, ``agent_name``, ``webhook_url`` = the
  server URL, for the call events). Its id is the agent's; saving again updates both, deleting
  removes both. The definition's model provider names no field here: Retell picks the
  provider from the model's name.
- a knowledge file is a knowledge base of its own holding that one document (Retell attaches
  knowledge bases, not files, to an LLM): uploading creates it, deleting deletes it, and its
  id is the knowledge base's.
- phone numbers are known by the number itself; assigning one sets it as the agent's inbound
  agent, or (no agent) clears it and sets the inbound webhook, so Retell asks the server URL
  which agent answers each call (``call_inbound``).
- a call: ``create-phone-call`` from the number (an id from ``list_phone_numbers``) or the
  account's first number, with ``override_agent_id``, ``metadata`` and the caller's variables as
  ``retell_llm_dynamic_variables``, and the request's idempotency key; ending it is
  ``stop-call``, and a call Retell already ended is left as it is.

The SDK does not retry (the outbox worker does). Failures become ``ProviderError``: network
failures, 408, 409, 429 and 5xx are retryable; other 4xx are not.

Messages Retell posts (``plugins/retell/messages.py``): ``call_started``, ``call_ended`` and
``call_analyzed`` (``{"event", "call": {...}}``), the inbound call webhook (``{"event":
"call_inbound", "call_inbound": {...}}``) and custom function calls (``{"name", "call", "args"}``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import retell
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.http import failed_answer, unreachable
from switchboard.plugins.retell.messages import RETELL_MESSAGES, read_retell_message, verify_retell_webhook
from switchboard.plugins.spec import operator_api_base
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
    "RetellConfig",
    "RetellPlugin",
    "RetellVoice",
    "read_retell_message",
    "verify_retell_webhook",
]

API_BASE_SETTING = "SWITCHBOARD_RETELL_API_BASE"  # the operator's stand-in, never a tenant's
RETELL_API = "https://api.retellai.com"
TIMEOUT_SECONDS = 30.0
ENDED_STATUSES = frozenset({"ended", "error", "not_connected"})
KNOWLEDGE_BASE_NAME_LIMIT = 39  # Retell's: "less than 40 characters"
PAGE_SIZE = 1000


class RetellConfig(BaseModel):
    """One tenant's Retell account. No base URL here on purpose: see API_BASE_SETTING."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(min_length=8, max_length=255)
    # The key with Retell's webhook badge, when it is not api_key: Retell signs with it.
    webhook_api_key: SecretStr | None = Field(default=None, min_length=8, max_length=255)

    @property
    def signing_key(self) -> str:
        return (self.webhook_api_key or self.api_key).get_secret_value()


class RetellVoice:
    """The VoicePort for one tenant's Retell account."""

    def __init__(self, config: RetellConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base or RETELL_API

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[retell.AsyncRetell]:
        """A client for one piece of work, with this adapter's key; Retell's errors as ours."""
        client = retell.AsyncRetell(
            api_key=self._config.api_key.get_secret_value(),
            base_url=self._api_base,  # always given: the SDK would otherwise read RETELL_BASE_URL
            max_retries=0,
            timeout=TIMEOUT_SECONDS,
        )
        try:
            async with client:
                yield client
        except retell.APIStatusError as error:
            raise failed_answer("Retell", error.status_code, error.message) from error
        except retell.APIConnectionError as error:
            raise unreachable("Retell", error) from error
        except retell.APIResponseValidationError as error:
            raise ProviderError("Retell's answer could not be read", retryable=False) from error

    # --- agents --------------------------------------------------------------------------------

    def _llm_fields(self, agent: AgentDefinition) -> dict[str, Any]:
        return {
            "general_prompt": agent.system_prompt,
            "begin_message": agent.first_message or "",
            "model": agent.model,
            "general_tools": [
                {
                    "type": "custom",
                    "name": tool.name,
                    "description": tool.description,
                    "url": agent.server_url,
                    "parameters": tool.parameters,
                    "speak_during_execution": False,
                    "speak_after_execution": True,
                }
                for tool in agent.tools
            ],
            "knowledge_base_ids": list(agent.knowledge_file_ids),
        }

    def _agent_fields(self, agent: AgentDefinition) -> dict[str, Any]:
        return {"agent_name": agent.name, "voice_id": agent.voice_id, "webhook_url": agent.server_url}

    async def save_agent(self, agent: AgentDefinition, provider_agent_id: str | None) -> str:
        async with self._client() as client:
            if provider_agent_id is not None:
                existing = await client.agent.retrieve(provider_agent_id)
                llm_id = _llm_id(existing)
                await client.llm.update(llm_id, **self._llm_fields(agent))
                await client.agent.update(provider_agent_id, **self._agent_fields(agent))
                return provider_agent_id
            llm = await client.llm.create(**self._llm_fields(agent))
            try:
                created = await client.agent.create(
                    response_engine={"type": "retell-llm", "llm_id": llm.llm_id}, **self._agent_fields(agent)
                )
            except retell.RetellError:
                await _quietly(client.llm.delete(llm.llm_id))  # no LLM left behind without its agent
                raise
            return created.agent_id

    async def delete_agent(self, provider_agent_id: str) -> None:
        async with self._client() as client:
            try:
                existing = await client.agent.retrieve(provider_agent_id)
            except retell.NotFoundError:
                return
            await client.agent.delete(provider_agent_id)
            llm_id = _llm_id(existing, required=False)
            if llm_id is not None:
                with suppress(retell.NotFoundError):
                    await client.llm.delete(llm_id)

    # --- numbers -------------------------------------------------------------------------------

    async def list_phone_numbers(self) -> list[ProviderPhoneNumber]:
        found: list[ProviderPhoneNumber] = []
        pagination_key: str | None = None
        async with self._client() as client:
            while True:
                page = await client.phone_number.list(
                    limit=PAGE_SIZE, **({"pagination_key": pagination_key} if pagination_key else {})
                )
                for item in page.items:
                    inbound = item.inbound_agents or []
                    found.append(
                        ProviderPhoneNumber(
                            provider_id=item.phone_number,
                            number=item.phone_number,
                            name=item.nickname,
                            provider_agent_id=inbound[0].agent_id if inbound else None,
                        )
                    )
                if not page.has_more or not page.pagination_key:
                    return found
                pagination_key = page.pagination_key

    async def assign_phone_number(
        self, provider_number_id: str, provider_agent_id: str | None, server_url: str
    ) -> None:
        async with self._client() as client:
            if provider_agent_id is None:
                await client.phone_number.update(
                    provider_number_id, inbound_agents=None, inbound_webhook_url=server_url
                )
            else:
                await client.phone_number.update(
                    provider_number_id,
                    inbound_agents=[{"agent_id": provider_agent_id, "weight": 1}],
                    inbound_webhook_url=None,
                )

    # --- calls ---------------------------------------------------------------------------------

    async def start_call(self, request: OutboundCallRequest) -> ProviderCall:
        options: dict[str, Any] = {"override_agent_id": request.provider_agent_id}
        if request.metadata:
            options["metadata"] = dict(request.metadata)
        if request.variables:
            options["retell_llm_dynamic_variables"] = dict(request.variables)
        if request.idempotency_key:
            options["idempotency_key"] = request.idempotency_key
        from_number = request.provider_phone_number_id
        if from_number is None:
            numbers = await self.list_phone_numbers()
            if not numbers:
                raise ProviderError("the Retell account has no phone number to call from", retryable=False)
            from_number = numbers[0].number
        async with self._client() as client:
            call = await client.call.create_phone_call(
                from_number=from_number, to_number=request.customer_number, **options
            )
        return ProviderCall(
            provider_id=call.call_id, status=call.call_status, recording_url=call.recording_url
        )

    async def end_call(self, provider_call_id: str) -> None:
        async with self._client() as client:
            try:
                await client.call.stop(provider_call_id)
            except (retell.NotFoundError, retell.BadRequestError, retell.UnprocessableEntityError):
                # Retell refuses to stop a call that is not live: fine if it has ended.
                call = await client.call.retrieve(provider_call_id)
                if call.call_status not in ENDED_STATUSES:
                    raise

    # --- knowledge files -----------------------------------------------------------------------

    async def upload_knowledge_file(self, upload: KnowledgeFileUpload) -> str:
        name = (upload.name.rsplit(".", 1)[0] or "document")[:KNOWLEDGE_BASE_NAME_LIMIT]
        async with self._client() as client:
            base = await client.knowledge_base.create(
                knowledge_base_name=name,
                knowledge_base_files=[(upload.name, upload.content, upload.media_type)],
            )
        return base.knowledge_base_id

    async def delete_knowledge_file(self, provider_file_id: str) -> None:
        async with self._client() as client:
            try:
                await client.knowledge_base.delete(provider_file_id)
            except retell.NotFoundError:
                return


def _llm_id(agent: Any, *, required: bool = True) -> str | None:
    engine = getattr(agent, "response_engine", None)
    llm_id = getattr(engine, "llm_id", None)
    if isinstance(llm_id, str) and llm_id:
        return llm_id
    if required:
        raise ProviderError(
            "the Retell agent does not run on a Retell LLM: Switchboard cannot manage it", retryable=False
        )
    return None


async def _quietly(step: Any) -> None:
    with suppress(retell.RetellError):
        await step


class RetellPlugin:
    """Offers ``retell`` (voice). Holds only the operator's API base, never a tenant's settings."""

    name = "retell"

    def __init__(self, api_base: str | None = None) -> None:
        self.api_base = operator_api_base(api_base, API_BASE_SETTING)

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="retell",
                capability=Capability.VOICE,
                name="Retell",
                config_model=RetellConfig,
                build=lambda config: RetellVoice(config, api_base),
                description="Runs voice agents, their phone numbers and calls on Retell AI.",
                verify_webhook=verify_retell_webhook,
                voice=RETELL_MESSAGES,
            )
        ]
