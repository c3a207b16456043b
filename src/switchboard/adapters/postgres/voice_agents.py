"""Voice agents, their versions and phone numbers on PostgreSQL.

Changes to one agent take turns on its row (``get(..., for_update=True)``), so each reads the
latest version number before it writes the next; the unique (agent_id, number) key refuses a
writer that skipped the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import any_, bindparam, delete, insert, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from switchboard.adapters.postgres.repositories import (
    Row,
    _Repository,
    newest_first,
    this_row,
    versioned_update,
)
from switchboard.adapters.postgres.statements import compile_sql
from switchboard.adapters.postgres.tables import agent_versions, phone_numbers, voice_agents
from switchboard.core.calls.agents import Agent, AgentSettings, AgentVersion, PhoneNumber, SyncStatus
from switchboard.core.calls.model import BusinessTool
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch

SETTINGS = (
    "name",
    "voice_provider",
    "voice_id",
    "model_provider",
    "model",
    "system_prompt",
    "first_message",
    "tools",
)

# --- agents ------------------------------------------------------------------------------------

_THIS_AGENT = this_row(voice_agents)
_AGENT_INSERT = compile_sql(insert(voice_agents))
_AGENT_GET = compile_sql(select(voice_agents).where(_THIS_AGENT))
_AGENT_GET_FOR_UPDATE = compile_sql(select(voice_agents).where(_THIS_AGENT).with_for_update())
_AGENT_BY_PROVIDER_ID = compile_sql(
    select(voice_agents).where(
        voice_agents.c.tenant_id == bindparam("tenant_id"),
        voice_agents.c.provider_agent_id == bindparam("provider_agent_id"),
    )
)
_AGENT_SAVE = versioned_update(
    voice_agents,
    *SETTINGS,
    "current_version",
    "published_version",
    "provider_agent_id",
    "sync_status",
    "sync_error",
    "synced_at",
    "updated_at",
    "version",
)
_AGENT_DELETE = compile_sql(delete(voice_agents).where(_THIS_AGENT))
_AGENT_LIST = compile_sql(newest_first(voice_agents, after=False))
_AGENT_LIST_AFTER = compile_sql(newest_first(voice_agents, after=True))


def _tools(values: list[str]) -> tuple[BusinessTool, ...]:
    return tuple(BusinessTool(value) for value in values)


def _agent(row: Row) -> Agent:
    status = row["sync_status"]
    return Agent(
        **(row | {"tools": _tools(row["tools"]), "sync_status": SyncStatus(status) if status else None})
    )


def _agent_values(agent: Agent) -> Row:
    return {
        "tenant_id": agent.tenant_id,
        "id": agent.id,
        **_settings_values(agent.settings),
        "current_version": agent.current_version,
        "published_version": agent.published_version,
        "provider_agent_id": agent.provider_agent_id,
        "sync_status": agent.sync_status.value if agent.sync_status else None,
        "sync_error": agent.sync_error,
        "synced_at": agent.synced_at,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
        "version": agent.version,
    }


def _settings_values(settings: AgentSettings) -> Row:
    return {
        "name": settings.name,
        "voice_provider": settings.voice_provider,
        "voice_id": settings.voice_id,
        "model_provider": settings.model_provider,
        "model": settings.model,
        "system_prompt": settings.system_prompt,
        "first_message": settings.first_message,
        "tools": [tool.value for tool in settings.tools],
    }


class PostgresVoiceAgentRepository(_Repository):
    async def add(self, agent: Agent) -> None:
        await self._conn.execute(_AGENT_INSERT, _agent_values(agent))

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        sql = _AGENT_GET_FOR_UPDATE if for_update else _AGENT_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": agent_id})
        return _agent(row) if row else None

    async def find_by_provider_agent_id(self, provider_agent_id: str) -> Agent | None:
        params = {"tenant_id": self._tenant_id, "provider_agent_id": provider_agent_id}
        row = await self._one(_AGENT_BY_PROVIDER_ID, params)
        return _agent(row) if row else None

    async def save(self, agent: Agent, expected_version: int) -> bool:
        params = _agent_values(agent) | {"tenant_id": self._tenant_id, "expected_version": expected_version}
        return await self._count(_AGENT_SAVE, params) == 1

    async def delete(self, agent_id: UUID) -> bool:
        return await self._count(_AGENT_DELETE, {"tenant_id": self._tenant_id, "id": agent_id}) == 1

    async def list(self, page: PageRequest) -> Page[Agent]:
        return await self._page(_AGENT_LIST_AFTER if page.after else _AGENT_LIST, {}, page, _agent)


# --- versions ----------------------------------------------------------------------------------

_VERSION_INSERT = compile_sql(insert(agent_versions))
_OF_AGENT = (
    agent_versions.c.tenant_id == bindparam("tenant_id"),
    agent_versions.c.agent_id == bindparam("agent_id"),
)
_VERSION_GET = compile_sql(
    select(agent_versions).where(*_OF_AGENT, agent_versions.c.number == bindparam("number"))
)
_versions = (
    select(agent_versions)
    .where(*_OF_AGENT)
    .order_by(agent_versions.c.number.desc())
    .limit(bindparam("limit"))
)
_VERSION_LIST = compile_sql(_versions)
# Keyset on the version number; the position names the last version seen.
_last_seen = (
    select(agent_versions.c.number)
    .where(agent_versions.c.tenant_id == bindparam("tenant_id"), agent_versions.c.id == bindparam("after_id"))
    .scalar_subquery()
)
_VERSION_LIST_AFTER = compile_sql(_versions.where(agent_versions.c.number < _last_seen))


def _version(row: Row) -> AgentVersion:
    settings = {name: row.pop(name) for name in SETTINGS}
    return AgentVersion(**row, settings=AgentSettings(**(settings | {"tools": _tools(settings["tools"])})))


class PostgresAgentVersionRepository(_Repository):
    async def add(self, version: AgentVersion) -> None:
        values = {
            "tenant_id": version.tenant_id,
            "id": version.id,
            "agent_id": version.agent_id,
            "number": version.number,
            **_settings_values(version.settings),
            "created_by": version.created_by,
            "note": version.note,
            "created_at": version.created_at,
        }
        await self._refusing_duplicates(
            _VERSION_INSERT,
            values,
            "agent_versions_number_key",
            Conflict("the agent already has this version", code="version_exists"),
        )

    async def get(self, agent_id: UUID, number: int) -> AgentVersion | None:
        params = {"tenant_id": self._tenant_id, "agent_id": agent_id, "number": number}
        row = await self._one(_VERSION_GET, params)
        return _version(row) if row else None

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[AgentVersion]:
        params: dict[str, Any] = {"tenant_id": self._tenant_id, "agent_id": agent_id, "limit": page.limit + 1}
        if page.after is not None:
            params["after_id"] = page.after.id
        rows = await self._all(_VERSION_LIST_AFTER if page.after else _VERSION_LIST, params)
        return page_from_overfetch(
            [_version(row) for row in rows], page.limit, lambda v: Position(v.created_at, v.id)
        )


# --- phone numbers -----------------------------------------------------------------------------

_THIS_NUMBER = this_row(phone_numbers)
_NUMBER_GET = compile_sql(select(phone_numbers).where(_THIS_NUMBER))
_NUMBER_GET_FOR_UPDATE = compile_sql(select(phone_numbers).where(_THIS_NUMBER).with_for_update())
_NUMBER_BY_NUMBER = compile_sql(
    select(phone_numbers).where(
        phone_numbers.c.tenant_id == bindparam("tenant_id"), phone_numbers.c.number == bindparam("number")
    )
)
_number_insert = pg_insert(phone_numbers)
_NUMBER_UPSERT = compile_sql(
    _number_insert.on_conflict_do_update(
        index_elements=["tenant_id", "number"],
        set_={
            "integration_id": _number_insert.excluded.integration_id,
            "provider_id": _number_insert.excluded.provider_id,
            "name": _number_insert.excluded.name,
            "updated_at": _number_insert.excluded.updated_at,
            "version": phone_numbers.c.version + literal_column("1"),
        },
    ).returning(literal_column("*"))
)
_NUMBER_SAVE = versioned_update(phone_numbers, "agent_id", "name", "updated_at", "version")
_NUMBERS_OF_AGENTS = compile_sql(
    select(phone_numbers)
    .where(
        phone_numbers.c.tenant_id == bindparam("tenant_id"),
        phone_numbers.c.agent_id == any_(bindparam("agent_ids", type_=ARRAY(phone_numbers.c.agent_id.type))),
    )
    .order_by(phone_numbers.c.number)
)


def _number_list_sql(after: bool, agent: bool) -> str:
    statement = newest_first(phone_numbers, after)
    if agent:
        statement = statement.where(phone_numbers.c.agent_id == bindparam("agent_id"))
    return compile_sql(statement)


_NUMBER_LISTS = {
    (after, agent): _number_list_sql(after, agent) for after in (False, True) for agent in (False, True)
}


def _number(row: Row) -> PhoneNumber:
    return PhoneNumber(**row)


class PostgresPhoneNumberRepository(_Repository):
    async def get(self, phone_number_id: UUID, *, for_update: bool = False) -> PhoneNumber | None:
        sql = _NUMBER_GET_FOR_UPDATE if for_update else _NUMBER_GET
        row = await self._one(sql, {"tenant_id": self._tenant_id, "id": phone_number_id})
        return _number(row) if row else None

    async def find_by_number(self, number: str) -> PhoneNumber | None:
        row = await self._one(_NUMBER_BY_NUMBER, {"tenant_id": self._tenant_id, "number": number})
        return _number(row) if row else None

    async def upsert(self, phone_number: PhoneNumber) -> PhoneNumber:
        values = {
            "tenant_id": phone_number.tenant_id,
            "id": phone_number.id,
            "integration_id": phone_number.integration_id,
            "provider_id": phone_number.provider_id,
            "number": phone_number.number,
            "name": phone_number.name,
            "agent_id": phone_number.agent_id,
            "created_at": phone_number.created_at,
            "updated_at": phone_number.updated_at,
            "version": phone_number.version,
        }
        row = await self._one(_NUMBER_UPSERT, values)
        assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        return _number(row)

    async def save(self, phone_number: PhoneNumber, expected_version: int) -> bool:
        params = {
            "tenant_id": self._tenant_id,
            "id": phone_number.id,
            "agent_id": phone_number.agent_id,
            "name": phone_number.name,
            "updated_at": phone_number.updated_at,
            "version": phone_number.version,
            "expected_version": expected_version,
        }
        return await self._count(_NUMBER_SAVE, params) == 1

    async def for_agent(self, agent_id: UUID) -> list[PhoneNumber]:
        return (await self.for_agents([agent_id]))[agent_id]

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[PhoneNumber]]:
        by_agent: dict[UUID, list[PhoneNumber]] = {agent_id: [] for agent_id in agent_ids}
        if by_agent:
            params = {"tenant_id": self._tenant_id, "agent_ids": list(by_agent)}
            for row in await self._all(_NUMBERS_OF_AGENTS, params):
                by_agent[row["agent_id"]].append(_number(row))
        return by_agent

    async def list(self, page: PageRequest, agent_id: UUID | None = None) -> Page[PhoneNumber]:
        params: Row = {"agent_id": agent_id} if agent_id else {}
        return await self._page(
            _NUMBER_LISTS[(page.after is not None, agent_id is not None)], params, page, _number
        )
