"""Agents' knowledge base over HTTP: upload a document (multipart), list, read its metadata and
extracted text, send a failed one again, delete.

Uploads are the one route that takes bodies over the app-wide limit: up to
``SWITCHBOARD_KNOWLEDGE_MAX_BYTES`` plus room for the multipart framing (``body_limit``, installed
by the app factory through entrypoints/http/body_limits.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ConfigDict
from quart import Blueprint, Response, request
from quart_schema import DataSource, document_request, document_response, tag, validate_querystring
from quart_schema.pydantic import File

from switchboard.core.calls import knowledge
from switchboard.core.calls.knowledge import KnowledgeFile, KnowledgeFileStatus, KnowledgeFileType
from switchboard.core.errors import InvalidInput
from switchboard.core.tenancy.permissions import Action, require
from switchboard.entrypoints.container import Container
from switchboard.entrypoints.http.auth import acting, current_principal, require_principal
from switchboard.entrypoints.http.blueprints.schemas import ListOut
from switchboard.entrypoints.http.errors import ApiError
from switchboard.entrypoints.http.features import requires_feature
from switchboard.entrypoints.http.idempotency import idempotent
from switchboard.entrypoints.http.pagination import ListQuery, encode_cursor, page_request
from switchboard.entrypoints.http.responses import etag, if_match_version, json_response, list_response
from switchboard.entrypoints.settings import Settings
from switchboard.ports.clock import Clock
from switchboard.ports.files import FileStorage, TextExtractor
from switchboard.ports.persistence import UnitOfWorkFactory

blueprint = Blueprint("knowledge_base", __name__, url_prefix="/v1")
blueprint.before_request(require_principal)
blueprint.before_request(requires_feature("voice"))

UPLOAD_ENDPOINT = "knowledge_base.upload_file"
# Room for the multipart boundaries and part headers around the document itself.
MULTIPART_FRAMING = 64 * 1024
FILE_PART = "file"


def body_limit(settings: Settings) -> int:
    return settings.knowledge_max_bytes + MULTIPART_FRAMING


# --- request and response models ---------------------------------------------------------------


class UploadIn(BaseModel):
    """One part named ``file``: a PDF, DOCX, plain text or Markdown document. Its type is decided
    by its content; the part's declared content type is ignored."""

    model_config = ConfigDict(extra="forbid")

    file: File


class KnowledgeFileOut(BaseModel):
    object: Literal["knowledge_file"]
    id: UUID
    agent_id: UUID
    name: str
    media_type: KnowledgeFileType
    size: int
    sha256: str
    status: KnowledgeFileStatus
    text_length: int
    text_truncated: bool
    provider: str | None
    provider_file_id: str | None
    sync_error: str | None
    created_at: datetime
    updated_at: datetime


class KnowledgeFileListOut(ListOut[KnowledgeFileOut]):
    """An agent's knowledge base files, newest first."""


class KnowledgeTextOut(BaseModel):
    object: Literal["knowledge_file_text"]
    id: UUID
    text: str
    text_length: int
    text_truncated: bool


def render_file(file: KnowledgeFile) -> dict[str, Any]:
    return {
        "object": "knowledge_file",
        "id": file.id,
        "agent_id": file.agent_id,
        "name": file.name,
        "media_type": file.media_type.value,
        "size": file.size_bytes,
        "sha256": file.sha256,
        "status": file.status.value,
        "text_length": file.text_length,
        "text_truncated": file.text_truncated,
        "provider": file.provider,
        "provider_file_id": file.provider_file_id,
        "sync_error": file.sync_error,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
    }


def _versioned(file: KnowledgeFile, status: int = 200) -> Response:
    headers = {"ETag": etag(file.version)}
    if status == 201:
        headers["Location"] = f"/v1/agents/{file.agent_id}/knowledge-base/{file.id}"
    return json_response(render_file(file), status=status, headers=headers)


