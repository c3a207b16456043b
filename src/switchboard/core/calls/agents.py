"""Voice agents: what a tenant's AI agent says and may do, its versions, and its phone numbers.

Every change to an agent's settings makes a new, immutable version (1, 2, ...) that records who
made it. The version the voice platform runs is the *published* one; publishing and deleting
reach the platform through the outbox ("voice.sync_agent"), whose performer reads the published
version when it runs, so a stale job only repeats what is already true. A rollback publishes an
earlier version as a new version copied from it, so history stays linear.

A phone number is one of the platform's numbers, copied here by a sync; assigning an agent to it
decides who answers its inbound calls (again through the outbox: "voice.assign_phone_number").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.audit.model import diff
from switchboard.core.calls.model import BusinessTool
from switchboard.core.customers.model import normalize_phone
from switchboard.core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, gather
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability, Integration
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import OutboxMessage, new_outbox_message
from switchboard.core.tenancy.permissions import Action, require
from switchboard.core.text import refuse_control_characters, single_line

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.core.calls.knowledge import KnowledgeFile
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork
    from switchboard.ports.voice import ProviderPhoneNumber

SYNC_AGENT = "voice.sync_agent"
ASSIGN_PHONE_NUMBER = "voice.assign_phone_number"


class SyncStatus(StrEnum):
    """Where the agent stands at the voice platform."""

    PENDING = "pending"  # a change waits for the worker
    SYNCED = "synced"  # the platform runs the published version
    FAILED = "failed"  # the last attempt failed; ``sync_error`` says why


@dataclass(frozen=True)
class AgentSettings:
    """What one version of an agent is made of."""

    name: str
    voice_provider: str
    voice_id: str
    model_provider: str
    model: str
    system_prompt: str
    first_message: str | None
    tools: tuple[BusinessTool, ...]


@dataclass(frozen=True)
class Agent:
    """An agent with its current (latest) settings. ``version`` is the row's concurrency
    version (the ETag); ``current_version`` the number of its latest settings version."""

    id: UUID
    tenant_id: UUID
    name: str
    voice_provider: str
    voice_id: str
    model_provider: str
    model: str
    system_prompt: str
    first_message: str | None
    tools: tuple[BusinessTool, ...]
    current_version: int
    published_version: int | None
    provider_agent_id: str | None
    sync_status: SyncStatus | None  # None until it is first published
    sync_error: str | None
    synced_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def settings(self) -> AgentSettings:
        return AgentSettings(**_setting_values(self))


@dataclass(frozen=True)
class AgentVersion:
    """One immutable snapshot of an agent's settings."""

    id: UUID
    tenant_id: UUID
    agent_id: UUID
    number: int
    settings: AgentSettings
    created_by: UUID | None  # the user; None for an API key or the system
    created_at: datetime
    note: str | None = None  # e.g. "rollback to version 2"


@dataclass(frozen=True)
class PhoneNumber:
    """One of the voice platform's numbers, and the agent that answers its inbound calls."""

    id: UUID
    tenant_id: UUID
    integration_id: UUID
    provider_id: str  # the platform's id of the number
    number: str  # E.164
    name: str | None
    agent_id: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int = 1


def agent_sync_message(tenant_id: UUID, agent_id: UUID, now: datetime) -> OutboxMessage:
    """The outbox job that brings the platform's copy of the agent up to date with its published
    version (or removes it there once the agent is gone)."""
    return new_outbox_message(tenant_id, SYNC_AGENT, {"agent_id": str(agent_id)}, now)


def delete_sync_message(
    tenant_id: UUID, agent_id: UUID, provider_agent_id: str | None, now: datetime
) -> OutboxMessage:
    """The same job for an agent being deleted: it carries the platform's id, since the agent's
    row is gone by the time the job runs."""
    payload = {"agent_id": str(agent_id), "provider_agent_id": provider_agent_id}
    return new_outbox_message(tenant_id, SYNC_AGENT, payload, now)


