"""File storage in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...), through boto3.

boto3 is synchronous: each call runs in a worker thread (its clients are thread-safe), never on
the event loop. The client is made once, from the operator's settings; credentials left unset
come from boto3's usual chain (environment, instance profile, ...).
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from switchboard.adapters.files import checked_key
from switchboard.ports.files import StoredFileMissing

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3FileStorage:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self._prefix = prefix
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                # Path-style addressing works with every S3-compatible server, virtual hosts only
                # where DNS is set up for them.
                s3={"addressing_style": "path"},
            ),
        )

    async def put(self, key: str, content: bytes, media_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=content,
            ContentType=media_type,
        )

    async def get(self, key: str) -> bytes:
        try:
            answer = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=self._key(key))
            body: bytes = await asyncio.to_thread(answer["Body"].read)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise StoredFileMissing(key) from None
            raise
        return body

    async def delete(self, key: str) -> None:
        # S3 answers 204 for a key with nothing stored, as this port wants.
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def _key(self, key: str) -> str:
        return self._prefix + checked_key(key)
