"""Agents' knowledge base files in memory, behaving as the PostgreSQL repository does.

Rows are stored as (file, text) under (tenant_id, file id); the foreign key to the agent and the
unique (agent, sha256) key are mirrored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped, newest_first
from switchboard.core.calls.knowledge import KnowledgeFile, KnowledgeFileStatus
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest

TABLE = "knowledge_files"


class MemoryKnowledgeFileRepository(_Scoped):
    async def add(self, file: KnowledgeFile, text: str) -> None:
        self._check_own_tenant(file.tenant_id)
        if (file.tenant_id, file.agent_id) not in self._tx.read("voice_agents"):
            raise LookupError("no such agent")  # what knowledge_files_agent_fkey refuses
        if file.text_length != len(text):
            raise ValueError("text_length is not the text's length")  # knowledge_files_sizes_check
        if await self.find_by_sha256(file.agent_id, file.sha256) is not None:
            raise Conflict("this agent already has this document", code="duplicate_file")
        self._tx.insert(TABLE, (file.tenant_id, file.id), (file, text))

    async def get(self, file_id: UUID, *, for_update: bool = False) -> KnowledgeFile | None:
        # No lock needed: units of work never overlap in memory.
        found = self._tx.read(TABLE).get((self._tenant_id, file_id))
        return found[0] if found else None

    async def text(self, file_id: UUID) -> str | None:
        found = self._tx.read(TABLE).get((self._tenant_id, file_id))
        return found[1] if found else None

    async def find_by_sha256(self, agent_id: UUID, sha256: str) -> KnowledgeFile | None:
        return next((f for f in self._of_agent(agent_id) if f.sha256 == sha256), None)

    async def count_for_agent(self, agent_id: UUID) -> int:
        return len(self._of_agent(agent_id))

    async def for_agent(self, agent_id: UUID) -> list[KnowledgeFile]:
        return (await self.for_agents([agent_id]))[agent_id]

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[KnowledgeFile]]:
        by_agent: dict[UUID, list[KnowledgeFile]] = {agent_id: [] for agent_id in agent_ids}
        for file in sorted(self._own(), key=lambda f: (f.created_at, f.id)):
            if file.agent_id in by_agent:
                by_agent[file.agent_id].append(file)
        return by_agent

    async def provider_ids_for_agent(self, agent_id: UUID) -> list[str]:
        return [
            file.provider_file_id
            for file in await self.for_agent(agent_id)
            if file.status == KnowledgeFileStatus.READY and file.provider_file_id is not None
        ]

    async def update(self, file: KnowledgeFile, expected_version: int) -> bool:
        key = (self._tenant_id, file.id)
        found = self._tx.read(TABLE).get(key)
        if found is None or found[0].version != expected_version:
            return False
        current, text = found
        stored = replace(
            current,
            status=file.status,
            provider=file.provider,
            integration_id=file.integration_id,
            provider_file_id=file.provider_file_id,
            sync_error=file.sync_error,
            updated_at=file.updated_at,
            version=file.version,
        )
        self._tx.write(TABLE)[key] = (stored, text)
        return True

    async def delete(self, file_id: UUID) -> bool:
        return self._tx.write(TABLE).pop((self._tenant_id, file_id), None) is not None

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[KnowledgeFile]:
        return newest_first(self._of_agent(agent_id), page)

    def _own(self) -> list[KnowledgeFile]:
        return [
            file
            for (tenant_id, _), (file, _text) in self._tx.read(TABLE).items()
            if tenant_id == self._tenant_id
        ]

    def _of_agent(self, agent_id: UUID) -> list[KnowledgeFile]:
        return [file for file in self._own() if file.agent_id == agent_id]
