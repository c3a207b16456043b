"""Voice agents over HTTP: their settings, versions, publishing, rollback and clones.

Changes reach the tenant's voice platform through the outbox (entrypoints/voice_sync.py): a
response never waits for the platform, and says where the agent stands there (``sync_status``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from quart import Blueprint, Response, request
from quart_schema import (
    RequestSchemaValidationError,
    document_request,
    document_response,
    tag,
    validate_querystring,
    validate_request,
)

from switchboard.core.calls import agents as handlers
from switchboard.core.calls.agents import (
    FIRST_MESSAGE_MAX,
    IDENTIFIER_MAX,
    NAME_MAX,
    SYSTEM_PROMPT_MAX,
    AgentDetails,
    AgentVersion,
    SyncStatus,
)
from switchboard.core.calls.model import BusinessTool
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.features import requires_feature
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("agents", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)
blueprint.before_request(requires_feature("voice"))

VERSION_MAX = 1_000_000


# --- request and response models ---------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentIn(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    voice_provider: str = Field(min_length=1, max_length=IDENTIFIER_MAX, description='e.g. "11labs"')
    voice_id: str = Field(min_length=1, max_length=IDENTIFIER_MAX)
    model_provider: str = Field(min_length=1, max_length=IDENTIFIER_MAX, description='e.g. "openai"')
    model: str = Field(min_length=1, max_length=IDENTIFIER_MAX, description='e.g. "gpt-4o-mini"')
    system_prompt: str = Field(min_length=1, max_length=SYSTEM_PROMPT_MAX)
    first_message: str | None = Field(default=None, max_length=FIRST_MESSAGE_MAX)
    tools: list[BusinessTool] = Field(
        default_factory=list, max_length=len(BusinessTool), description="Business tools it may use"
    )


class AgentPatch(Strict):
    """Only the settings sent change; a real change makes a new version (not yet published)."""

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    voice_provider: str | None = Field(default=None, min_length=1, max_length=IDENTIFIER_MAX)
    voice_id: str | None = Field(default=None, min_length=1, max_length=IDENTIFIER_MAX)
    model_provider: str | None = Field(default=None, min_length=1, max_length=IDENTIFIER_MAX)
    model: str | None = Field(default=None, min_length=1, max_length=IDENTIFIER_MAX)
    system_prompt: str | None = Field(default=None, min_length=1, max_length=SYSTEM_PROMPT_MAX)
    first_message: str | None = Field(default=None, max_length=FIRST_MESSAGE_MAX)
    tools: list[BusinessTool] | None = Field(default=None, max_length=len(BusinessTool))


class PublishIn(Strict):
    version: int | None = Field(default=None, ge=1, le=VERSION_MAX, description="The latest if left out")


class RollbackIn(Strict):
    version: int = Field(ge=1, le=VERSION_MAX, description="An earlier version to publish again")


class CloneIn(Strict):
    name: str = Field(min_length=1, max_length=NAME_MAX)


class AgentNumberOut(BaseModel):
    id: UUID
    number: str
    name: str | None


class KnowledgeFileRefOut(BaseModel):
    id: UUID
    name: str
    status: str


class AgentOut(BaseModel):
    object: Literal["agent"]
    id: UUID
    name: str
    voice_provider: str
    voice_id: str
    model_provider: str
    model: str
    system_prompt: str
    first_message: str | None
    tools: list[BusinessTool]
    knowledge_base: list[KnowledgeFileRefOut]
    phone_numbers: list[AgentNumberOut]
    current_version: int
    published_version: int | None
    provider_agent_id: str | None
    sync_status: SyncStatus | None = Field(description="null until first published")
    sync_error: str | None
    synced_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AgentListOut(ListOut[AgentOut]):
    """Agents, newest first."""


class AgentVersionOut(BaseModel):
    object: Literal["agent_version"]
    agent_id: UUID
    version: int
    name: str
    voice_provider: str
    voice_id: str
    model_provider: str
    model: str
    system_prompt: str
    first_message: str | None
    tools: list[BusinessTool]
    created_by: UUID | None
    note: str | None
    created_at: datetime


class AgentVersionListOut(ListOut[AgentVersionOut]):
    """An agent's versions, newest first."""


# --- renderers ---------------------------------------------------------------------------------


