"""Object storage for renditions: a local directory (`file://DIR`) or S3-compatible storage (`s3://bucket/prefix`).

Keys are content addressed, so `put` skips objects that already exist and writing the same key twice is harmless: a job
that re-runs after a crash stores nothing new.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, Protocol

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CACHE_CONTROL = "public, max-age=31536000, immutable"


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Stores `data` under `key` unless it exists; True if it wrote."""
        ...

    async def check(self) -> None:
        """Raises if the storage is not usable."""
        ...

    def url(self, key: str) -> str: ...


class FileStorage:
    """A directory; objects land atomically (temp file + rename), so a crash never leaves a half-written object."""

    TMP = ".tmp"

    def __init__(self, root: Path, public_base_url: str) -> None:
        self.root = root
        self.public_base_url = public_base_url

    async def start(self) -> None:
        (self.root / self.TMP).mkdir(parents=True, exist_ok=True)
        for stale in (self.root / self.TMP).iterdir():
            stale.unlink(missing_ok=True)

    async def close(self) -> None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> bool:
        target = self.root / key
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.root / self.TMP / uuid.uuid4().hex
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        return True

    async def check(self) -> None:
        probe = self.root / self.TMP / "health"
        await asyncio.to_thread(probe.write_bytes, b"ok")

    def url(self, key: str) -> str:
        return f"{self.public_base_url}/{key}"


class S3Storage:
    """S3 or an S3-compatible store (R2, MinIO) through aioboto3; credentials from the standard AWS variables."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None, region: str, public_base_url: str) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.public_base_url = public_base_url
        self._session = aioboto3.Session()
        self._client: Any = None
        self._context: Any = None

    async def start(self) -> None:
        self._context = self._session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
        self._client = await self._context.__aenter__()

    async def close(self) -> None:
        if self._context is not None:
            await self._context.__aexit__(None, None, None)
            self._context = None

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        full = self.prefix + key
        try:
            await self._client.head_object(Bucket=self.bucket, Key=full)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        await self._client.put_object(
            Bucket=self.bucket, Key=full, Body=data, ContentType=content_type, CacheControl=CACHE_CONTROL
        )
        return True

    async def check(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise OSError(f"bucket {self.bucket}: {exc}") from exc

    def url(self, key: str) -> str:
        return f"{self.public_base_url}/{self.prefix}{key}"
