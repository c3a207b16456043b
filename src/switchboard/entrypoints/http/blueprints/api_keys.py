"""API keys: tenant credentials for servers and browser widgets, shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring, validate_request

from switchboard.core.apikeys import handlers
from switchboard.core.apikeys.model import KEY_NAME_MAX, MAX_ORIGINS, ApiKey
from switchboard.core.tenancy.model import Access
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import json_response, list_response
from switchboard.ports.clock import Clock
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("api_keys", __name__, url_prefix="/v1/api-keys")
blueprint.before_request(require_principal)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=KEY_NAME_MAX)
    scopes: dict[str, Access] = Field(
        max_length=20, description='Per resource family, "read" or "write", e.g. {"customers": "read"}'
    )
    expires_at: AwareDatetime | None = None
    allowed_origins: list[str] = Field(default_factory=list, max_length=MAX_ORIGINS)


class ApiKeyOut(BaseModel):
    object: Literal["api_key"]
    id: UUID
    name: str
    prefix: str
    scopes: dict[str, Access]
    allowed_origins: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreatedApiKeyOut(ApiKeyOut):
    secret: str = Field(description="Shown this once; only its hash is kept")


class ApiKeyListOut(ListOut[ApiKeyOut]):
    """API keys, newest first, revoked ones included."""


def render_key(key: ApiKey) -> dict[str, Any]:
    return {
        "object": "api_key",
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": {family: access.value for family, access in key.scopes.items()},
        "allowed_origins": list(key.allowed_origins),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


@blueprint.post("")
@tag(["api keys"])
@validate_request(ApiKeyIn)
@document_response(CreatedApiKeyOut, 201)
@idempotent
@inject
async def create_key(
    data: ApiKeyIn,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Create a key. The secret is in this answer only."""
    scopes = {family: access.value for family, access in data.scopes.items()}
    command = handlers.CreateKey(data.name, scopes, data.expires_at, tuple(data.allowed_origins))
    created = await handlers.create_key(command, *acting(units), clock)
    body = render_key(created.key) | {"secret": created.secret}
    return json_response(body, status=201, headers={"Location": f"/v1/api-keys/{created.key.id}"})


@blueprint.get("")
@tag(["api keys"])
@validate_querystring(ListQuery)
@document_response(ApiKeyListOut)
@inject
async def list_keys(query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """The tenant's keys, newest first, revoked ones included; never their secrets."""
    page = await handlers.list_keys(page_request(query_args), *acting(units))
    return list_response(page, render_key, encode_cursor)


@blueprint.get("/<uuid:key_id>")
@tag(["api keys"])
@document_response(ApiKeyOut)
@inject
async def get_key(key_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]) -> Response:
    """One key: its name, prefix, scopes, and when it was last used."""
    return json_response(render_key(await handlers.get_key(key_id, *acting(units))))


@blueprint.delete("/<uuid:key_id>")
@tag(["api keys"])
@inject
async def revoke_key(
    key_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Revoke a key: its very next request is refused."""
    await handlers.revoke_key(key_id, *acting(units), clock)
    return Response(status=204)
