"""Voice platforms in Switchboard's words: the agents a platform runs, its numbers, its calls.

A voice plugin (``vapi``, ``retell``, ``fake_voice``) offers a ``VoicePort`` for one tenant's
configuration, and reads the platform's server messages into ``CallMessage``s
(core/calls/model.py) and Switchboard's answers back into the platform's shapes
(``VoiceMessages`` on its ``ProviderSpec``). Nothing outside a plugin knows a platform's shapes.

Failures follow the other ports: ``ProviderError`` (ports/providers.py), ``retryable`` when the
same call may succeed later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.core.calls.model import AssistantChoice, CallMessage, ToolDefinition, ToolResult
from switchboard.ports.providers import ProviderEvent


@dataclass(frozen=True)
class AgentDefinition:
    """What the platform runs for one published version of an agent."""

    name: str
    voice_provider: str  # the speech engine the platform uses, e.g. "11labs", "openai"
    voice_id: str
    model_provider: str  # e.g. "openai", "anthropic"
    model: str  # e.g. "gpt-4o-mini"
    system_prompt: str
    first_message: str | None
    tools: tuple[ToolDefinition, ...]
    knowledge_file_ids: tuple[str, ...]  # the platform's ids of the agent's uploaded files
    server_url: str  # where the platform sends this agent's server messages and tool calls
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. Switchboard's agent id


@dataclass(frozen=True)
class ProviderPhoneNumber:
    provider_id: str
    number: str  # E.164
    name: str | None = None
    provider_agent_id: str | None = None  # the agent that answers it, if any


@dataclass(frozen=True)
class OutboundCallRequest:
    provider_agent_id: str
    customer_number: str  # E.164
    provider_phone_number_id: str | None  # the number to call from; the platform's default if None
    customer_name: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # echoed back in every message
    variables: dict[str, str] = field(default_factory=dict)  # caller context for the prompt
    idempotency_key: str | None = None


@dataclass(frozen=True)
class ProviderCall:
    provider_id: str
    status: str  # the platform's word for it, for the record
    recording_url: str | None = None


@dataclass(frozen=True)
class KnowledgeFileUpload:
    name: str
    media_type: str
    content: bytes


class VoicePort(Protocol):
    """One tenant's account at a voice platform, for as long as one piece of work takes."""

    async def save_agent(self, agent: AgentDefinition, provider_agent_id: str | None) -> str:
        """Create the agent (``provider_agent_id`` None) or rewrite it; return its id there."""
        ...

    async def delete_agent(self, provider_agent_id: str) -> None:
        """Remove it; one already gone is fine."""
        ...

    async def list_phone_numbers(self) -> list[ProviderPhoneNumber]: ...

    async def assign_phone_number(
        self, provider_number_id: str, provider_agent_id: str | None, server_url: str
    ) -> None:
        """Let ``provider_agent_id`` answer the number's inbound calls (None: no agent, the
        platform then asks ``server_url`` which agent answers each call)."""
        ...

    async def start_call(self, request: OutboundCallRequest) -> ProviderCall: ...

    async def end_call(self, provider_call_id: str) -> None:
        """Hang up a live call; one that has already ended is fine."""
        ...

    async def upload_knowledge_file(self, upload: KnowledgeFileUpload) -> str:
        """Store a document the platform's agents can consult; return its id there."""
        ...

    async def delete_knowledge_file(self, provider_file_id: str) -> None:
        """Remove it; one already gone is fine."""
        ...


@dataclass(frozen=True)
class LiveAnswer:
    """An HTTP answer in the platform's shape."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class VoiceMessages:
    """How a voice plugin reads its platform's messages and shapes Switchboard's answers.

    ``read`` turns one verified event (from the spec's ``verify_webhook``) into a
    ``CallMessage``; ``answer_assistant_request`` and ``answer_tool_calls`` turn Switchboard's
    answers to the two live kinds into the platform's response bodies; ``acknowledge`` is the
    answer to every other message.
    """

    read: Callable[[ProviderEvent], CallMessage]
    answer_assistant_request: Callable[[AssistantChoice], LiveAnswer]
    answer_tool_calls: Callable[[list[ToolResult]], LiveAnswer]
    acknowledge: Callable[[], LiveAnswer] = lambda: LiveAnswer(200, {"received": True})
