"""Agents' knowledge base over HTTP, with the worker syncing to the fake voice platform: uploads of
real PDF, DOCX, text and Markdown files, typed by their content; the size limits (this route's
own, and every other route's 1 MiB); list, metadata, text, delete; the upload and the delete
reaching the platform and the platform's agent; failures and retries; other tenants see nothing.

Files are kept in a local directory of the test's own (the default adapter), swapped in for the
module."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from quart.datastructures import FileStorage
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from switchboard.adapters.files.local import LocalFileStorage
from switchboard.core.calls.knowledge import DOCX_UNPACKED_MAX
from switchboard.entrypoints.http.blueprints.knowledge_base import (
    KnowledgeFileListOut,
    KnowledgeFileOut,
    KnowledgeTextOut,
)
from switchboard.ports.providers import ProviderError
from tests.e2e.admin_helpers import add_member
from tests.e2e.helpers import conforms, error_fields, expect_problem, sign_up
from tests.e2e.payment_helpers import drain, fake_record, ok
from tests.e2e.test_voice_agents import Office, account, create_agent, open_office, publish, synced
from tests.knowledge_samples import docx_bytes, pdf_bytes, with_declared_size, zip_bytes

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MiB = 1024 * 1024
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(500)


@pytest.fixture(scope="module")
def files_root(container: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("knowledge-files")
    container.file_storage.override(providers.Object(LocalFileStorage(root)))
    try:
        yield root
    finally:
        container.file_storage.reset_last_overriding()


def stored_files(root: Path, tenant_id: str) -> list[Path]:
    return sorted(p for p in (root / "tenants" / tenant_id).rglob("*") if p.is_file())


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, filename, content) parts; a filename of None makes a
    plain field."""
    values: MultiDict[str, Any] = MultiDict()
    for name, filename, content in parts:
        if filename is None:
            values.add(name, content.decode())
        else:
            values.add(name, FileStorage(stream=io.BytesIO(content), filename=filename))
    boundary, body = encode_multipart(values, boundary=f"----sb{uuid.uuid4().hex}")
    return body, f"multipart/form-data; boundary={boundary}"


async def upload(
    client: Any,
    office: Office,
    agent_id: str,
    filename: str | None,
    content: bytes,
    *,
    declared_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
    who: Any = None,
) -> Any:
    body, content_type = multipart([("file", filename, content)])
    auth = (who or office.owner).auth
    return await client.post(
        f"/v1/agents/{agent_id}/knowledge-base",
        data=body,
        headers=auth | {"Content-Type": content_type} | (headers or {}),
    )


async def uploaded(
    client: Any, office: Office, agent_id: str, filename: str, content: bytes
) -> dict[str, Any]:
    response = await upload(client, office, agent_id, filename, content)
    body = await ok(response, 201)
    conforms(KnowledgeFileOut, body)
    assert response.headers["Location"] == f"/v1/agents/{agent_id}/knowledge-base/{body['id']}"
    assert response.headers["ETag"]
    return body


async def file_of(client: Any, office: Office, agent_id: str, file_id: str) -> dict[str, Any]:
    body = await ok(
        await client.get(f"/v1/agents/{agent_id}/knowledge-base/{file_id}", headers=office.owner.auth)
    )
    conforms(KnowledgeFileOut, body)
    return body


async def files_of(client: Any, office: Office, agent_id: str, **query: Any) -> dict[str, Any]:
    response = await client.get(
        f"/v1/agents/{agent_id}/knowledge-base", query_string=query, headers=office.owner.auth
    )
    body = await ok(response)
    conforms(KnowledgeFileListOut, body)
    return body


async def settled(client: Any, container: Any, office: Office, agent_id: str, file_id: str) -> dict[str, Any]:
    """Run the worker until the file is ready or failed; the file then."""

    async def done() -> bool:
        return (await file_of(client, office, agent_id, file_id))["status"] != "processing"

    await drain(container, done)
    return await file_of(client, office, agent_id, file_id)


