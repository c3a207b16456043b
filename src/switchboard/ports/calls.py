"""Voice ports: storage of agents, their versions, phone numbers, calls and what belongs to them.

The storage protocols are attributes of the unit of work (ports/persistence.py); every one of
them is confined to the unit of work's tenant, like every other repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from switchboard.core.calls.agents import Agent, AgentVersion, PhoneNumber
from switchboard.core.calls.knowledge import KnowledgeFile
from switchboard.core.calls.records import Call, CallFilter
from switchboard.core.customers.timeline import TimelineEntry
from switchboard.core.pagination import Page, PageRequest, Position


class VoiceAgentRepository(Protocol):
    async def add(self, agent: Agent) -> None: ...

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        """``for_update`` locks the agent until the unit of work ends, so two changes that each
        make the next version number take turns."""
        ...

    async def find_by_provider_agent_id(self, provider_agent_id: str) -> Agent | None:
        """The agent the voice platform knows by this id."""
        ...

    async def save(self, agent: Agent, expected_version: int) -> bool:
        """Store every field but identity and creation time if the stored version is still
        ``expected_version``; False otherwise (or when there is no such agent)."""
        ...

    async def delete(self, agent_id: UUID) -> bool:
        """Its versions go with it. Phone numbers must be unassigned first: the storage refuses
        while a number still names the agent."""
        ...

    async def list(self, page: PageRequest) -> Page[Agent]:
        """Newest first. (Defined last: it shadows ``list`` in the annotations that follow it.)"""
        ...


class AgentVersionRepository(Protocol):
    async def add(self, version: AgentVersion) -> None:
        """Raises ``Conflict(code="version_exists")`` when the agent already has that number."""
        ...

    async def get(self, agent_id: UUID, number: int) -> AgentVersion | None: ...

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[AgentVersion]:
        """The agent's versions, newest first."""
        ...


class PhoneNumberRepository(Protocol):
    async def get(self, phone_number_id: UUID, *, for_update: bool = False) -> PhoneNumber | None: ...

    async def find_by_number(self, number: str) -> PhoneNumber | None:
        """The tenant's number by its E.164 form."""
        ...

    async def upsert(self, phone_number: PhoneNumber) -> PhoneNumber:
        """Insert it, or when the tenant already has the number, refresh its integration,
        provider id and name (keeping its id, agent and creation time); return what is stored."""
        ...

    async def save(self, phone_number: PhoneNumber, expected_version: int) -> bool:
        """Store agent_id, name, updated_at and version if the stored version is still
        ``expected_version``."""
        ...

    async def for_agent(self, agent_id: UUID) -> list[PhoneNumber]:
        """The numbers the agent answers, by number."""
        ...

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[PhoneNumber]]:
        """``for_agent`` of each agent at once: every id asked for is a key, an agent that
        answers no number (or is not the tenant's) maps to an empty list."""
        ...

    async def list(self, page: PageRequest, agent_id: UUID | None = None) -> Page[PhoneNumber]:
        """Newest first, optionally only the agent's. (Defined last: it shadows ``list``.)"""
        ...


class CallRepository(Protocol):
    """A ``TimelineSource`` too (ports/persistence.py): calls are about a customer."""

    async def timeline(self, customer_id: UUID, after: Position | None, limit: int) -> list[TimelineEntry]:
        """The customer's calls as timeline entries (``records.timeline_entry``), placed at their
        creation time, newest first, strictly after ``after``, at most ``limit``."""
        ...

    async def add(self, call: Call) -> None:
        """Raises ``Conflict(code="call_exists")`` when the integration already has a call with
        the same ``provider_call_id``."""
        ...

    async def get(self, call_id: UUID, *, for_update: bool = False) -> Call | None:
        """``for_update`` locks the call until the unit of work ends: every change to a call
        (a platform's message, a start, an end, feedback) takes turns on this lock."""
        ...

    async def find_by_provider_call_id(
        self, integration_id: UUID, provider_call_id: str, *, for_update: bool = False
    ) -> Call | None: ...

    async def add_or_lock(self, call: Call) -> Call:
        """Insert ``call`` unless the integration already has one with its ``provider_call_id``
        (which must be set); either way return the stored call, locked until the unit of work
        ends. Concurrent first messages of one call thus make exactly one row."""
        ...

    async def update(self, call: Call, expected_version: int) -> bool:
        """Store every field but identity, integration and creation time if the stored version
        is still ``expected_version``."""
        ...

    async def list(self, filters: CallFilter, page: PageRequest) -> Page[Call]:
        """Newest first (by creation). (Defined last: it shadows ``list`` in the annotations that
        follow it.)"""
        ...


class KnowledgeFileRepository(Protocol):
    """Agents' knowledge base files; each file's extracted text is kept beside its row and read
    only by ``text``."""

    async def add(self, file: KnowledgeFile, text: str) -> None:
        """The agent must exist (the storage refuses otherwise). Raises
        ``Conflict(code="duplicate_file")`` when the agent already has a file with its sha256."""
        ...

    async def get(self, file_id: UUID, *, for_update: bool = False) -> KnowledgeFile | None:
        """``for_update`` locks the file until the unit of work ends."""
        ...

    async def text(self, file_id: UUID) -> str | None: ...

    async def find_by_sha256(self, agent_id: UUID, sha256: str) -> KnowledgeFile | None: ...

    async def count_for_agent(self, agent_id: UUID) -> int: ...

    async def for_agent(self, agent_id: UUID) -> list[KnowledgeFile]:
        """Every file of the agent, oldest first."""
        ...

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[KnowledgeFile]]:
        """``for_agent`` of each agent at once: every id asked for is a key, an agent with no
        file (or not the tenant's) maps to an empty list."""
        ...

    async def provider_ids_for_agent(self, agent_id: UUID) -> list[str]:
        """The voice platform's ids of the agent's ready files, oldest first: what the platform's
        agent lists."""
        ...

    async def update(self, file: KnowledgeFile, expected_version: int) -> bool:
        """Store status, provider, integration_id, provider_file_id, sync_error, updated_at and
        version if the stored version is still ``expected_version``."""
        ...

    async def delete(self, file_id: UUID) -> bool: ...

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[KnowledgeFile]:
        """The agent's files, newest first. (Defined last: it shadows ``list``.)"""
        ...
