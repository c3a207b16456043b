"""Agents' knowledge base: documents an agent may consult during a call.

A document's type is decided by its content, never by its name or the type the client declared:
a PDF by its signature, a DOCX as a ZIP archive holding ``word/document.xml``, plain text and
Markdown as valid UTF-8 without NUL bytes (the name's extension tells Markdown from plain text,
and nothing else). A name that claims one type for content of another is refused, naming what
the content is.

An upload is kept in file storage (ports/files.py) under a key of its tenant, agent and id, with
its text extracted (bounded) beside the row, then reaches the voice platform through the outbox:
``knowledge.upload_file`` sends it and, once the platform has it, re-syncs the agent so the
platform's agent lists it. Deleting removes the row at once and leaves the stored object and the
platform's copy to ``knowledge.delete_file``, re-syncing the agent as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import unicodedata
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.calls.agents import AGENT_NOT_FOUND, agent_sync_message
from switchboard.core.errors import Conflict, DomainError, NotFound, PreconditionFailed
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import ERROR_MAX, new_outbox_message
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.files import FileStorage, TextExtractor
    from switchboard.ports.persistence import UnitOfWork

UPLOAD_FILE = "knowledge.upload_file"
DELETE_FILE = "knowledge.delete_file"

FILE_NOT_FOUND = "no knowledge base file with this id"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
NAME_MAX = 255
# The extracted text kept per file, in characters: enough for a long manual, bounded for storage.
TEXT_MAX_CHARS = 1_000_000
FILES_PER_AGENT_MAX = 100
# A DOCX is a ZIP archive: its entries are read only up to their declared sizes (Python's zipfile
# never inflates past them), so bounding the declared sizes bounds what reading it can cost.
DOCX_UNPACKED_MAX = 64 * 1024 * 1024
DOCX_ENTRIES_MAX = 2_000
DOCX_MAIN_PART = "word/document.xml"
DOCX_CONTENT_TYPES = "[Content_Types].xml"


class KnowledgeFileType(StrEnum):
    """The documents an agent's knowledge base takes, by media type."""

    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self]


_EXTENSIONS = {
    KnowledgeFileType.PDF: ".pdf",
    KnowledgeFileType.DOCX: ".docx",
    KnowledgeFileType.TEXT: ".txt",
    KnowledgeFileType.MARKDOWN: ".md",
}

# What a name's extension claims; other extensions claim nothing and the content alone decides.
EXTENSION_CLAIMS: dict[str, KnowledgeFileType] = {
    ".pdf": KnowledgeFileType.PDF,
    ".docx": KnowledgeFileType.DOCX,
    ".txt": KnowledgeFileType.TEXT,
    ".text": KnowledgeFileType.TEXT,
    ".md": KnowledgeFileType.MARKDOWN,
    ".markdown": KnowledgeFileType.MARKDOWN,
}
TEXT_TYPES = frozenset({KnowledgeFileType.TEXT, KnowledgeFileType.MARKDOWN})

ZIP = "application/zip"
OCTET_STREAM = "application/octet-stream"
# Signatures of common files that are not documents, only to name them in a refusal.
OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc, .xls, .msi
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\x00asm", "application/wasm"),
)


class KnowledgeFileStatus(StrEnum):
    PROCESSING = "processing"  # stored; on its way to the voice platform
    READY = "ready"  # the platform has it, and the agent lists it
    FAILED = "failed"  # the platform refused it, or none is connected: ``sync_error`` says why


# --- errors --------------------------------------------------------------------------------------


class UnsupportedFileType(DomainError):
    """The content is not a document the knowledge base takes, or not the type its name says."""

    code = "unsupported_file_type"

    def __init__(self, detail: str, detected_type: str) -> None:
        super().__init__(detail)
        self.detected_type = detected_type
        self.problem_fields = {"detected_type": detected_type}


class EmptyFile(DomainError):
    code = "empty_file"


class UnreadableDocument(DomainError):
    """A document of a type the knowledge base takes whose content cannot be read."""

    code = "unreadable_document"


class FileTooLarge(DomainError):
    code = "file_too_large"

    def __init__(self, detail: str, limit: int) -> None:
        super().__init__(detail)
        self.problem_fields = {"max_bytes": limit}


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnowledgeFile:
    """One document of an agent's knowledge base (its text is kept apart: see the repository).

    ``provider``, ``integration_id`` and ``provider_file_id`` say where the platform's copy is,
    once it has one; ``version`` is the row's concurrency version (the ETag).
    """

    id: UUID
    tenant_id: UUID
    agent_id: UUID
    name: str
    media_type: KnowledgeFileType
    size_bytes: int
    sha256: str
    storage_key: str
    status: KnowledgeFileStatus
    text_length: int
    text_truncated: bool
    provider: str | None
    integration_id: UUID | None
    provider_file_id: str | None
    sync_error: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True)