async def published_agent(client: Any, container: Any, office: Office) -> dict[str, Any]:
    agent, _ = await create_agent(client, office)
    await publish(client, office, agent["id"])
    assert (await synced(client, container, office, agent["id"]))["sync_status"] == "synced"
    return agent


# --- uploading -------------------------------------------------------------------------------------


async def test_a_pdf_is_stored_with_its_text_sent_to_the_platform_and_listed_by_the_platforms_agent(
    client, container, files_root
):
    office = await open_office(client)
    agent = await published_agent(client, container, office)
    content = pdf_bytes("Opening hours: nine to five, Monday to Friday.")

    body = await uploaded(client, office, agent["id"], "hours.pdf", content)

    assert body["agent_id"] == agent["id"]
    assert body["name"] == "hours.pdf"
    assert body["media_type"] == "application/pdf"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["status"] == "processing"
    assert body["text_length"] > 0
    assert body["provider_file_id"] is None
    [stored] = stored_files(files_root, office.owner.tenant_id)
    assert stored.read_bytes() == content
    assert stored.name == body["id"]

    ready = await settled(client, container, office, agent["id"], body["id"])
    assert ready["status"] == "ready"
    assert ready["provider"] == "fake_voice"
    platform = account(container, office)
    sent = platform.files[ready["provider_file_id"]]
    assert (sent.name, sent.media_type, sent.content) == ("hours.pdf", "application/pdf", content)

    # The platform's agent is re-synced to list the file.
    resynced = await synced(client, container, office, agent["id"])
    await drain(container)
    definition = platform.agents[resynced["provider_agent_id"]]
    assert definition.knowledge_file_ids == (ready["provider_file_id"],)


async def test_the_text_of_a_docx_is_served_and_the_agent_shows_its_files(client, container, files_root):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    content = docx_bytes("Cancellation policy", "Cancel up to a day ahead for free.", table=[["Late", "20"]])

    body = await uploaded(client, office, agent["id"], "policy.docx", content)
    response = await client.get(
        f"/v1/agents/{agent['id']}/knowledge-base/{body['id']}/text", headers=office.owner.auth
    )

    text = await ok(response)
    conforms(KnowledgeTextOut, text)
    assert text["text"] == "Cancellation policy\n\nCancel up to a day ahead for free.\n\nLate | 20"
    assert text["text_length"] == len(text["text"]) == body["text_length"]
    assert text["text_truncated"] is False
    assert body["media_type"] == DOCX
    shown = await ok(await client.get(f"/v1/agents/{agent['id']}", headers=office.owner.auth))
    assert [f["id"] for f in shown["knowledge_base"]] == [body["id"]]


