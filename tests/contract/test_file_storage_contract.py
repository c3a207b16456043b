"""The file storage port, the same on every adapter: in memory, in a local directory, and in an
S3-compatible bucket (moto's S3 server, started on loopback by these tests, reached through boto3
over real HTTP)."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from switchboard.adapters.files.local import LocalFileStorage
from switchboard.adapters.files.memory import MemoryFileStorage
from switchboard.adapters.files.s3 import S3FileStorage
from switchboard.ports.files import FileStorage, StoredFileMissing

REGION = "eu-west-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"  # moto accepts any
PDF = "application/pdf"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def new_bucket(endpoint: str) -> str:
    bucket = f"switchboard-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return bucket


def s3_storage(endpoint: str, bucket: str) -> S3FileStorage:
    return S3FileStorage(
        bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


@pytest.fixture(params=["memory", "local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FileStorage:
    if request.param == "memory":
        return MemoryFileStorage()
    if request.param == "local":
        return LocalFileStorage(tmp_path / "files")
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_storage(endpoint, new_bucket(endpoint))


def a_key(name: str = "") -> str:
    return f"tenants/{uuid.uuid4()}/agents/{uuid.uuid4()}/knowledge/{name or uuid.uuid4()}"


EVERY_BYTE = bytes(range(256)) * 64


async def test_what_is_put_is_got_back_byte_for_byte(storage: FileStorage):
    key = a_key()

    await storage.put(key, EVERY_BYTE, PDF)

    assert await storage.get(key) == EVERY_BYTE


async def test_a_second_put_replaces_the_first(storage: FileStorage):
    key = a_key()
    await storage.put(key, b"first version, longer than the second", "text/plain")

    await storage.put(key, b"second", "text/plain")

    assert await storage.get(key) == b"second"


async def test_a_key_with_nothing_stored_is_missing(storage: FileStorage):
    with pytest.raises(StoredFileMissing):
        await storage.get(a_key())


async def test_delete_removes_only_its_key_and_a_second_delete_is_fine(storage: FileStorage):
    folder = a_key()
    kept, removed = f"{folder}/kept", f"{folder}/removed"
    await storage.put(kept, b"kept", "text/plain")
    await storage.put(removed, b"removed", "text/plain")

    await storage.delete(removed)
    await storage.delete(removed)

    with pytest.raises(StoredFileMissing):
        await storage.get(removed)
    assert await storage.get(kept) == b"kept"


async def test_deleting_a_key_never_stored_is_fine(storage: FileStorage):
    await storage.delete(a_key())


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../escape",
        "tenants/../../escape",
        "/absolute",
        "a//b",
        "a/./b",
        "a/",
        "a b",
        "a/b\x00c",
        "x" * 1100,
    ],
)
async def test_keys_that_could_name_something_outside_the_storage_are_refused(storage: FileStorage, key: str):
    with pytest.raises(ValueError, match="not a storage key"):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(ValueError, match="not a storage key"):
        await storage.get(key)
    with pytest.raises(ValueError, match="not a storage key"):
        await storage.delete(key)


async def test_concurrent_puts_of_different_keys_all_land(storage: FileStorage):
    keys = [a_key() for _ in range(20)]

    await asyncio.gather(*(storage.put(key, key.encode(), "text/plain") for key in keys))

    assert [await storage.get(key) for key in keys] == [key.encode() for key in keys]


# --- what only one adapter can show ---------------------------------------------------------------


async def test_the_local_directory_keeps_files_private_and_leaves_no_empty_folders(tmp_path: Path):
    root = tmp_path / "files"
    storage = LocalFileStorage(root)
    key = a_key("doc")

    await storage.put(key, b"private", "text/plain")

    path = root.joinpath(*key.split("/"))
    assert path.read_bytes() == b"private"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["doc"]  # no temporary file left behind

    await storage.delete(key)

    assert os.listdir(root) == []


async def test_the_bucket_holds_the_object_under_its_key_with_its_media_type(s3_endpoint: str):
    bucket = new_bucket(s3_endpoint)
    storage = s3_storage(s3_endpoint, bucket)
    key = a_key()

    await storage.put(key, b"%PDF-1.7 ...", PDF)

    head = s3_client(s3_endpoint).head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == PDF
    assert head["ContentLength"] == len(b"%PDF-1.7 ...")
