"""Creator test fixtures: the sample upstream on a free port, a real inference service (loaded once per session), a
real CDN service and creator services running in-process on the test's fresh database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from cdn.v1 import cdn_pb2_grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings
from following.server import ServiceRunner
from following.settings import EnvReader, RuntimeSettings
from scripts.pgcluster import free_port
from services.cdn.server import build as build_cdn
from services.creator.server import CreatorApp
from services.creator.settings import CreatorSettings
from services.creator.upstream import UpstreamSettings
from services.inference.server import build as build_inference
from tests.conftest import Serve, TestDatabase


@pytest.fixture(scope="session")
async def upstream_url() -> AsyncIterator[str]:
    async with SampleUpstream(SampleSettings(port=0)) as upstream:
        yield upstream.url


@pytest.fixture
async def upstream(upstream_url: str) -> AsyncIterator[SampleAdmin]:
    """The sample upstream's admin client, with no faults and zeroed counters."""
    admin = SampleAdmin(upstream_url)
    await admin.clear_faults()
    await admin.reset_stats()
    yield admin
    await admin.clear_faults()


@pytest.fixture(scope="session")
async def inference_addr() -> AsyncIterator[str]:
    """A real inference service with the built ONNX models, shared by the session."""
    reader = EnvReader({"GRPC_LISTEN": "127.0.0.1:0", "METRICS_LISTEN": "off", "INFERENCE_WORKERS": "2"})
    app, runtime = build_inference(reader)
    runner = ServiceRunner(app, runtime)
    await runner.start()
    yield runner.address
    await runner.stop(1.0)


@dataclass
class Creator:
    runner: ServiceRunner
    app: CreatorApp
    channel: grpc.aio.Channel
    stub: creator_pb2_grpc.CreatorServiceStub
    system: creator_pb2_grpc.SystemServiceStub
    stopped: bool = False

    async def stop(self) -> None:
        """Graceful stop, like SIGTERM (a restart test starts another replica afterwards)."""
        if not self.stopped:
            self.stopped = True
            await self.channel.close()
            await self.runner.stop(1.0)

    async def search(
        self, username: str, user: str = "alice", refresh: bool = False, post_limit: int = 0
    ) -> creator_pb2.CreatorReport:
        request = creator_pb2.SearchCreatorRequest(username=username, refresh=refresh, post_limit=post_limit)
        report: creator_pb2.CreatorReport = await self.stub.SearchCreator(request, metadata=user_md(user), timeout=30)
        return report


def user_md(user: str) -> tuple[tuple[str, str], ...]:
    return (("x-user-id", user),)


StartCreator = Callable[..., Awaitable[Creator]]
StartCdn = Callable[..., Awaitable[ServiceRunner]]


@pytest.fixture
async def start_creator(database: TestDatabase, upstream_url: str, inference_addr: str) -> AsyncIterator[StartCreator]:
    """Starts a creator service (a replica) on the test database; keyword arguments override its environment."""
    started: list[Creator] = []

    async def start(**overrides: str) -> Creator:
        env = {
            "DATABASE_URL": database.dsn_for("creator"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("creator"),
            "GRPC_LISTEN": "127.0.0.1:0",
            "METRICS_LISTEN": "off",
            "SHUTDOWN_GRACE_SECONDS": "2",
            "DB_POOL_MAX": "20",
            "INSTAGRAM_SOURCE": "sample",
            "INSTAGRAM_BASE_URL": upstream_url,
            "INSTAGRAM_MAX_ATTEMPTS": "2",
            "INSTAGRAM_BACKOFF_INITIAL_S": "0.01",
            "INSTAGRAM_BACKOFF_MAX_S": "0.05",
            "INSTAGRAM_BACKOFF_JITTER_S": "0",
            "INFERENCE_ADDR": inference_addr,
            "CDN_ADDR": f"127.0.0.1:{free_port()}",
            "CREATOR_WORKER_POLL_S": "0.05",
            "CREATOR_CDN_ASSETS_RECHECK_S": "0",
            "CREATOR_RETRY_BACKOFF_MAX_S": "0.2",
            "CREATOR_UPSTREAM_BUDGET_CAPACITY": "1000",
            "CREATOR_UPSTREAM_BUDGET_PER_MINUTE": "6000",
            # Tests refresh right after a search; the minimum refresh interval has its own tests.
            "CREATOR_MIN_REFRESH_S": "0",
            **overrides,
        }
        reader = EnvReader(env)
        runtime = RuntimeSettings.read("creator", reader, default_grpc_port=0)
        app = CreatorApp(CreatorSettings.read(reader), UpstreamSettings.read(reader))
        reader.check()
        runner = ServiceRunner(app, runtime)
        await runner.start()
        channel = grpc.aio.insecure_channel(runner.address)
        creator = Creator(
            runner,
            app,
            channel,
            creator_pb2_grpc.CreatorServiceStub(channel),
            creator_pb2_grpc.SystemServiceStub(channel),
        )
        started.append(creator)
        return creator

    yield start
    for creator in started:
        await creator.stop()


@pytest.fixture
async def start_cdn(database: TestDatabase, tmp_path: Path, serve: Serve, upstream_url: str) -> StartCdn:
    """Starts a real CDN service on the test database that mirrors from the sample upstream on loopback."""

    async def start(address: str = "127.0.0.1:0") -> ServiceRunner:
        env = {
            "DATABASE_URL": database.dsn_for("cdn"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("cdn"),
            "GRPC_LISTEN": address,
            "SHUTDOWN_GRACE_SECONDS": "2",
            "CDN_STORAGE_URL": f"file://{tmp_path / 'objects'}",
            "CDN_HTTP_LISTEN": "127.0.0.1:0",
            "CDN_ALLOWED_HOSTS": urlsplit(upstream_url).netloc,
            "CDN_ALLOW_PRIVATE_NETWORKS": "true",
            "CDN_POLL_INTERVAL_SECONDS": "0.05",
            "CDN_MAINTENANCE_INTERVAL_SECONDS": "0.1",
            "CDN_RATE_LIMIT_PER_HOST": "1000",
            "CDN_RATE_LIMIT_BURST": "1000",
        }
        return await serve(build_cdn, env)

    return start


def cdn_stub(address: str) -> tuple[grpc.aio.Channel, cdn_pb2_grpc.CdnServiceStub]:
    channel = grpc.aio.insecure_channel(address)
    return channel, cdn_pb2_grpc.CdnServiceStub(channel)


async def eventually(
    probe: Callable[[], Awaitable[object]], deadline_s: float = 20.0, what: str = "condition"
) -> object:
    """Polls `probe` until it returns something truthy; fails with `what` after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {deadline_s:g} s (last: {result!r})")
        await asyncio.sleep(0.05)
