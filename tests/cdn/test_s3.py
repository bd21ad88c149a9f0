"""S3 storage against moto's S3-compatible server over HTTP on 127.0.0.1: objects land with their content type,
identical content is written once, and a whole job stores its renditions in the bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from cdn.v1 import cdn_pb2
from moto.server import ThreadedMotoServer

from scripts.pgcluster import free_port
from services.cdn.storage import S3Storage
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    def keys(self) -> list[str]:
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        return sorted(o["Key"] for o in client.list_objects_v2(Bucket=self.bucket).get("Contents", []))


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, so every test gets its own bucket.
    bucket = f"media-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    try:
        yield S3(endpoint, bucket)
    finally:
        server.stop()


async def test_s3_put_is_idempotent_and_objects_carry_their_content_type(s3: S3) -> None:
    storage = S3Storage(s3.bucket, "cdn", s3.endpoint, "us-east-1", f"{s3.endpoint}/{s3.bucket}")
    await storage.start()
    try:
        await storage.check()
        assert await storage.put("ab/abc/150.webp", b"RIFF....WEBP", "image/webp")
        assert not await storage.put("ab/abc/150.webp", b"RIFF....WEBP", "image/webp")
    finally:
        await storage.close()
    assert s3.keys() == ["cdn/ab/abc/150.webp"]
    stored = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1").get_object(
        Bucket=s3.bucket, Key="cdn/ab/abc/150.webp"
    )
    assert stored["ContentType"] == "image/webp" and stored["Body"].read() == b"RIFF....WEBP"
    assert "immutable" in stored["CacheControl"]
    assert storage.url("ab/abc/150.webp") == f"{s3.endpoint}/{s3.bucket}/cdn/ab/abc/150.webp"


async def test_s3_health_fails_for_a_missing_bucket(s3: S3) -> None:
    storage = S3Storage("nope", "", s3.endpoint, "us-east-1", s3.endpoint)
    await storage.start()
    try:
        with pytest.raises(OSError, match="nope"):
            await storage.check()
    finally:
        await storage.close()


async def test_two_urls_with_the_same_image_are_stored_once_in_s3(
    s3: S3, start_cdn: StartCdn, image_server: ImageServer
) -> None:
    body = images.jpeg(400, 400, (10, 120, 200))
    image_server.routes["/one.jpg"] = Route(body)
    image_server.routes["/two.jpg"] = Route(body)
    runner = await start_cdn(CDN_STORAGE_URL=f"s3://{s3.bucket}/cdn", CDN_S3_ENDPOINT_URL=s3.endpoint)
    channel, cdn, _ = cdn_stub(runner.address)
    urls = [image_server.url("/one.jpg"), image_server.url("/two.jpg")]
    async with channel:
        await cdn.EnqueueJobs(
            cdn_pb2.EnqueueJobsRequest(
                jobs=[cdn_pb2.JobSpec(source_url=u, kind=cdn_pb2.ASSET_KIND_AVATAR) for u in urls]
            )
        )
        one, two = await wait_for_states(cdn, urls, {cdn_pb2.JOB_STATE_DONE})
    assert [r.url for r in one.renditions] == [r.url for r in two.renditions]
    assert all(r.url.startswith(f"{s3.endpoint}/{s3.bucket}/cdn/") for r in one.renditions)
    assert len(s3.keys()) == 2  # 150 px WebP + JPEG, once