def assign_number_message(tenant_id: UUID, phone_number_id: UUID, now: datetime) -> OutboxMessage:
    """The outbox job that tells the platform who answers the number now."""
    return new_outbox_message(tenant_id, ASSIGN_PHONE_NUMBER, {"phone_number_id": str(phone_number_id)}, now)


# --- rules -------------------------------------------------------------------------------------

AGENT_NOT_FOUND = "no agent with this id"
VERSION_NOT_FOUND = "this agent has no version with this number"
PHONE_NUMBER_NOT_FOUND = "no phone number with this id"

NAME_MAX = 200
IDENTIFIER_MAX = 200  # voice and model providers, voice ids, model names
SYSTEM_PROMPT_MAX = 20_000
FIRST_MESSAGE_MAX = 1_000
SYNC_ERROR_MAX = 1_000


def _free_text(value: Any, name: str, max_length: int, *, required: bool) -> str | None:
    """Text over several lines: trimmed, tabs and line breaks kept, other controls refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput.single(name, "must not be blank")
        return None
    if not isinstance(value, str):
        raise InvalidInput.single(name, "must be text")
    text = value.strip().replace("\r\n", "\n")
    if len(text) > max_length:
        raise InvalidInput.single(name, f"must be at most {max_length} characters")
    refuse_control_characters(text.replace("\n", " ").replace("\t", " "), name)
    return text


def clean_tools(value: Any) -> tuple[BusinessTool, ...]:
    """Known business tool names, each once, in the order given."""
    if value is None or isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput.single("tools", "must be a list of business tool names")
    tools: list[BusinessTool] = []
    for name in value:
        try:
            tool = BusinessTool(name)
        except ValueError:
            known = ", ".join(tool.value for tool in BusinessTool)
            raise InvalidInput.single(
                "tools", f"{str(name)[:50]!r} is not a business tool; use {known}"
            ) from None
        if tool not in tools:
            tools.append(tool)
    return tuple(tools)


def _setting_check(name: str, value: Any) -> Callable[[], Any]:
    def check() -> Any:
        if name == "name":
            return single_line(value if isinstance(value, str) else "", name, NAME_MAX)
        if name in ("voice_provider", "voice_id", "model_provider", "model"):
            return single_line(value if isinstance(value, str) else "", name, IDENTIFIER_MAX)
        if name == "system_prompt":
            return _free_text(value, name, SYSTEM_PROMPT_MAX, required=True)
        if name == "first_message":
            return _free_text(value, name, FIRST_MESSAGE_MAX, required=False)
        if name == "tools":
            return clean_tools(value)
        raise InvalidInput.single(name, "is not an agent setting")

    return check


def validated_settings(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Clean every present setting, reporting every problem at once."""
    return gather({name: _setting_check(name, value) for name, value in fields.items()})


def _setting_values(source: Agent | AgentSettings) -> dict[str, Any]:
    """The settings' fields as read from an agent (which carries its current ones) or settings."""
    return {setting.name: getattr(source, setting.name) for setting in dataclass_fields(AgentSettings)}


def settings_fields(settings: AgentSettings) -> dict[str, Any]:
    """The settings as plain values, for audit entries and comparisons."""
    return _setting_values(settings) | {"tools": [tool.value for tool in settings.tools]}


def with_settings(agent: Agent, settings: AgentSettings) -> Agent:
    return replace(agent, **_setting_values(settings))


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateAgent:
    name: str
    voice_provider: str
    voice_id: str
    model_provider: str
    model: str
    system_prompt: str
    first_message: str | None = None
    tools: Sequence[str] = ()


@dataclass(frozen=True)
class UpdateAgent:
    agent_id: UUID
    changes: dict[str, Any]  # only the settings the client sent
    if_match: int | None = None


@dataclass(frozen=True)
class DeleteAgent:
    agent_id: UUID
    if_match: int | None = None