def render_agent(details: AgentDetails) -> dict[str, Any]:
    agent = details.agent
    return {
        "object": "agent",
        "id": agent.id,
        **handlers.settings_fields(agent.settings),
        "knowledge_base": [
            {"id": f.id, "name": f.name, "status": str(f.status)} for f in details.knowledge_files
        ],
        "phone_numbers": [{"id": n.id, "number": n.number, "name": n.name} for n in details.phone_numbers],
        "current_version": agent.current_version,
        "published_version": agent.published_version,
        "provider_agent_id": agent.provider_agent_id,
        "sync_status": agent.sync_status.value if agent.sync_status else None,
        "sync_error": agent.sync_error,
        "synced_at": agent.synced_at,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def render_version(version: AgentVersion) -> dict[str, Any]:
    return {
        "object": "agent_version",
        "agent_id": version.agent_id,
        "version": version.number,
        **handlers.settings_fields(version.settings),
        "created_by": version.created_by,
        "note": version.note,
        "created_at": version.created_at,
    }


async def _shown(units: UnitOfWorkFactory, agent_id: UUID) -> Response:
    """The agent as it is now (with its numbers and files), with its ETag."""
    details = await handlers.get_agent(agent_id, *acting(units))
    return json_response(render_agent(details), headers={"ETag": etag(details.agent.version)})


async def _optional_body(model: type[PublishIn]) -> PublishIn:
    """A body that may be left out entirely; when sent, it is checked like any other."""
    raw = await request.get_data()
    if not raw.strip():
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise RequestSchemaValidationError(error) from error


# --- routes ------------------------------------------------------------------------------------


@blueprint.post("/agents")
@tag(["agents"])
@validate_request(AgentIn)
@document_response(AgentOut, 201)
@idempotent
@inject
async def create_agent(
    data: AgentIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Create a voice agent at version 1, unpublished. Honours Idempotency-Key."""
    command = handlers.CreateAgent(
        name=data.name,
        voice_provider=data.voice_provider,
        voice_id=data.voice_id,
        model_provider=data.model_provider,
        model=data.model,
        system_prompt=data.system_prompt,
        first_message=data.first_message,
        tools=[tool.value for tool in data.tools],
    )
    agent = await handlers.create_agent(command, *acting(units), clock)
    return json_response(
        render_agent(AgentDetails(agent, ())),
        status=201,
        headers={"ETag": etag(agent.version), "Location": f"/v1/agents/{agent.id}"},
    )


@blueprint.get("/agents")
@tag(["agents"])
@validate_querystring(ListQuery)
@document_response(AgentListOut)
@inject
async def list_agents(query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """List agents, newest first."""
    page = await handlers.list_agents(page_request(query_args), *acting(units))
    return list_response(page, render_agent, encode_cursor)


@blueprint.get("/agents/<uuid:agent_id>")
@tag(["agents"])
@document_response(AgentOut)
@inject
async def get_agent(agent_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """Fetch one agent with its numbers, knowledge files and sync status, and its ETag."""
    return await _shown(units, agent_id)


@blueprint.patch("/agents/<uuid:agent_id>")
@tag(["agents"])
@validate_request(AgentPatch)
@document_response(AgentOut)
@inject
async def update_agent(
    agent_id: UUID,
    data: AgentPatch,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Change an agent's settings: a new version, published only when asked. Honours If-Match."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)  # null is refused by the core
    if data.tools is not None:
        changes["tools"] = [tool.value for tool in data.tools]
    await handlers.update_agent(
        handlers.UpdateAgent(agent_id, changes, if_match_version()), *acting(units), clock
    )
    return await _shown(units, agent_id)


@blueprint.delete("/agents/<uuid:agent_id>")
@tag(["agents"])
@inject
async def delete_agent(
    agent_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Delete an agent and its versions; it is removed at the platform too. Honours If-Match."""
    await handlers.delete_agent(handlers.DeleteAgent(agent_id, if_match_version()), *acting(units), clock)
    return Response(status=204)


@blueprint.get("/agents/<uuid:agent_id>/versions")
@tag(["agents"])
@validate_querystring(ListQuery)
@document_response(AgentVersionListOut)
@inject
async def list_versions(
    agent_id: UUID, query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """An agent's versions, newest first."""
    command = handlers.ListVersions(agent_id, page_request(query_args))
    page = await handlers.list_versions(command, *acting(units))
    return list_response(page, render_version, encode_cursor)


@blueprint.get(f"/agents/<uuid:agent_id>/versions/<int(max={VERSION_MAX}):number>")
@tag(["agents"])
@document_response(AgentVersionOut)
@inject
async def get_version(
    agent_id: UUID, number: int, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """One version of an agent's settings."""
    version = await handlers.get_version(agent_id, number, *acting(units))
    return json_response(render_version(version))


@blueprint.post("/agents/<uuid:agent_id>/publish")
@tag(["agents"])
@document_request(PublishIn)
@document_response(AgentOut)
@idempotent
@inject
async def publish_agent(
    agent_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Make a version (the latest if the body is left out) the one the platform runs; the sync
    follows through the outbox. Honours If-Match and Idempotency-Key."""
    data = await _optional_body(PublishIn)
    command = handlers.PublishAgent(agent_id, data.version, if_match_version())
    await handlers.publish_agent(command, *acting(units), clock)
    return await _shown(units, agent_id)


@blueprint.post("/agents/<uuid:agent_id>/rollback")
@tag(["agents"])
@validate_request(RollbackIn)
@document_response(AgentOut)
@idempotent
@inject
async def rollback_agent(
    agent_id: UUID,
    data: RollbackIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Publish an earlier version again, as a new version copied from it. Honours If-Match and
    Idempotency-Key."""
    command = handlers.RollbackAgent(agent_id, data.version, if_match_version())
    await handlers.rollback_agent(command, *acting(units), clock)
    return await _shown(units, agent_id)


@blueprint.post("/agents/<uuid:agent_id>/clone")
@tag(["agents"])
@validate_request(CloneIn)
@document_response(AgentOut, 201)
@idempotent
@inject
async def clone_agent(
    agent_id: UUID,
    data: CloneIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """A new agent with this one's current settings under a new name: version 1, unpublished.
    Honours Idempotency-Key."""
    clone = await handlers.clone_agent(handlers.CloneAgent(agent_id, data.name), *acting(units), clock)
    return json_response(
        render_agent(AgentDetails(clone, ())),
        status=201,
        headers={"ETag": etag(clone.version), "Location": f"/v1/agents/{clone.id}"},
    )