class InspectedFile:
    """What an upload's content turned out to be."""

    name: str
    media_type: KnowledgeFileType
    size_bytes: int
    sha256: str


def storage_key(tenant_id: UUID, agent_id: UUID, file_id: UUID) -> str:
    return f"tenants/{tenant_id}/agents/{agent_id}/knowledge/{file_id}"


def clean_name(filename: str | None, media_type: KnowledgeFileType) -> str:
    """The file's own name, without any directories a client put before it or control
    characters, at most ``NAME_MAX`` characters; ``document.<ext>`` when nothing is left."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not printable.strip("."):
        return "document" + media_type.extension
    return printable[:NAME_MAX]


def _extension(filename: str | None) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def detect_type(content: bytes) -> str:
    """The media type the content shows: one of ``KnowledgeFileType``, else what it is.

    Raises ``EmptyFile``, and ``UnreadableDocument`` for a ZIP archive that cannot be read or
    that would unpack to more than ``DOCX_UNPACKED_MAX`` bytes.
    """
    if not content:
        raise EmptyFile("the file is empty")
    if content.startswith(b"%PDF-"):
        return KnowledgeFileType.PDF.value
    if content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(content)
    if b"\x00" not in content:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return KnowledgeFileType.TEXT.value
    return next((kind for signature, kind in OTHER_SIGNATURES if content.startswith(signature)), OCTET_STREAM)


def _zip_type(content: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise UnreadableDocument("the file is a ZIP archive that cannot be read") from error
    names = {entry.filename for entry in entries}
    if DOCX_MAIN_PART not in names or DOCX_CONTENT_TYPES not in names:
        return ZIP
    if len(entries) > DOCX_ENTRIES_MAX:
        raise UnreadableDocument(f"the document holds more than {DOCX_ENTRIES_MAX} parts")
    if sum(entry.file_size for entry in entries) > DOCX_UNPACKED_MAX:
        raise UnreadableDocument(
            f"the document would unpack to more than {DOCX_UNPACKED_MAX // (1024 * 1024)} MiB"
        )
    return KnowledgeFileType.DOCX.value


def inspect_upload(filename: str | None, content: bytes, max_bytes: int) -> InspectedFile:
    """Decide what an upload is, by its content; refuse what the knowledge base does not take."""
    if len(content) > max_bytes:
        raise FileTooLarge(f"the file is larger than {max_bytes} bytes", max_bytes)
    detected = detect_type(content)
    claimed = EXTENSION_CLAIMS.get(_extension(filename))
    if detected == KnowledgeFileType.TEXT:
        media_type = claimed if claimed in TEXT_TYPES else KnowledgeFileType.TEXT
        mismatch = claimed is not None and claimed not in TEXT_TYPES
    elif detected in (KnowledgeFileType.PDF, KnowledgeFileType.DOCX):
        media_type = KnowledgeFileType(detected)
        mismatch = claimed is not None and claimed != media_type
    else:
        raise UnsupportedFileType(
            f"the file's content is {detected}; upload a PDF, DOCX, plain text or Markdown file", detected
        )
    if mismatch:
        assert claimed is not None
        raise UnsupportedFileType(
            f"the file's name says {claimed.value} but its content is {detected}", detected
        )
    return InspectedFile(
        name=clean_name(filename, media_type),
        media_type=media_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def bounded_text(text: str) -> tuple[str, bool]:
    """The text as kept: NUL characters dropped (storage refuses them), at most
    ``TEXT_MAX_CHARS``; and whether it was cut (extractors return one more character than that
    when there is more)."""
    text = text.replace("\x00", "")
    return (text[:TEXT_MAX_CHARS], True) if len(text) > TEXT_MAX_CHARS else (text, False)


# --- use cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadFile:
    agent_id: UUID
    filename: str | None
    content: bytes
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class DeleteFile:
    agent_id: UUID
    file_id: UUID
    if_match: int | None = None


async def upload_file(
    cmd: UploadFile,
    principal: Principal,
    uow: UnitOfWork,
    storage: FileStorage,
    extractor: TextExtractor,
    clock: Clock,
) -> KnowledgeFile:
    """Check the document, extract its text, store it, and record it with the job that sends it
    to the voice platform. Nothing is kept when any step refuses it."""
    require(principal, Action.AGENTS_WRITE)
    # Hashing and unpacking megabytes is CPU work: off the event loop.
    inspected = await asyncio.to_thread(inspect_upload, cmd.filename, cmd.content, cmd.max_bytes)
    extracted = await extractor.extract(cmd.content, inspected.media_type, TEXT_MAX_CHARS)
    text, truncated = bounded_text(extracted)
    file_id = uuid4()
    key = storage_key(principal.tenant_id, cmd.agent_id, file_id)
    await storage.put(key, cmd.content, inspected.media_type.value)
    try:
        return await _record_upload(cmd.agent_id, file_id, key, inspected, text, truncated, uow, clock)
    except BaseException:
        await storage.delete(key)  # the row never was: neither is the object
        raise


async def _record_upload(
    agent_id: UUID,
    file_id: UUID,
    key: str,
    inspected: InspectedFile,
    text: str,
    truncated: bool,
    uow: UnitOfWork,
    clock: Clock,
) -> KnowledgeFile:
    async with uow:
        # The agent's lock makes concurrent uploads to it take turns on the checks below.
        agent = await uow.voice_agents.get(agent_id, for_update=True)
        if agent is None:
            raise NotFound(AGENT_NOT_FOUND)
        same = await uow.knowledge_files.find_by_sha256(agent_id, inspected.sha256)
        if same is not None:
            raise Conflict(f"this agent already has this document, as {same.id}", code="duplicate_file")
        if await uow.knowledge_files.count_for_agent(agent_id) >= FILES_PER_AGENT_MAX:
            raise Conflict(
                f"an agent holds at most {FILES_PER_AGENT_MAX} knowledge base files", code="too_many_files"
            )
        now = clock.now()
        file = KnowledgeFile(
            id=file_id,
            tenant_id=agent.tenant_id,
            agent_id=agent_id,
            name=inspected.name,
            media_type=inspected.media_type,
            size_bytes=inspected.size_bytes,
            sha256=inspected.sha256,
            storage_key=key,
            status=KnowledgeFileStatus.PROCESSING,
            text_length=len(text),
            text_truncated=truncated,
            provider=None,
            integration_id=None,
            provider_file_id=None,
            sync_error=None,
            created_at=now,
            updated_at=now,
        )
        await uow.knowledge_files.add(file, text)
        await uow.outbox.add(new_outbox_message(file.tenant_id, UPLOAD_FILE, {"file_id": str(file.id)}, now))
        await uow.audit.record("knowledge_file.uploaded", "knowledge_file", str(file.id), _fields(file))
        await uow.commit()
    return file


async def list_files(
    agent_id: UUID, page: PageRequest, principal: Principal, uow: UnitOfWork
) -> Page[KnowledgeFile]:
    """The agent's files, newest first."""
    require(principal, Action.AGENTS_READ)
    async with uow:
        if await uow.voice_agents.get(agent_id) is None:
            raise NotFound(AGENT_NOT_FOUND)
        return await uow.knowledge_files.list(agent_id, page)