@dataclass(frozen=True)
class PublishAgent:
    agent_id: UUID
    version: int | None = None  # the latest when not given
    if_match: int | None = None


@dataclass(frozen=True)
class RollbackAgent:
    agent_id: UUID
    version: int
    if_match: int | None = None


@dataclass(frozen=True)
class CloneAgent:
    agent_id: UUID
    name: str


@dataclass(frozen=True)
class ListVersions:
    agent_id: UUID
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True)
class AssignPhoneNumber:
    phone_number_id: UUID
    agent_id: UUID | None
    if_match: int | None = None


@dataclass(frozen=True)
class ListPhoneNumbers:
    page: PageRequest = field(default_factory=PageRequest)
    agent_id: UUID | None = None


@dataclass(frozen=True)
class AgentDetails:
    """An agent with what other parts own about it: the numbers it answers and its knowledge
    files (core/calls/knowledge.py; read-only here)."""

    agent: Agent
    phone_numbers: tuple[PhoneNumber, ...]
    knowledge_files: tuple[KnowledgeFile, ...] = ()


# --- agents ------------------------------------------------------------------------------------


async def create_agent(cmd: CreateAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> Agent:
    """A new agent at version 1, unpublished: the platform runs nothing until it is published."""
    require(principal, Action.AGENTS_WRITE)
    settings = AgentSettings(
        **validated_settings(
            {
                "name": cmd.name,
                "voice_provider": cmd.voice_provider,
                "voice_id": cmd.voice_id,
                "model_provider": cmd.model_provider,
                "model": cmd.model,
                "system_prompt": cmd.system_prompt,
                "first_message": cmd.first_message,
                "tools": cmd.tools,
            }
        )
    )
    agent = _new_agent(principal.tenant_id, settings, clock.now())
    async with uow:
        await uow.voice_agents.add(agent)
        await uow.agent_versions.add(_version_of(agent, principal, None))
        await uow.audit.record(
            "agent.created", "agent", str(agent.id), settings_fields(settings) | {"version": 1}
        )
        await uow.commit()
    return agent


async def get_agent(agent_id: UUID, principal: Principal, uow: UnitOfWork) -> AgentDetails:
    require(principal, Action.AGENTS_READ)
    async with uow:
        [details] = await _details(uow, [await _agent(uow, agent_id)])
    return details


async def list_agents(page: PageRequest, principal: Principal, uow: UnitOfWork) -> Page[AgentDetails]:
    """Newest first."""
    require(principal, Action.AGENTS_READ)
    async with uow:
        found = await uow.voice_agents.list(page)
        return Page(await _details(uow, found.items), found.next_position)


async def update_agent(cmd: UpdateAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> Agent:
    """New settings make a new version; the published version (what callers hear) stays until
    the new one is published. A change that changes nothing makes no version."""
    require(principal, Action.AGENTS_WRITE)
    changes = validated_settings(cmd.changes)
    async with uow:
        current = await _agent(uow, cmd.agent_id, for_update=True)
        _check_version(current.version, cmd.if_match)
        settings = replace(current.settings, **changes)
        changed = diff(settings_fields(current.settings), settings_fields(settings))
        if not changed:
            return current
        updated = replace(
            with_settings(current, settings),
            current_version=current.current_version + 1,
            updated_at=clock.now(),
            version=current.version + 1,
        )
        await _save(uow, updated, current)
        await uow.agent_versions.add(_version_of(updated, principal, None))
        await uow.audit.record(
            "agent.updated", "agent", str(updated.id), changed | {"version": updated.current_version}
        )
        await uow.commit()
    return updated


async def delete_agent(cmd: DeleteAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> None:
    """Gone here at once with its versions; removed at the platform through the outbox. Its
    numbers lose their agent (the platform then asks which agent answers each call)."""
    require(principal, Action.AGENTS_WRITE)
    now = clock.now()
    async with uow:
        current = await _agent(uow, cmd.agent_id, for_update=True)
        _check_version(current.version, cmd.if_match)
        for number in await uow.phone_numbers.for_agent(current.id):
            await _assign(uow, number, None, now)
        # The knowledge base imports this module (to re-sync agents), so it is imported late.
        from switchboard.core.calls.knowledge import remove_agent_files

        await remove_agent_files(uow, current.id, now)
        await uow.voice_agents.delete(current.id)
        if current.provider_agent_id is not None or current.published_version is not None:
            await uow.outbox.add(
                delete_sync_message(current.tenant_id, current.id, current.provider_agent_id, now)
            )
        await uow.audit.record("agent.deleted", "agent", str(current.id), settings_fields(current.settings))
        await uow.commit()


async def publish_agent(cmd: PublishAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> Agent:
    """Make a version (the latest by default) the one the platform runs. Publishing the version
    already published sends it again (after a failed sync, say)."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        current = await _agent(uow, cmd.agent_id, for_update=True)
        _check_version(current.version, cmd.if_match)
        number = cmd.version if cmd.version is not None else current.current_version
        await _existing_version(uow, current.id, number)
        published = _published(current, number, clock.now())
        await _save(uow, published, current)
        await uow.outbox.add(agent_sync_message(current.tenant_id, current.id, clock.now()))
        await uow.audit.record(
            "agent.published",
            "agent",
            str(current.id),
            {"published_version": {"from": current.published_version, "to": number}},
        )
        await uow.commit()
    return published


async def rollback_agent(cmd: RollbackAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> Agent:
    """Publish an earlier version's settings as a new version copied from it: history only
    grows, and says who rolled back to what."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        current = await _agent(uow, cmd.agent_id, for_update=True)
        _check_version(current.version, cmd.if_match)
        if cmd.version >= current.current_version:
            raise InvalidInput.single("version", "must be an earlier version than the current one")
        earlier = await _existing_version(uow, current.id, cmd.version)
        now = clock.now()
        restored = replace(
            with_settings(current, earlier.settings), current_version=current.current_version + 1
        )
        published = _published(restored, restored.current_version, now)
        await _save(uow, published, current)
        note = f"rollback to version {earlier.number}"
        await uow.agent_versions.add(_version_of(published, principal, note))
        await uow.outbox.add(agent_sync_message(current.tenant_id, current.id, now))
        changed = diff(settings_fields(current.settings), settings_fields(earlier.settings))
        await uow.audit.record(
            "agent.rolled_back",
            "agent",
            str(current.id),
            changed
            | {
                "rolled_back_to": earlier.number,
                "version": published.current_version,
                "published_version": {"from": current.published_version, "to": published.current_version},
            },
        )
        await uow.commit()
    return published


async def clone_agent(cmd: CloneAgent, principal: Principal, uow: UnitOfWork, clock: Clock) -> Agent:
    """A new agent with the current settings of another under a new name: version 1,
    unpublished, no numbers, nothing at the platform yet."""
    require(principal, Action.AGENTS_WRITE)
    name = validated_settings({"name": cmd.name})["name"]
    async with uow:
        source = await _agent(uow, cmd.agent_id)
        clone = _new_agent(principal.tenant_id, replace(source.settings, name=name), clock.now())
        await uow.voice_agents.add(clone)
        await uow.agent_versions.add(_version_of(clone, principal, f"cloned from agent {source.id}"))
        await uow.audit.record(
            "agent.cloned",
            "agent",
            str(clone.id),
            settings_fields(clone.settings) | {"cloned_from": str(source.id), "version": 1},
        )
        await uow.commit()
    return clone


async def list_versions(cmd: ListVersions, principal: Principal, uow: UnitOfWork) -> Page[AgentVersion]:
    """Newest first."""
    require(principal, Action.AGENTS_READ)
    async with uow:
        await _agent(uow, cmd.agent_id)
        return await uow.agent_versions.list(cmd.agent_id, cmd.page)


async def get_version(agent_id: UUID, number: int, principal: Principal, uow: UnitOfWork) -> AgentVersion:
    require(principal, Action.AGENTS_READ)
    async with uow:
        await _agent(uow, agent_id)
        version = await uow.agent_versions.get(agent_id, number)
    if version is None:
        raise NotFound(VERSION_NOT_FOUND)
    return version


# --- the platform's copy (run by the worker) ---------------------------------------------------


@dataclass(frozen=True)
class SyncPlan:
    """What the platform should run for an agent now: its published version's settings, the
    platform's ids of its knowledge files, and the path (under the public URL) of the voice
    connection's webhook, where the platform sends the agent's server messages."""

    agent_id: UUID
    version: int
    settings: AgentSettings
    provider_agent_id: str | None
    webhook_path: str | None  # None: the tenant has no voice connection to send it to
    knowledge_file_ids: tuple[str, ...] = ()


def webhook_path(integration: Integration) -> str:
    return f"/v1/webhooks/{integration.provider}/{integration.id}"


async def plan_sync(agent_id: UUID, uow: UnitOfWork) -> SyncPlan | None:
    """None when there is nothing to send: the agent is gone or was never published."""
    async with uow:
        agent = await uow.voice_agents.get(agent_id)
        if agent is None or agent.published_version is None:
            return None
        version = await uow.agent_versions.get(agent_id, agent.published_version)
        integration = await uow.integrations.enabled_for(Capability.VOICE)
        knowledge_ids = tuple(await uow.knowledge_files.provider_ids_for_agent(agent_id))
    if version is None:  # versions are never deleted while their agent exists
        return None
    return SyncPlan(
        agent_id=agent_id,
        version=version.number,
        settings=version.settings,
        provider_agent_id=agent.provider_agent_id,
        webhook_path=webhook_path(integration) if integration else None,
        knowledge_file_ids=knowledge_ids,
    )


@dataclass(frozen=True)
class SyncRecorded:
    """``orphaned``: the agent was deleted while the platform was being told of it, so the
    platform's new copy must be removed. ``numbers``: the agent's numbers, which the platform
    should now route to the agent it just created."""

    orphaned: bool = False
    numbers: tuple[UUID, ...] = ()


async def record_synced(
    plan: SyncPlan, provider_agent_id: str, uow: UnitOfWork, clock: Clock
) -> SyncRecorded:
    """Keep the platform's id; the agent is synced if what was sent is still what is published
    (else a later job is on its way, and the status stays pending)."""
    now = clock.now()
    async with uow:
        current = await uow.voice_agents.get(plan.agent_id, for_update=True)
        if current is None:
            return SyncRecorded(orphaned=True)
        created = current.provider_agent_id != provider_agent_id
        still_published = current.published_version == plan.version
        synced = replace(
            current,
            provider_agent_id=provider_agent_id,
            sync_status=SyncStatus.SYNCED if still_published else current.sync_status,
            sync_error=None if still_published else current.sync_error,
            synced_at=now,
            version=current.version + 1,
        )
        await _save(uow, synced, current)
        numbers: tuple[UUID, ...] = ()
        if created:
            numbers = tuple(n.id for n in await uow.phone_numbers.for_agent(current.id))
            for number_id in numbers:
                await uow.outbox.add(assign_number_message(current.tenant_id, number_id, now))
            await uow.audit.record(
                "agent.provider_created", "agent", str(current.id), {"provider_agent_id": provider_agent_id}
            )
        await uow.commit()
    return SyncRecorded(numbers=numbers)


async def record_sync_failure(plan: SyncPlan, error: str, final: bool, uow: UnitOfWork, clock: Clock) -> None:
    """Note the platform's answer; ``final``: no retry follows, the agent's sync failed."""
    async with uow:
        current = await uow.voice_agents.get(plan.agent_id, for_update=True)
        if current is None or current.published_version != plan.version:
            return  # deleted, or a newer publish has its own job
        failed = replace(
            current,
            sync_status=SyncStatus.FAILED if final else SyncStatus.PENDING,
            sync_error=error[:SYNC_ERROR_MAX],
            version=current.version + 1,
        )
        await _save(uow, failed, current)
        await uow.commit()


# --- phone numbers -----------------------------------------------------------------------------


async def voice_integration_id(principal: Principal, uow: UnitOfWork) -> UUID:
    """The tenant's enabled voice connection, which the numbers come from."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        integration = await uow.integrations.enabled_for(Capability.VOICE)
    if integration is None:
        raise Conflict("no voice provider is connected", code="provider_not_connected")
    return integration.id


async def store_phone_numbers(
    integration_id: UUID,
    listed: Sequence[ProviderPhoneNumber],
    principal: Principal,
    uow: UnitOfWork,
    clock: Clock,
) -> list[PhoneNumber]:
    """Keep the platform's numbers: new ones are added (with the agent the platform has them
    answered by, when Switchboard knows it), known ones refreshed, keeping their agent."""
    require(principal, Action.AGENTS_WRITE)
    now = clock.now()
    stored: list[PhoneNumber] = []
    async with uow:
        for item in listed:
            try:
                number = normalize_phone(item.number, "number")
            except InvalidInput:
                continue  # a platform's odd entry (a SIP address, say) cannot take calls here
            agent = (
                await uow.voice_agents.find_by_provider_agent_id(item.provider_agent_id)
                if item.provider_agent_id
                else None
            )
            stored.append(
                await uow.phone_numbers.upsert(
                    PhoneNumber(
                        id=uuid4(),
                        tenant_id=principal.tenant_id,
                        integration_id=integration_id,
                        provider_id=item.provider_id,
                        number=number,
                        name=single_line(item.name, "name", NAME_MAX)
                        if item.name and item.name.strip()
                        else None,
                        agent_id=agent.id if agent else None,
                        created_at=now,
                        updated_at=now,
                    )
                )
            )
        await uow.audit.record(
            "phone_numbers.synced", "phone_number", None, {"numbers": [n.number for n in stored]}
        )
        await uow.commit()
    return stored


async def list_phone_numbers(
    cmd: ListPhoneNumbers, principal: Principal, uow: UnitOfWork
) -> Page[PhoneNumber]:
    """Newest first; ``agent_id`` keeps only the numbers that agent answers."""
    require(principal, Action.AGENTS_READ)
    async with uow:
        return await uow.phone_numbers.list(cmd.page, cmd.agent_id)


async def get_phone_number(phone_number_id: UUID, principal: Principal, uow: UnitOfWork) -> PhoneNumber:
    require(principal, Action.AGENTS_READ)
    async with uow:
        number = await uow.phone_numbers.get(phone_number_id)
    if number is None:
        raise NotFound(PHONE_NUMBER_NOT_FOUND)
    return number


async def assign_phone_number(
    cmd: AssignPhoneNumber, principal: Principal, uow: UnitOfWork, clock: Clock
) -> PhoneNumber:
    """Let an agent of the tenant answer the number's inbound calls (None: no agent)."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        current = await uow.phone_numbers.get(cmd.phone_number_id, for_update=True)
        if current is None:
            raise NotFound(PHONE_NUMBER_NOT_FOUND)
        _check_version(current.version, cmd.if_match, "phone number")
        if cmd.agent_id is not None and await uow.voice_agents.get(cmd.agent_id) is None:
            raise InvalidInput.single("agent_id", AGENT_NOT_FOUND)
        if current.agent_id == cmd.agent_id:
            return current
        assigned = await _assign(uow, current, cmd.agent_id, clock.now())
        await uow.commit()
    return assigned


@dataclass(frozen=True)
class AssignmentPlan:
    """Who should answer a number at the platform now."""

    provider_number_id: str
    provider_agent_id: str | None  # None: the platform asks the server which agent answers
    webhook_path: str


async def plan_assignment(phone_number_id: UUID, uow: UnitOfWork) -> AssignmentPlan | None:
    """Read when the job runs, so a stale job sends what is true now. None when the number is
    gone or its connection is no longer the tenant's voice provider (nothing there to tell)."""
    async with uow:
        number = await uow.phone_numbers.get(phone_number_id)
        if number is None:
            return None
        integration = await uow.integrations.enabled_for(Capability.VOICE)
        agent = await uow.voice_agents.get(number.agent_id) if number.agent_id else None
    if integration is None or integration.id != number.integration_id:
        return None
    provider_agent_id = agent.provider_agent_id if agent and agent.published_version else None
    return AssignmentPlan(number.provider_id, provider_agent_id, webhook_path(integration))


# --- helpers -----------------------------------------------------------------------------------


def _new_agent(tenant_id: UUID, settings: AgentSettings, now: datetime) -> Agent:
    return Agent(
        id=uuid4(),
        tenant_id=tenant_id,
        **_setting_values(settings),
        current_version=1,
        published_version=None,
        provider_agent_id=None,
        sync_status=None,
        sync_error=None,
        synced_at=None,
        created_at=now,
        updated_at=now,
    )


def _version_of(agent: Agent, principal: Principal, note: str | None) -> AgentVersion:
    """The agent's current settings as its version ``current_version``."""
    return AgentVersion(
        id=uuid4(),
        tenant_id=agent.tenant_id,
        agent_id=agent.id,
        number=agent.current_version,
        settings=agent.settings,
        created_by=principal.user_id,
        created_at=agent.updated_at,
        note=note,
    )


def _published(agent: Agent, number: int, now: datetime) -> Agent:
    return replace(
        agent,
        published_version=number,
        sync_status=SyncStatus.PENDING,
        sync_error=None,
        updated_at=now,
        version=agent.version + 1,
    )


async def _agent(uow: UnitOfWork, agent_id: UUID, *, for_update: bool = False) -> Agent:
    agent = await uow.voice_agents.get(agent_id, for_update=for_update)
    if agent is None:
        raise NotFound(AGENT_NOT_FOUND)
    return agent


async def _existing_version(uow: UnitOfWork, agent_id: UUID, number: int) -> AgentVersion:
    version = await uow.agent_versions.get(agent_id, number)
    if version is None:
        raise InvalidInput.single("version", VERSION_NOT_FOUND)
    return version


async def _save(uow: UnitOfWork, updated: Agent, current: Agent) -> None:
    if not await uow.voice_agents.save(updated, expected_version=current.version):
        raise PreconditionFailed("the agent changed while it was being updated")


async def _details(uow: UnitOfWork, agents: Sequence[Agent]) -> list[AgentDetails]:
    """Two reads however many agents there are (a page holds up to 100)."""
    agent_ids = [agent.id for agent in agents]
    numbers = await uow.phone_numbers.for_agents(agent_ids)
    files = await uow.knowledge_files.for_agents(agent_ids)
    return [AgentDetails(agent, tuple(numbers[agent.id]), tuple(files[agent.id])) for agent in agents]


async def _assign(uow: UnitOfWork, number: PhoneNumber, agent_id: UUID | None, now: datetime) -> PhoneNumber:
    assigned = replace(number, agent_id=agent_id, updated_at=now, version=number.version + 1)
    if not await uow.phone_numbers.save(assigned, expected_version=number.version):
        raise PreconditionFailed("the phone number changed while it was being updated")
    await uow.outbox.add(assign_number_message(number.tenant_id, number.id, now))
    await uow.audit.record(
        "phone_number.assigned",
        "phone_number",
        str(number.id),
        {
            "agent_id": {
                "from": str(number.agent_id) if number.agent_id else None,
                "to": str(agent_id) if agent_id else None,
            }
        },
    )
    return assigned


def _check_version(version: int, if_match: int | None, what: str = "agent") -> None:
    if if_match is not None and if_match != version:
        raise PreconditionFailed(f"the {what} changed since it was read")