async def _uploaded_part() -> tuple[str | None, bytes]:
    """The name and bytes of the one ``file`` part; anything else is refused, changing nothing."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(
            415,
            f"send the document as multipart/form-data with one part named {FILE_PART!r}",
            "unsupported_media_type",
        )
    try:
        form = await request.form
        files = await request.files
    except ValueError as error:  # a body that is not the multipart it says it is
        raise ApiError(400, "the multipart body could not be read", "malformed_multipart") from error
    parts = files.getlist(FILE_PART)
    others = sorted(set(form) | (set(files) - {FILE_PART}))
    if others:
        raise InvalidInput.single(others[0], f"unexpected part; send only {FILE_PART!r}")
    if len(parts) != 1:
        raise InvalidInput.single(FILE_PART, "send exactly one file part" if parts else "required")
    part = parts[0]
    return part.filename, part.read()


# --- routes --------------------------------------------------------------------------------------


@blueprint.post("/agents/<uuid:agent_id>/knowledge-base")
@tag(["agents"])
@document_request(UploadIn, source=DataSource.FORM_MULTIPART)
@document_response(KnowledgeFileOut, 201)
@idempotent
@inject
async def upload_file(
    agent_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    storage: FileStorage = Provide[Container.file_storage],
    extractor: TextExtractor = Provide[Container.text_extractor],
    clock: Clock = Provide[Container.clock],
    settings: Settings = Provide[Container.settings],
) -> Response:
    """Add a document to the agent's knowledge base: PDF, DOCX, plain text or Markdown, up to
    SWITCHBOARD_KNOWLEDGE_MAX_BYTES (413 above). Its type is decided by its content (415 when it
    is none of these, or not what its name says; 422 when empty or unreadable). Stored, its text
    extracted, then sent to the voice platform by the worker (``status`` processing, then ready
    or failed). Honours Idempotency-Key."""
    require(current_principal(), Action.AGENTS_WRITE)  # before the body is looked at
    filename, content = await _uploaded_part()
    command = knowledge.UploadFile(agent_id, filename, content, settings.knowledge_max_bytes)
    file = await knowledge.upload_file(command, *acting(units), storage, extractor, clock)
    return _versioned(file, 201)


@blueprint.get("/agents/<uuid:agent_id>/knowledge-base")
@tag(["agents"])
@validate_querystring(ListQuery)
@document_response(KnowledgeFileListOut)
@inject
async def list_files(
    agent_id: UUID, query_args: ListQuery, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The agent's knowledge base files, newest first."""
    page = await knowledge.list_files(agent_id, page_request(query_args), *acting(units))
    return list_response(page, render_file, encode_cursor)


@blueprint.get("/agents/<uuid:agent_id>/knowledge-base/<uuid:file_id>")
@tag(["agents"])
@document_response(KnowledgeFileOut)
@inject
async def get_file(
    agent_id: UUID, file_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """One file's metadata and where it stands at the voice platform, with its ETag."""
    return _versioned(await knowledge.get_file(agent_id, file_id, *acting(units)))


@blueprint.get("/agents/<uuid:agent_id>/knowledge-base/<uuid:file_id>/text")
@tag(["agents"])
@document_response(KnowledgeTextOut)
@inject
async def get_text(
    agent_id: UUID, file_id: UUID, units: UnitOfWorkFactory = Provide[Container.units]
) -> Response:
    """The text extracted from the file (at most a million characters: ``text_truncated``)."""
    file, text = await knowledge.get_text(agent_id, file_id, *acting(units))
    body = {
        "object": "knowledge_file_text",
        "id": file.id,
        "text": text,
        "text_length": file.text_length,
        "text_truncated": file.text_truncated,
    }
    return json_response(body)


@blueprint.post("/agents/<uuid:agent_id>/knowledge-base/<uuid:file_id>/sync")
@tag(["agents"])
@document_response(KnowledgeFileOut)
@idempotent
@inject
async def retry_sync(
    agent_id: UUID,
    file_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Send a failed file to the voice platform again (409 unless it failed)."""
    return _versioned(await knowledge.retry_sync(agent_id, file_id, *acting(units), clock))


@blueprint.delete("/agents/<uuid:agent_id>/knowledge-base/<uuid:file_id>")
@tag(["agents"])
@inject
async def delete_file(
    agent_id: UUID,
    file_id: UUID,
    units: UnitOfWorkFactory = Provide[Container.units],
    clock: Clock = Provide[Container.clock],
) -> Response:
    """Remove the file everywhere: here at once; the stored bytes and the voice platform's copy
    through the worker, which also re-syncs the agent. Honours If-Match."""
    command = knowledge.DeleteFile(agent_id, file_id, if_match_version())
    await knowledge.delete_file(command, *acting(units), clock)
    return Response(status=204)