async def get_file(agent_id: UUID, file_id: UUID, principal: Principal, uow: UnitOfWork) -> KnowledgeFile:
    require(principal, Action.AGENTS_READ)
    async with uow:
        return await _file_of(uow, agent_id, file_id)


async def get_text(
    agent_id: UUID, file_id: UUID, principal: Principal, uow: UnitOfWork
) -> tuple[KnowledgeFile, str]:
    """The file and the text extracted from it."""
    require(principal, Action.AGENTS_READ)
    async with uow:
        file = await _file_of(uow, agent_id, file_id)
        return file, await uow.knowledge_files.text(file_id) or ""


async def delete_file(cmd: DeleteFile, principal: Principal, uow: UnitOfWork, clock: Clock) -> None:
    """Remove the file: its row now; its stored object and the platform's copy by the outbox,
    with a re-sync of the agent when the platform had it."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        file = await _file_of(uow, cmd.agent_id, cmd.file_id, for_update=True)
        if cmd.if_match is not None and cmd.if_match != file.version:
            raise PreconditionFailed("the file changed since it was read")
        await _forget(uow, file, clock.now(), resync=True)
        await uow.audit.record("knowledge_file.deleted", "knowledge_file", str(file.id), _fields(file))
        await uow.commit()


async def remove_agent_files(uow: UnitOfWork, agent_id: UUID, now: datetime) -> int:
    """Within the caller's open unit of work (deleting the agent): forget every file of the agent
    as ``delete_file`` does, without re-syncing the agent that is going. How many there were."""
    files = await uow.knowledge_files.for_agent(agent_id)
    for file in files:
        await _forget(uow, file, now, resync=False)
    return len(files)


async def _forget(uow: UnitOfWork, file: KnowledgeFile, now: datetime, *, resync: bool) -> None:
    await uow.knowledge_files.delete(file.id)
    payload: dict[str, Any] = {
        "file_id": str(file.id),
        "storage_key": file.storage_key,
        "provider": file.provider,
        "integration_id": str(file.integration_id) if file.integration_id else None,
        "provider_file_id": file.provider_file_id,
    }
    await uow.outbox.add(new_outbox_message(file.tenant_id, DELETE_FILE, payload, now))
    if resync and file.provider_file_id is not None:
        await uow.outbox.add(agent_sync_message(file.tenant_id, file.agent_id, now))


async def _file_of(
    uow: UnitOfWork, agent_id: UUID, file_id: UUID, *, for_update: bool = False
) -> KnowledgeFile:
    file = await uow.knowledge_files.get(file_id, for_update=for_update)
    if file is None or file.agent_id != agent_id:
        if await uow.voice_agents.get(agent_id) is None:
            raise NotFound(AGENT_NOT_FOUND)
        raise NotFound(FILE_NOT_FOUND)
    return file


def _fields(file: KnowledgeFile) -> dict[str, Any]:
    return {
        "agent_id": str(file.agent_id),
        "name": file.name,
        "media_type": file.media_type.value,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
    }


# --- the worker's side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPlan:
    """A file still to send, and the voice integration it goes to (None: none is connected)."""

    file: KnowledgeFile
    provider: str | None
    integration_id: UUID | None


async def file_to_upload(file_id: UUID, uow: UnitOfWork) -> UploadPlan | None:
    """The file if it still waits for the platform; None when it is gone or already there."""
    async with uow:
        file = await uow.knowledge_files.get(file_id)
        if file is None or file.status != KnowledgeFileStatus.PROCESSING:
            return None
        integration = await uow.integrations.enabled_for(Capability.VOICE)
    if integration is None:
        return UploadPlan(file, None, None)
    return UploadPlan(file, integration.provider, integration.id)


async def note_uploaded(plan: UploadPlan, provider_file_id: str, uow: UnitOfWork, clock: Clock) -> bool:
    """Record the platform's id of the file and re-sync its agent so the platform's agent lists
    it. False when the file was deleted meanwhile: the caller then removes the platform's copy."""
    async with uow:
        file = await uow.knowledge_files.get(plan.file.id, for_update=True)
        if file is None:
            return False
        now = clock.now()
        ready = replace(
            file,
            status=KnowledgeFileStatus.READY,
            provider=plan.provider,
            integration_id=plan.integration_id,
            provider_file_id=provider_file_id,
            sync_error=None,
            updated_at=now,
            version=file.version + 1,
        )
        await uow.knowledge_files.update(ready, file.version)
        await uow.outbox.add(agent_sync_message(file.tenant_id, file.agent_id, now))
        await uow.commit()
    return True


