"""The rules of voice agents' settings and versions, on the memory storage: what a setting may be,
when a change makes a version, what publish and rollback accept, and how the worker's answers
settle an agent's sync status without overwriting a newer publish."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.adapters.memory.store import MemoryStore
from switchboard.adapters.memory.unit_of_work import MemoryIdentityDirectory, MemoryUnitOfWork
from switchboard.core.calls import agents
from switchboard.core.calls.agents import SyncStatus, validated_settings
from switchboard.core.calls.model import BusinessTool
from switchboard.core.errors import InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import JobStatus
from switchboard.core.tenancy.model import Role
from tests.contract.conftest import Actor, Storage
from tests.contract.test_integration_contract import make_integration

AGENT = {
    "name": "Front desk",
    "voice_provider": "11labs",
    "voice_id": "rachel",
    "model_provider": "openai",
    "model": "gpt-4o-mini",
    "system_prompt": "Answer the phone.",
    "first_message": None,
    "tools": ["find_customer"],
}


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


@pytest.fixture
def storage() -> Storage:
    store = MemoryStore()
    return Storage("memory", partial(MemoryUnitOfWork, store), MemoryIdentityDirectory(store))


def owner(actor: Actor) -> Principal:
    return Principal(actor.user_id, actor.tenant_id, Role.OWNER)


async def new_agent(storage: Storage, actor: Actor, **fields: Any) -> agents.Agent:
    command = agents.CreateAgent(**(AGENT | fields))
    return await agents.create_agent(command, owner(actor), storage.units(actor.tenant_id), CLOCK)


def outbox(storage: Storage) -> list[Any]:
    store: MemoryStore = storage.units.args[0]  # type: ignore[attr-defined]
    return sorted(store.tables["outbox"].values(), key=lambda job: job.created_at)


# --- settings ----------------------------------------------------------------------------------


def test_settings_are_trimmed_and_tools_kept_once_in_the_order_given():
    cleaned = validated_settings(
        {
            "name": "  Front   desk ",
            "system_prompt": "  Line one\r\nLine two\twith a tab  ",
            "first_message": "   ",
            "tools": ["book_appointment", "find_customer", "book_appointment"],
        }
    )

    assert cleaned["name"] == "Front desk"
    assert cleaned["system_prompt"] == "Line one\nLine two\twith a tab"
    assert cleaned["first_message"] is None
    assert cleaned["tools"] == (BusinessTool.BOOK_APPOINTMENT, BusinessTool.FIND_CUSTOMER)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 201),
        ("voice_id", None),
        ("model", "gpt\x00"),
        ("system_prompt", "   "),
        ("system_prompt", "ring \x07"),
        ("system_prompt", "x" * 20_001),
        ("first_message", 42),
        ("tools", "find_customer"),
        ("tools", ["find_customer", "launch_rockets"]),
        ("tools", None),
        ("tenant_id", "anything"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(field: str, value: Any):
    with pytest.raises(InvalidInput) as refused:
        validated_settings({field: value})

    assert [error.field for error in refused.value.errors] == [field]


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(InvalidInput) as refused:
        validated_settings({"name": "", "model": "", "tools": ["nope"]})

    assert {error.field for error in refused.value.errors} == {"name", "model", "tools"}


# --- versions ----------------------------------------------------------------------------------


async def test_a_real_change_makes_the_next_version_and_an_idle_one_makes_none(storage: Storage):
    actor = await storage.new_tenant()
    agent = await new_agent(storage, actor)
    units = partial(storage.units, actor.tenant_id)

    idle = await agents.update_agent(
        agents.UpdateAgent(agent.id, {"name": "Front desk"}), owner(actor), units(), CLOCK
    )
    changed = await agents.update_agent(
        agents.UpdateAgent(agent.id, {"tools": ["take_message"]}, if_match=agent.version),
        owner(actor),
        units(),
        CLOCK,
    )

    assert idle == agent
    assert (changed.current_version, changed.published_version, changed.version) == (2, None, 2)
    version = await agents.get_version(agent.id, 2, owner(actor), units())
    assert version.settings.tools == (BusinessTool.TAKE_MESSAGE,)
    assert version.created_by == actor.user_id
    with pytest.raises(PreconditionFailed):
        await agents.update_agent(
            agents.UpdateAgent(agent.id, {"name": "Stale"}, if_match=agent.version),
            owner(actor),
            units(),
            CLOCK,
        )


async def test_publish_takes_an_existing_version_only(storage: Storage):
    actor = await storage.new_tenant()
    agent = await new_agent(storage, actor)

    with pytest.raises(InvalidInput) as refused:
        await agents.publish_agent(
            agents.PublishAgent(agent.id, version=2), owner(actor), storage.units(actor.tenant_id), CLOCK
        )

    assert refused.value.errors[0].field == "version"
    assert outbox(storage) == []


async def test_rollback_takes_an_earlier_version_and_publishes_a_copy_of_it(storage: Storage):
    actor = await storage.new_tenant()
    agent = await new_agent(storage, actor)
    units = partial(storage.units, actor.tenant_id)
    await agents.update_agent(agents.UpdateAgent(agent.id, {"model": "gpt-4o"}), owner(actor), units(), CLOCK)

    for number in (2, 3, 0):
        with pytest.raises(InvalidInput):
            await agents.rollback_agent(agents.RollbackAgent(agent.id, number), owner(actor), units(), CLOCK)
    rolled = await agents.rollback_agent(agents.RollbackAgent(agent.id, 1), owner(actor), units(), CLOCK)

    assert (rolled.current_version, rolled.published_version, rolled.model) == (3, 3, "gpt-4o-mini")
    assert rolled.sync_status is SyncStatus.PENDING
    copy = await agents.get_version(agent.id, 3, owner(actor), units())
    assert copy.settings == (await agents.get_version(agent.id, 1, owner(actor), units())).settings
    assert copy.note == "rollback to version 1"
    assert [job.kind for job in outbox(storage)] == ["voice.sync_agent"]


async def test_only_managers_change_agents_and_everyone_reads_them(storage: Storage):
    actor = await storage.new_tenant()
    agent = await new_agent(storage, actor)
    member = Principal(uuid4(), actor.tenant_id, Role.MEMBER)

    assert (await agents.get_agent(agent.id, member, storage.units(actor.tenant_id))).agent == agent
    with pytest.raises(PermissionDenied):
        await agents.create_agent(agents.CreateAgent(**AGENT), member, storage.units(actor.tenant_id), CLOCK)
    with pytest.raises(PermissionDenied):
        await agents.publish_agent(
            agents.PublishAgent(agent.id), member, storage.units(actor.tenant_id), CLOCK
        )


# --- the worker's answers ----------------------------------------------------------------------


async def published_with_connection(
    storage: Storage,
) -> tuple[Actor, agents.Agent, agents.SyncPlan, UUID]:
    actor = await storage.new_tenant()
    integration = make_integration(actor.tenant_id, provider="fake_voice", capability=Capability.VOICE)
    await storage.commit_work(actor.tenant_id, None, lambda uow: uow.integrations.add(integration))
    agent = await new_agent(storage, actor)
    await agents.publish_agent(
        agents.PublishAgent(agent.id), owner(actor), storage.units(actor.tenant_id), CLOCK
    )
    plan = await agents.plan_sync(agent.id, storage.units(actor.tenant_id))
    assert plan is not None
    assert plan.webhook_path == f"/v1/webhooks/fake_voice/{integration.id}"
    return actor, agent, plan, integration.id


async def test_a_sync_of_a_version_no_longer_published_keeps_the_agent_pending(storage: Storage):
    actor, agent, plan, _ = await published_with_connection(storage)
    units = partial(storage.units, actor.tenant_id)
    await agents.update_agent(agents.UpdateAgent(agent.id, {"name": "Newer"}), owner(actor), units(), CLOCK)
    await agents.publish_agent(agents.PublishAgent(agent.id), owner(actor), units(), CLOCK)

    await agents.record_synced(plan, "pa_1", units(), CLOCK)
    await agents.record_sync_failure(plan, "too late to matter", True, units(), CLOCK)

    shown = (await agents.get_agent(agent.id, owner(actor), units())).agent
    assert (shown.provider_agent_id, shown.sync_status, shown.sync_error) == (
        "pa_1",
        SyncStatus.PENDING,
        None,
    )


async def test_a_failure_that_will_be_retried_keeps_the_agent_pending_with_the_error_noted(storage: Storage):
    actor, agent, plan, _ = await published_with_connection(storage)
    units = partial(storage.units, actor.tenant_id)

    await agents.record_sync_failure(plan, "timeout", False, units(), CLOCK)
    pending = (await agents.get_agent(agent.id, owner(actor), units())).agent
    await agents.record_sync_failure(plan, "refused", True, units(), CLOCK)
    failed = (await agents.get_agent(agent.id, owner(actor), units())).agent
    await agents.record_synced(plan, "pa_1", units(), CLOCK)
    synced = (await agents.get_agent(agent.id, owner(actor), units())).agent

    assert (pending.sync_status, pending.sync_error) == (SyncStatus.PENDING, "timeout")
    assert (failed.sync_status, failed.sync_error) == (SyncStatus.FAILED, "refused")
    assert (synced.sync_status, synced.sync_error) == (SyncStatus.SYNCED, None)


async def test_a_new_platform_agent_reroutes_the_numbers_it_answers(storage: Storage):
    actor, agent, plan, integration_id = await published_with_connection(storage)
    units = partial(storage.units, actor.tenant_id)
    number = agents.PhoneNumber(
        id=uuid4(),
        tenant_id=actor.tenant_id,
        integration_id=integration_id,
        provider_id="pn_1",
        number="+15550100001",
        name=None,
        agent_id=agent.id,
        created_at=CLOCK.now(),
        updated_at=CLOCK.now(),
    )
    await storage.commit_work(actor.tenant_id, None, lambda uow: uow.phone_numbers.upsert(number))
    before = await agents.plan_assignment(number.id, units())

    first = await agents.record_synced(plan, "pa_1", units(), CLOCK)
    again = await agents.record_synced(replace(plan, provider_agent_id="pa_1"), "pa_1", units(), CLOCK)
    after = await agents.plan_assignment(number.id, units())

    assert before is not None
    assert before.provider_agent_id is None  # not on the platform yet: routed by assistant request
    assert first.numbers == (number.id,)
    assert again.numbers == ()  # only a newly made platform agent moves the numbers
    assert after is not None
    assert after.provider_agent_id == "pa_1"
    jobs = [job for job in outbox(storage) if job.kind == "voice.assign_phone_number"]
    assert [(job.payload, job.status) for job in jobs] == [
        ({"phone_number_id": str(number.id)}, JobStatus.PENDING)
    ]


async def test_a_deleted_agents_sync_is_reported_orphaned_and_its_plan_is_gone(storage: Storage):
    actor, agent, plan, _ = await published_with_connection(storage)
    units = partial(storage.units, actor.tenant_id)
    await agents.delete_agent(agents.DeleteAgent(agent.id), owner(actor), units(), CLOCK)

    recorded = await agents.record_synced(plan, "pa_1", units(), CLOCK)

    assert recorded.orphaned
    assert await agents.plan_sync(agent.id, units()) is None
    with pytest.raises(NotFound):
        await agents.get_agent(agent.id, owner(actor), units())
