"""Voice agent storage, on memory and PostgreSQL alike: agents, their versions and phone numbers
round trip, stay in their tenant, and concurrent changes to one agent number their versions
without a gap or a repeat."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.core.calls import agents as handlers
from switchboard.core.calls.agents import Agent, AgentSettings, AgentVersion, PhoneNumber, SyncStatus
from switchboard.core.calls.model import BusinessTool
from switchboard.core.errors import Conflict
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.pagination import PageRequest
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage, utc_now
from tests.contract.test_integration_contract import make_integration

CONCURRENT_CHANGES = 20


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def owner_of(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


SETTINGS = AgentSettings(
    name="Front desk",
    voice_provider="11labs",
    voice_id="rachel",
    model_provider="openai",
    model="gpt-4o-mini",
    system_prompt="You answer the phone for a dental practice.\nBe brief.",
    first_message="Hello, how can I help?",
    tools=(BusinessTool.FIND_CUSTOMER, BusinessTool.BOOK_APPOINTMENT),
)


def make_agent(actor: Actor, **overrides: Any) -> Agent:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        name=SETTINGS.name,
        voice_provider=SETTINGS.voice_provider,
        voice_id=SETTINGS.voice_id,
        model_provider=SETTINGS.model_provider,
        model=SETTINGS.model,
        system_prompt=SETTINGS.system_prompt,
        first_message=SETTINGS.first_message,
        tools=SETTINGS.tools,
        current_version=1,
        published_version=None,
        provider_agent_id=None,
        sync_status=None,
        sync_error=None,
        synced_at=None,
        created_at=now,
        updated_at=now,
    )
    return Agent(**(fields | overrides))


def make_version(agent: Agent, number: int, **overrides: Any) -> AgentVersion:
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=agent.tenant_id,
        agent_id=agent.id,
        number=number,
        settings=replace(SETTINGS, name=f"{SETTINGS.name} v{number}"),
        created_by=None,
        created_at=utc_now(),
        note=None,
    )
    return AgentVersion(**(fields | overrides))


def make_number(actor: Actor, integration_id: UUID, number: str, **overrides: Any) -> PhoneNumber:
    now = utc_now()
    fields: dict[str, Any] = dict(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        integration_id=integration_id,
        provider_id=f"pn_{number.removeprefix('+')}",
        number=number,
        name="Main line",
        agent_id=None,
        created_at=now,
        updated_at=now,
    )
    return PhoneNumber(**(fields | overrides))


async def setup(storage: Storage) -> tuple[Actor, Agent, UUID]:
    """A tenant with one agent (and its version 1) and a voice connection."""
    actor = await storage.new_tenant()
    agent = make_agent(actor)
    integration = make_integration(actor.tenant_id, provider="fake_voice", capability=Capability.VOICE)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.integrations.add(integration)
        await uow.voice_agents.add(agent)
        await uow.agent_versions.add(make_version(agent, 1))
        await uow.commit()
    return actor, agent, integration.id


# --- agents ------------------------------------------------------------------------------------


async def test_an_agent_reads_back_equal_to_what_was_added(storage: Storage):
    actor, agent, _ = await setup(storage)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.get(agent.id) == agent
        assert await uow.voice_agents.get(agent.id, for_update=True) == agent


async def test_an_agent_save_with_the_current_version_is_stored_and_a_stale_one_is_not(storage: Storage):
    actor, agent, _ = await setup(storage)
    synced = replace(
        agent,
        name="Night line",
        tools=(BusinessTool.TAKE_MESSAGE,),
        first_message=None,
        published_version=1,
        provider_agent_id="pa_1",
        sync_status=SyncStatus.SYNCED,
        sync_error=None,
        synced_at=utc_now(),
        version=2,
    )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.save(synced, expected_version=1) is True
        assert await uow.voice_agents.save(replace(synced, name="Lost"), expected_version=1) is False
        assert await uow.voice_agents.save(make_agent(actor), expected_version=1) is False  # no such agent
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.get(agent.id) == synced
        assert await uow.voice_agents.find_by_provider_agent_id("pa_1") == synced
        assert await uow.voice_agents.find_by_provider_agent_id("pa_unknown") is None


async def test_agents_list_newest_first_page_by_page(storage: Storage):
    actor = await storage.new_tenant()
    base = utc_now()
    made = [make_agent(actor, created_at=base + timedelta(seconds=n)) for n in range(3)]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for agent in made:
            await uow.voice_agents.add(agent)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        first = await uow.voice_agents.list(PageRequest(limit=2))
        rest = await uow.voice_agents.list(PageRequest(limit=2, after=first.next_position))

    assert [a.id for a in first.items + rest.items] == [made[2].id, made[1].id, made[0].id]
    assert first.has_more
    assert not rest.has_more


async def test_deleting_an_agent_takes_its_versions_with_it(storage: Storage):
    actor, agent, _ = await setup(storage)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.delete(agent.id) is True
        assert await uow.voice_agents.delete(agent.id) is False
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.get(agent.id) is None
        assert await uow.agent_versions.get(agent.id, 1) is None


async def test_an_agent_a_number_still_names_is_not_deleted(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.phone_numbers.upsert(make_number(actor, integration_id, "+15550100001", agent_id=agent.id))
        await uow.commit()

    with pytest.raises(Exception):  # noqa: B017,PT011 (an integrity error: its class is the adapter's)
        await storage.commit_work(
            actor.tenant_id, actor.user_id, lambda uow: uow.voice_agents.delete(agent.id)
        )

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.voice_agents.get(agent.id) is not None


# --- versions ----------------------------------------------------------------------------------


async def test_versions_read_back_and_list_by_number_newest_first_page_by_page(storage: Storage):
    actor, agent, _ = await setup(storage)
    # Stored out of time order: the number, not the time, orders them.
    at = utc_now()
    later = [make_version(agent, n, created_at=at - timedelta(seconds=n)) for n in (2, 3, 4)]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for version in later:
            await uow.agent_versions.add(version)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.agent_versions.get(agent.id, 3) == later[1]
        assert await uow.agent_versions.get(agent.id, 9) is None
        first = await uow.agent_versions.list(agent.id, PageRequest(limit=3))
        rest = await uow.agent_versions.list(agent.id, PageRequest(limit=3, after=first.next_position))

    assert [v.number for v in first.items] == [4, 3, 2]
    assert [v.number for v in rest.items] == [1]
    assert not rest.has_more


async def test_a_version_number_is_taken_once_per_agent(storage: Storage):
    actor, agent, _ = await setup(storage)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        with pytest.raises(Conflict) as refused:
            await uow.agent_versions.add(make_version(agent, 1))
        assert refused.value.code == "version_exists"
        await uow.agent_versions.add(make_version(agent, 2))  # the unit of work goes on
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert (await uow.agent_versions.get(agent.id, 2)) is not None


async def test_a_version_needs_an_agent_of_its_tenant(storage: Storage):
    actor, _, _ = await setup(storage)
    _, foreign, _ = await setup(storage)
    stray = make_version(foreign, 2, tenant_id=actor.tenant_id)

    with pytest.raises(Exception):  # noqa: B017,PT011 (the foreign key's refusal)
        await storage.commit_work(actor.tenant_id, actor.user_id, lambda uow: uow.agent_versions.add(stray))


# --- phone numbers -----------------------------------------------------------------------------


async def test_a_number_upserted_twice_is_refreshed_keeping_its_id_agent_and_creation(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    first = make_number(actor, integration_id, "+15550100001", agent_id=agent.id)

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.phone_numbers.upsert(first) == first
        await uow.commit()

    again = make_number(actor, integration_id, "+15550100001", provider_id="pn_new", name="Renamed")
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        stored = await uow.phone_numbers.upsert(again)
        await uow.commit()

    assert stored.id == first.id
    assert stored.agent_id == agent.id
    assert stored.created_at == first.created_at
    assert (stored.provider_id, stored.name, stored.version) == ("pn_new", "Renamed", 2)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.phone_numbers.get(first.id) == stored
        assert await uow.phone_numbers.find_by_number("+15550100001") == stored
        assert await uow.phone_numbers.find_by_number("+15550109999") is None


async def test_a_number_assignment_is_saved_at_the_current_version_only(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    number = make_number(actor, integration_id, "+15550100002")
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.phone_numbers.upsert(number)
        await uow.commit()

    assigned = replace(number, agent_id=agent.id, updated_at=utc_now(), version=2)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.phone_numbers.save(assigned, expected_version=1) is True
        assert await uow.phone_numbers.save(replace(assigned, agent_id=None), expected_version=1) is False
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        assert await uow.phone_numbers.get(number.id, for_update=True) == assigned
        assert await uow.phone_numbers.for_agent(agent.id) == [assigned]


async def test_numbers_list_newest_first_and_filter_by_agent(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    base = utc_now()
    made = [
        make_number(
            actor,
            integration_id,
            f"+1555010000{n}",
            agent_id=agent.id if n != 1 else None,
            created_at=base + timedelta(seconds=n),
        )
        for n in range(3)
    ]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for number in made:
            await uow.phone_numbers.upsert(number)
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        first = await uow.phone_numbers.list(PageRequest(limit=2))
        rest = await uow.phone_numbers.list(PageRequest(limit=2, after=first.next_position))
        answered = await uow.phone_numbers.list(PageRequest(), agent.id)
        by_agent = await uow.phone_numbers.for_agent(agent.id)

    assert [n.id for n in first.items + rest.items] == [made[2].id, made[1].id, made[0].id]
    assert [n.id for n in answered.items] == [made[2].id, made[0].id]
    assert [n.number for n in by_agent] == ["+15550100000", "+15550100002"]


async def test_numbers_of_several_agents_at_once_are_what_each_agent_answers_alone(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    second, idle = make_agent(actor), make_agent(actor)
    foreign_actor, foreign, foreign_integration_id = await setup(storage)
    made = [
        make_number(actor, integration_id, "+15550100029", agent_id=agent.id),
        make_number(actor, integration_id, "+15550100021", agent_id=second.id),
        make_number(actor, integration_id, "+15550100025", agent_id=agent.id),
        make_number(actor, integration_id, "+15550100023"),
    ]
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.voice_agents.add(second)
        await uow.voice_agents.add(idle)
        for number in made:
            await uow.phone_numbers.upsert(number)
        await uow.commit()
    async with storage.units(foreign_actor.tenant_id, foreign_actor.user_id) as uow:
        await uow.phone_numbers.upsert(
            make_number(foreign_actor, foreign_integration_id, "+15550100020", agent_id=foreign.id)
        )
        await uow.commit()

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        at_once = await uow.phone_numbers.for_agents([idle.id, agent.id, foreign.id, second.id])
        alone = {a.id: await uow.phone_numbers.for_agent(a.id) for a in (agent, second, idle, foreign)}
        nobody = await uow.phone_numbers.for_agents([])

    assert at_once == alone
    assert [n.number for n in at_once[agent.id]] == ["+15550100025", "+15550100029"]
    assert [n.id for n in at_once[second.id]] == [made[1].id]
    assert at_once[idle.id] == []
    assert at_once[foreign.id] == []
    assert nobody == {}


async def test_a_number_cannot_name_another_tenants_agent(storage: Storage):
    actor, _, integration_id = await setup(storage)
    _, foreign, _ = await setup(storage)

    stray = make_number(actor, integration_id, "+15550100003", agent_id=foreign.id)

    with pytest.raises(Exception):  # noqa: B017,PT011 (the foreign key's refusal)
        await storage.commit_work(actor.tenant_id, actor.user_id, lambda uow: uow.phone_numbers.upsert(stray))


async def test_another_tenant_sees_none_of_a_tenants_agents_versions_or_numbers(storage: Storage):
    actor, agent, integration_id = await setup(storage)
    number = make_number(actor, integration_id, "+15550100004", agent_id=agent.id)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.voice_agents.save(replace(agent, provider_agent_id="pa_secret", version=2), 1)
        await uow.phone_numbers.upsert(number)
        await uow.commit()
    other = await storage.new_tenant()

    async with storage.units(other.tenant_id, other.user_id) as uow:
        assert await uow.voice_agents.get(agent.id) is None
        assert await uow.voice_agents.find_by_provider_agent_id("pa_secret") is None
        assert (await uow.voice_agents.list(PageRequest())).items == []
        assert await uow.agent_versions.get(agent.id, 1) is None
        assert (await uow.agent_versions.list(agent.id, PageRequest())).items == []
        assert await uow.phone_numbers.get(number.id) is None
        assert await uow.phone_numbers.find_by_number(number.number) is None
        assert await uow.phone_numbers.for_agent(agent.id) == []
        assert await uow.phone_numbers.for_agents([agent.id]) == {agent.id: []}
        assert (await uow.phone_numbers.list(PageRequest())).items == []
        assert await uow.voice_agents.save(replace(agent, name="Hijacked", version=3), 2) is False
        assert await uow.voice_agents.delete(agent.id) is False


# --- the use cases on each storage -------------------------------------------------------------


async def test_concurrent_changes_to_one_agent_make_consecutive_versions(storage: Storage):
    actor, _, _ = await setup(storage)
    owner = owner_of(actor)
    created = await handlers.create_agent(
        handlers.CreateAgent(
            name="Busy",
            voice_provider="11labs",
            voice_id="v",
            model_provider="openai",
            model="gpt-4o",
            system_prompt="Answer.",
        ),
        owner,
        storage.units(actor.tenant_id, actor.user_id),
        CLOCK,
    )

    async def change(n: int) -> Agent:
        command = handlers.UpdateAgent(created.id, {"system_prompt": f"Answer, take {n}."})
        return await handlers.update_agent(
            command, owner, storage.units(actor.tenant_id, actor.user_id), CLOCK
        )

    await asyncio.gather(*(change(n) for n in range(CONCURRENT_CHANGES)))

    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        agent = await uow.voice_agents.get(created.id)
        versions = await uow.agent_versions.list(created.id, PageRequest(limit=100))
    assert agent is not None
    assert agent.current_version == CONCURRENT_CHANGES + 1
    assert [v.number for v in versions.items] == list(range(CONCURRENT_CHANGES + 1, 0, -1))
    assert versions.items[0].settings == agent.settings