async def note_upload_failed(file_id: UUID, reason: str, uow: UnitOfWork, clock: Clock) -> None:
    async with uow:
        file = await uow.knowledge_files.get(file_id, for_update=True)
        if file is None or file.status != KnowledgeFileStatus.PROCESSING:
            return
        failed = replace(
            file,
            status=KnowledgeFileStatus.FAILED,
            sync_error=reason[:ERROR_MAX],
            updated_at=clock.now(),
            version=file.version + 1,
        )
        await uow.knowledge_files.update(failed, file.version)
        await uow.commit()


async def retry_sync(
    agent_id: UUID, file_id: UUID, principal: Principal, uow: UnitOfWork, clock: Clock
) -> KnowledgeFile:
    """Send a failed file to the platform again (after connecting one, say)."""
    require(principal, Action.AGENTS_WRITE)
    async with uow:
        file = await _file_of(uow, agent_id, file_id, for_update=True)
        if file.status != KnowledgeFileStatus.FAILED:
            raise Conflict(f"the file is {file.status}, not failed", code="file_not_failed")
        now = clock.now()
        again = replace(
            file,
            status=KnowledgeFileStatus.PROCESSING,
            sync_error=None,
            updated_at=now,
            version=file.version + 1,
        )
        await uow.knowledge_files.update(again, file.version)
        await uow.outbox.add(new_outbox_message(file.tenant_id, UPLOAD_FILE, {"file_id": str(file.id)}, now))
        await uow.audit.record("knowledge_file.sync_retried", "knowledge_file", str(file.id), {})
        await uow.commit()
    return again