async def test_text_is_plain_unless_named_markdown_and_the_list_is_newest_first_page_by_page(
    client, container, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    first = await uploaded(client, office, agent["id"], "faq.md", b"# FAQ\n\nWe open at nine.\n")
    second = await uploaded(client, office, agent["id"], "notes", "Parking: behind the shop €".encode())
    third = await uploaded(client, office, agent["id"], "prices.txt", b"Check-up: 50")

    page = await files_of(client, office, agent["id"], limit=2)
    rest = await files_of(client, office, agent["id"], limit=2, cursor=page["next_cursor"])

    assert [f["id"] for f in page["data"] + rest["data"]] == [third["id"], second["id"], first["id"]]
    assert rest["has_more"] is False
    assert [first["media_type"], second["media_type"], third["media_type"]] == [
        "text/markdown",
        "text/plain",
        "text/plain",
    ]


async def test_an_upload_over_a_mebibyte_is_taken_here_while_every_other_route_keeps_its_limit(
    client, container, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    big_text = ("The quick brown fox. " * 100_000).encode()  # about 2 MiB

    body = await uploaded(client, office, agent["id"], "big.txt", big_text)
    elsewhere = await client.post("/v1/customers", json={"name": "x" * (2 * MiB)}, headers=office.owner.auth)

    assert body["size"] == len(big_text)
    await expect_problem(elsewhere, 413, "payload_too_large")


async def test_a_file_over_the_configured_limit_is_413_and_a_body_far_over_it_too(
    client, container, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    limit = container.settings().knowledge_max_bytes

    just_over = await upload(client, office, agent["id"], "big.txt", b"a" * (limit + 1))
    far_over = await upload(client, office, agent["id"], "big.txt", b"a" * (limit + MiB))

    problem = await expect_problem(just_over, 413, "file_too_large")
    assert problem["max_bytes"] == limit
    await expect_problem(far_over, 413, "payload_too_large")
    assert (await files_of(client, office, agent["id"]))["data"] == []
    assert stored_files(files_root, office.owner.tenant_id) == []


@pytest.mark.parametrize(
    ("filename", "content", "detected"),
    [
        ("contract.pdf", b"This is only text, whatever the name says.", "text/plain"),
        ("setup.exe", WINDOWS_PROGRAM, "application/x-msdownload"),
        ("manual.pdf", WINDOWS_PROGRAM, "application/x-msdownload"),
        ("archive.docx", zip_bytes({"notes.txt": b"hello"}), "application/zip"),
        ("manual.docx", pdf_bytes("x"), "application/pdf"),
    ],
)
async def test_content_that_is_not_what_is_taken_or_not_what_its_name_says_is_415_naming_it(
    client, container, files_root, filename, content, detected
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)

    response = await upload(client, office, agent["id"], filename, content, declared_type="application/pdf")

    problem = await expect_problem(response, 415, "unsupported_file_type")
    assert problem["detected_type"] == detected
    assert detected in problem["detail"]
    assert (await files_of(client, office, agent["id"]))["data"] == []
    assert stored_files(files_root, office.owner.tenant_id) == []


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("empty.txt", b"", "empty_file"),
        ("broken.pdf", b"%PDF-1.7\nnothing a reader could parse\n", "unreadable_document"),
        (
            "bomb.docx",
            with_declared_size(docx_bytes("tiny"), "word/document.xml", DOCX_UNPACKED_MAX + 1),
            "unreadable_document",
        ),
    ],
)
async def test_an_empty_or_unreadable_document_is_422_and_nothing_is_kept(
    client, container, files_root, filename, content, code
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)

    response = await upload(client, office, agent["id"], filename, content)

    await expect_problem(response, 422, code)
    assert (await files_of(client, office, agent["id"]))["data"] == []
    assert stored_files(files_root, office.owner.tenant_id) == []


async def test_a_body_that_is_not_one_file_part_is_refused(client, container, files_root):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    path = f"/v1/agents/{agent['id']}/knowledge-base"

    as_json = await client.post(path, json={"file": "hours.txt"}, headers=office.owner.auth)
    two_files, two_type = multipart([("file", "a.txt", b"a"), ("file", "b.txt", b"b")])
    no_file, no_type = multipart([("document", "a.txt", b"a")])
    extra, extra_type = multipart([("file", "a.txt", b"a"), ("agent_id", None, b"x")])

    await expect_problem(as_json, 415, "unsupported_media_type")
    for body, content_type, field in ((two_files, two_type, "file"), (no_file, no_type, "document")):
        response = await client.post(
            path, data=body, headers=office.owner.auth | {"Content-Type": content_type}
        )
        assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    response = await client.post(path, data=extra, headers=office.owner.auth | {"Content-Type": extra_type})
    assert "agent_id" in error_fields(await expect_problem(response, 400, "validation_error"))
    assert (await files_of(client, office, agent["id"]))["data"] == []


async def test_the_same_document_twice_is_a_conflict_and_a_retried_upload_is_the_same_answer(
    client, container, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    content = b"Check-up: 50"
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}

    first = await upload(client, office, agent["id"], "prices.txt", content, headers=key)
    # A client's retry carries the same parts under a new multipart boundary.
    retry = await upload(client, office, agent["id"], "prices.txt", content, headers=key)
    other_file = await upload(client, office, agent["id"], "prices.txt", b"Check-up: 55", headers=key)
    again = await upload(client, office, agent["id"], "prices-copy.txt", content)

    assert first.status_code == retry.status_code == 201
    assert await retry.get_json() == await first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    await expect_problem(other_file, 422, "idempotency_key_reused")
    problem = await expect_problem(again, 409, "duplicate_file")
    assert (await first.get_json())["id"] in problem["detail"]
    assert len((await files_of(client, office, agent["id"]))["data"]) == 1


# --- deleting --------------------------------------------------------------------------------------


async def test_delete_removes_the_file_here_in_storage_and_at_the_platform_and_resyncs_the_agent(
    client, container, files_root
):
    office = await open_office(client)
    agent = await published_agent(client, container, office)
    kept = await uploaded(client, office, agent["id"], "kept.txt", b"Kept: yes")
    gone = await uploaded(client, office, agent["id"], "gone.txt", b"Kept: no")
    kept = await settled(client, container, office, agent["id"], kept["id"])
    gone = await settled(client, container, office, agent["id"], gone["id"])
    path = f"/v1/agents/{agent['id']}/knowledge-base/{gone['id']}"
    etag = (await client.get(path, headers=office.owner.auth)).headers["ETag"]

    stale = await client.delete(path, headers=office.owner.auth | {"If-Match": '"999"'})
    deleted = await client.delete(path, headers=office.owner.auth | {"If-Match": etag})

    await expect_problem(stale, 412)
    assert deleted.status_code == 204
    await expect_problem(await client.get(path, headers=office.owner.auth), 404, "not_found")
    await expect_problem(await client.delete(path, headers=office.owner.auth), 404)
    await drain(container)
    platform = account(container, office)
    assert gone["provider_file_id"] in platform.deleted_files
    assert set(platform.files) >= {kept["provider_file_id"]}
    assert [p.name for p in stored_files(files_root, office.owner.tenant_id)] == [kept["id"]]
    resynced = await synced(client, container, office, agent["id"])
    assert platform.agents[resynced["provider_agent_id"]].knowledge_file_ids == (kept["provider_file_id"],)


async def test_deleting_the_agent_removes_its_files_everywhere(client, container, files_root):
    office = await open_office(client)
    agent = await published_agent(client, container, office)
    first = await uploaded(client, office, agent["id"], "one.txt", b"One")
    second = await uploaded(client, office, agent["id"], "two.txt", b"Two")
    first = await settled(client, container, office, agent["id"], first["id"])
    await settled(client, container, office, agent["id"], second["id"])
    second = await file_of(client, office, agent["id"], second["id"])

    response = await client.delete(f"/v1/agents/{agent['id']}", headers=office.owner.auth)
    assert response.status_code == 204
    await drain(container)

    platform = account(container, office)
    assert {first["provider_file_id"], second["provider_file_id"]} <= set(platform.deleted_files)
    assert stored_files(files_root, office.owner.tenant_id) == []
    await expect_problem(
        await client.get(f"/v1/agents/{agent['id']}/knowledge-base", headers=office.owner.auth), 404
    )


# --- the platform's side ---------------------------------------------------------------------------


async def test_without_a_voice_platform_the_file_fails_and_is_sent_again_once_one_is_connected(
    client, container, files_root
):
    office = await open_office(client, connect=False)
    agent, _ = await create_agent(client, office)
    body = await uploaded(client, office, agent["id"], "hours.txt", b"Nine to five")

    failed = await settled(client, container, office, agent["id"], body["id"])
    office.label = f"late-{uuid.uuid4().hex[:8]}"
    config = {
        "label": office.label,
        "api_key": "fv_test_" + uuid.uuid4().hex,
        "webhook_secret": "whsec_" + base64.b64encode(os.urandom(24)).decode(),
    }
    connected = await client.post(
        "/v1/integrations", json={"provider": "fake_voice", "config": config}, headers=office.owner.auth
    )
    assert connected.status_code == 201, await connected.get_data()
    retried = await client.post(
        f"/v1/agents/{agent['id']}/knowledge-base/{body['id']}/sync", headers=office.owner.auth
    )
    again = await ok(retried)
    ready = await settled(client, container, office, agent["id"], body["id"])

    assert failed["status"] == "failed"
    assert failed["sync_error"] == "no voice provider is connected"
    assert again["status"] == "processing"
    assert ready["status"] == "ready"
    assert account(container, office).files[ready["provider_file_id"]].content == b"Nine to five"


async def test_a_platform_that_fails_for_a_while_gets_the_file_on_a_retry_and_a_refusal_fails_it(
    client, container, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    record = fake_record(container).voice
    record.failures.append(ProviderError("platform down", retryable=True, status=503))

    flaky = await uploaded(client, office, agent["id"], "flaky.txt", b"Flaky")
    ready = await settled(client, container, office, agent["id"], flaky["id"])
    record.failures.append(ProviderError("file type not allowed", retryable=False, status=400))
    refused = await uploaded(client, office, agent["id"], "refused.txt", b"Refused")
    failed = await settled(client, container, office, agent["id"], refused["id"])
    not_failed = await client.post(
        f"/v1/agents/{agent['id']}/knowledge-base/{flaky['id']}/sync", headers=office.owner.auth
    )

    assert ready["status"] == "ready"
    assert failed["status"] == "failed"
    assert "file type not allowed" in failed["sync_error"]
    await expect_problem(not_failed, 409, "file_not_failed")


# --- who may ---------------------------------------------------------------------------------------


async def test_another_tenant_sees_none_of_an_agents_files(client, container, files_root):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    body = await uploaded(client, office, agent["id"], "private.txt", b"Our secret prices")
    stranger = Office(await sign_up(client, tenant_name="Someone Else"))
    base = f"/v1/agents/{agent['id']}/knowledge-base"

    for response in (
        await client.get(base, headers=stranger.owner.auth),
        await client.get(f"{base}/{body['id']}", headers=stranger.owner.auth),
        await client.get(f"{base}/{body['id']}/text", headers=stranger.owner.auth),
        await client.post(f"{base}/{body['id']}/sync", headers=stranger.owner.auth),
        await client.delete(f"{base}/{body['id']}", headers=stranger.owner.auth),
        await upload(client, stranger, agent["id"], "mine.txt", b"Planted"),
    ):
        await expect_problem(response, 404, "not_found")
    assert [f["id"] for f in (await files_of(client, office, agent["id"]))["data"]] == [body["id"]]
    assert stored_files(files_root, stranger.owner.tenant_id) == []


async def test_a_member_reads_the_knowledge_base_but_only_managers_change_it(
    client, container, database, files_root
):
    office = await open_office(client)
    agent, _ = await create_agent(client, office)
    body = await uploaded(client, office, agent["id"], "hours.txt", b"Nine to five")
    member = await add_member(client, database, office.owner, "member")

    listed = await client.get(f"/v1/agents/{agent['id']}/knowledge-base", headers=member.auth)
    refused = await upload(client, office, agent["id"], "more.txt", b"More", who=member)
    kept = await client.delete(f"/v1/agents/{agent['id']}/knowledge-base/{body['id']}", headers=member.auth)

    assert [f["id"] for f in (await ok(listed))["data"]] == [body["id"]]
    await expect_problem(refused, 403, "forbidden")
    await expect_problem(kept, 403, "forbidden")
