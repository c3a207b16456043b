"""Voice agent repositories over the memory store, behaving as the PostgreSQL ones do.

The foreign keys are mirrored: a version needs its agent and goes with it; a phone number may
name only an agent of its tenant, and an agent that a number still names is not deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from switchboard.adapters.memory.repositories import _Scoped, newest_first
from switchboard.core.calls.agents import Agent, AgentVersion, PhoneNumber
from switchboard.core.errors import Conflict
from switchboard.core.pagination import Page, PageRequest, Position, page_from_overfetch


class _Voice(_Scoped):
    def _own(self, table: str) -> list[Any]:
        return [row for (tid, _), row in self._tx.read(table).items() if tid == self._tenant_id]

    def _check_agent(self, agent_id: UUID) -> None:
        """What the (tenant_id, agent_id) foreign keys refuse on PostgreSQL."""
        if (self._tenant_id, agent_id) not in self._tx.read("voice_agents"):
            raise LookupError("no such agent")


class MemoryVoiceAgentRepository(_Voice):
    async def add(self, agent: Agent) -> None:
        self._check_own_tenant(agent.tenant_id)
        self._refuse_taken_provider_id(agent)
        self._tx.insert("voice_agents", (agent.tenant_id, agent.id), agent)

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        # No lock needed: units of work never overlap in memory.
        found: Agent | None = self._tx.read("voice_agents").get((self._tenant_id, agent_id))
        return found

    async def find_by_provider_agent_id(self, provider_agent_id: str) -> Agent | None:
        agents: list[Agent] = self._own("voice_agents")
        return next((a for a in agents if a.provider_agent_id == provider_agent_id), None)

    async def save(self, agent: Agent, expected_version: int) -> bool:
        current = await self.get(agent.id)
        if current is None or current.version != expected_version:
            return False
        self._refuse_taken_provider_id(agent)
        self._tx.write("voice_agents")[(self._tenant_id, agent.id)] = replace(
            agent, tenant_id=current.tenant_id, id=current.id, created_at=current.created_at
        )
        return True

    async def delete(self, agent_id: UUID) -> bool:
        key = (self._tenant_id, agent_id)
        if key not in self._tx.read("voice_agents"):
            return False
        numbers: list[PhoneNumber] = self._own("phone_numbers")
        if any(n.agent_id == agent_id for n in numbers):
            # What phone_numbers_agent_fkey refuses on PostgreSQL.
            raise ValueError("phone numbers still name this agent")
        del self._tx.write("voice_agents")[key]
        versions = self._tx.write("agent_versions")  # ON DELETE CASCADE
        for doomed in [k for k, v in versions.items() if k[0] == self._tenant_id and v.agent_id == agent_id]:
            del versions[doomed]
        return True

    async def list(self, page: PageRequest) -> Page[Agent]:
        agents: list[Agent] = self._own("voice_agents")
        return newest_first(agents, page)

    def _refuse_taken_provider_id(self, agent: Agent) -> None:
        """What the unique (tenant_id, provider_agent_id) constraint refuses on PostgreSQL."""
        if agent.provider_agent_id is None:
            return
        agents: list[Agent] = self._own("voice_agents")
        if any(a.provider_agent_id == agent.provider_agent_id and a.id != agent.id for a in agents):
            raise ValueError("another agent has this provider agent id")


class MemoryAgentVersionRepository(_Voice):
    async def add(self, version: AgentVersion) -> None:
        self._check_own_tenant(version.tenant_id)
        self._check_agent(version.agent_id)
        if await self.get(version.agent_id, version.number) is not None:
            raise Conflict("the agent already has this version", code="version_exists")
        self._tx.insert("agent_versions", (version.tenant_id, version.id), version)

    async def get(self, agent_id: UUID, number: int) -> AgentVersion | None:
        versions: list[AgentVersion] = self._own("agent_versions")
        return next((v for v in versions if v.agent_id == agent_id and v.number == number), None)

    async def list(self, agent_id: UUID, page: PageRequest) -> Page[AgentVersion]:
        versions: list[AgentVersion] = self._own("agent_versions")
        mine = sorted((v for v in versions if v.agent_id == agent_id), key=lambda v: v.number, reverse=True)
        if page.after is not None:
            # Keyset on the version number; the position names the last version seen.
            last = next((v for v in mine if v.id == page.after.id), None)
            mine = [v for v in mine if last is not None and v.number < last.number]
        return page_from_overfetch(mine[: page.limit + 1], page.limit, lambda v: Position(v.created_at, v.id))


class MemoryPhoneNumberRepository(_Voice):
    async def get(self, phone_number_id: UUID, *, for_update: bool = False) -> PhoneNumber | None:
        found: PhoneNumber | None = self._tx.read("phone_numbers").get((self._tenant_id, phone_number_id))
        return found

    async def find_by_number(self, number: str) -> PhoneNumber | None:
        numbers: list[PhoneNumber] = self._own("phone_numbers")
        return next((n for n in numbers if n.number == number), None)

    async def upsert(self, phone_number: PhoneNumber) -> PhoneNumber:
        self._check_own_tenant(phone_number.tenant_id)
        if (phone_number.tenant_id, phone_number.integration_id) not in self._tx.read("integrations"):
            raise LookupError("no such integration")
        if phone_number.agent_id is not None:
            self._check_agent(phone_number.agent_id)
        current = await self.find_by_number(phone_number.number)
        if current is None:
            self._tx.insert("phone_numbers", (phone_number.tenant_id, phone_number.id), phone_number)
            return phone_number
        refreshed = replace(
            current,
            integration_id=phone_number.integration_id,
            provider_id=phone_number.provider_id,
            name=phone_number.name,
            updated_at=phone_number.updated_at,
            version=current.version + 1,
        )
        self._tx.write("phone_numbers")[(current.tenant_id, current.id)] = refreshed
        return refreshed

    async def save(self, phone_number: PhoneNumber, expected_version: int) -> bool:
        current = await self.get(phone_number.id)
        if current is None or current.version != expected_version:
            return False
        if phone_number.agent_id is not None:
            self._check_agent(phone_number.agent_id)
        self._tx.write("phone_numbers")[(current.tenant_id, current.id)] = replace(
            current,
            agent_id=phone_number.agent_id,
            name=phone_number.name,
            updated_at=phone_number.updated_at,
            version=phone_number.version,
        )
        return True

    async def for_agent(self, agent_id: UUID) -> list[PhoneNumber]:
        return (await self.for_agents([agent_id]))[agent_id]

    async def for_agents(self, agent_ids: Sequence[UUID]) -> dict[UUID, list[PhoneNumber]]:
        by_agent: dict[UUID, list[PhoneNumber]] = {agent_id: [] for agent_id in agent_ids}
        numbers: list[PhoneNumber] = self._own("phone_numbers")
        for number in sorted(numbers, key=lambda n: n.number):
            if number.agent_id in by_agent:
                by_agent[number.agent_id].append(number)
        return by_agent

    async def list(self, page: PageRequest, agent_id: UUID | None = None) -> Page[PhoneNumber]:
        numbers: list[PhoneNumber] = self._own("phone_numbers")
        return newest_first([n for n in numbers if agent_id is None or n.agent_id == agent_id], page)
