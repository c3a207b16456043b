"""Agents' knowledge base files on PostgreSQL; each file's extracted text is a column read only by
``text``, so lists and lookups never carry it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import any_, bindparam, delete, func, insert, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from switchboard.adapters.postgres.repositories import Row, _Repository, this_row, versioned_update
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import knowledge_files
from switchboard.core.calls.knowledge import KnowledgeFile, KnowledgeFileStatus, KnowledgeFileType
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest

_COLUMNS = [column for column in knowledge_files.columns if column.name != "extracted_text"]
_THIS_FILE = this_row(knowledge_files)
_OF_AGENT = (
    knowledge_files.c.tenant_id == bindparam("tenant_id"),
    knowledge_files.c.agent_id == bindparam("agent_id"),
)
_INSERT = compile_sql(insert(knowledge_files))
_GET = compile_sql(select(*_COLUMNS).where(_THIS_FILE))
_GET_FOR_UPDATE = compile_sql(select(*_COLUMNS).where(_THIS_FILE).with_for_update())
_TEXT = compile_sql(select(knowledge_files.c.extracted_text).where(_THIS_FILE))
_BY_SHA256 = compile_sql(select(*_COLUMNS).where(*_OF_AGENT, knowledge_files.c.sha256 == bindparam("sha256")))
_COUNT = compile_sql(select(func.count()).select_from(knowledge_files).where(*_OF_AGENT))
_oldest_first = (knowledge_files.c.created_at, knowledge_files.c.id)
_FOR_AGENTS = compile_sql(
    select(*_COLUMNS)
    .where(
        knowledge_files.c.tenant_id == bindparam("tenant_id"),
        knowledge_files.c.agent_id
        == any_(bindparam("agent_ids", type_=ARRAY(knowledge_files.c.agent_id.type))),
    )
    .order_by(*_oldest_first)
)
_PROVIDER_IDS = compile_sql(
    select(knowledge_files.c.provider_file_id)
    .where(
        *_OF_AGENT,
        knowledge_files.c.status == literal_column(f"'{KnowledgeFileStatus.READY.value}'"),
        knowledge_files.c.provider_file_id.is_not(None),
    )
    .order_by(*_oldest_first)
)
_UPDATE = versioned_update(
    knowledge_files,
    "status",
    "provider",
    "integration_id",
    "provider_file_id",
    "sync_error",
    "updated_at",
    "version",
)
_DELETE = compile_sql(delete(knowledge_files).where(_THIS_FILE))
_newest = (
    select(*_COLUMNS)
    .where(*_OF_AGENT)
    .order_by(knowledge_files.c.created_at.desc(), knowledge_files.c.id.desc())
    .limit(bindparam("limit"))
)
_LIST = compile_sql(_newest)
_LIST_AFTER = compile_sql(
    _newest.where(
        tuple_(knowledge_files.c.created_at, knowledge_files.c.id)
        < tuple_(bindparam("after_created_at"), bindparam("after_id"))
    )
)


def _file(row: Row) -> KnowledgeFile:
    return KnowledgeFile(
        **(
            row
            | {
                "media_type": KnowledgeFileType(row["media_type"]),
                "status": KnowledgeFileStatus(row["status"]),
            }
        )
    )


class PostgresKnowledgeFileRepository(_Repository):
    async def add(self, file: KnowledgeFile, text: str) -> None:
        values: Row = {column.name: getattr(file, column.name) for column in _COLUMNS}
        values |= {
            "media_type": file.media_type.value,
            "status": file.status.value,
            "extracted_text": text,
        }
        await self._refusing_duplicates(
            _INSERT,
            values,
            "knowledge_files_sha256_key",
            Conflict("this agent already has this document", code="duplicate_file"),
        )

    async def get(self, file_id: UUID, *, for_update: bool = False) -> KnowledgeFile | None:
        row = await self._one(_GET_FOR_UPDATE if for_update else _GET, self._key(file_id))
        return _file(row) if row else None

    async def text(self, file_id: UUID) -> str | None:
        row = await self._one(_TEXT, self._key(file_id))
        return row["extracted_text"] if row else None

    async def find_by_sha256(self, agent_id: UUID, sha256: str) -> KnowledgeFile | None:
        row = await self._one(_BY_SHA256, self._agent(agent_id) | {"sha256": sha256})
        return _file(row) if row else None

    async def count_for_agent(self, agent_id: UUID) -> int:
        row = await self._one(_COUNT, self._agent(agent_id))
        return int(next(iter(row.values()))) if row else 0

    async def for_agent(self, agent_id: UUID) -> list[KnowledgeFile]:
        return (await self.for_agents([agent_id]))[agent_id]

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[KnowledgeFile]]:
        by_agent: dict[UUID, list[KnowledgeFile]] = {agent_id: [] for agent_id in agent_ids}
        if by_agent:
            params = {"tenant_id": self._tenant_id, "agent_ids": list(by_agent)}
            for row in await self._all(_FOR_AGENTS, params):
                by_agent[row["agent_id"]].append(_file(row))
        return by_agent

    async def provider_ids_for_agent(self, agent_id: UUID) -> list[str]:
        return [row["provider_file_id"] for row in await self._all(_PROVIDER_IDS, self._agent(agent_id))]

    async def update(self, file: KnowledgeFile, expected_version: int) -> bool:
        params: dict[str, Any] = {
            "tenant_id": self._tenant_id,
            "id": file.id,
            "status": file.status.value,
            "provider": file.provider,
            "integration_id": file.integration_id,
            "provider_file_id": file.provider_file_id,
            "sync_error": file.sync_error,
            "updated_at": file.updated_at,
            "version": file.version,
            "expected_version": expected_version,
        }
        return await self._count(_UPDATE, params) == 1

    async def delete(self, file_id: UUID) -> bool:
        return await self._count(_DELETE, self._key(file_id)) == 1

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[KnowledgeFile]:
        return await self._page(_LIST_AFTER if page.after else _LIST, {"agent_id": agent_id}, page, _file)

    def _key(self, file_id: UUID) -> Row:
        return {"tenant_id": self._tenant_id, "id": file_id}

    def _agent(self, agent_id: UUID) -> Row:
        return {"tenant_id": self._tenant_id, "agent_id": agent_id}
