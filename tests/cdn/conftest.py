"""CDN test fixtures: an image server on 127.0.0.1 (aiohttp) that records every request, settings from env-style
overrides, and a CDN service running in-process on a fresh database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from following.server import ServiceRunner
from following.settings import EnvReader
from services.cdn.server import build
from services.cdn.settings import CdnSettings
from tests.conftest import Serve, TestDatabase


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0
    location: str | None = None
    gate: asyncio.Event | None = None


@dataclass
class ImageServer:
    """Serves `routes[path]`; records request times and the highest number of requests in flight at once."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, list[float]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def count(self, path: str) -> int:
        return len(self.hits.get(path, []))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.setdefault(request.path, []).append(time.monotonic())
        route = self.routes.get(request.path)
        if route is None:
            raise web.HTTPNotFound()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if route.gate is not None:
                await route.gate.wait()
            if route.delay:
                await asyncio.sleep(route.delay)
            headers = {"Location": route.location} if route.location else {}
            return web.Response(body=route.body, status=route.status, headers=headers, content_type="image/jpeg")
        finally:
            self.in_flight -= 1


@pytest.fixture
async def image_server() -> AsyncIterator[ImageServer]:
    server = ImageServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


def cdn_env(storage_dir: Path, **overrides: str) -> dict[str, str]:
    """Test defaults: the local image server allowed, fast maintenance, quick backoff."""
    return {
        "CDN_STORAGE_URL": f"file://{storage_dir}",
        "CDN_HTTP_LISTEN": "127.0.0.1:0",
        "CDN_ALLOWED_HOSTS": "127.0.0.1",
        # The image servers of the tests listen on ephemeral loopback ports.
        "CDN_ALLOWED_PORTS": "1024-65535",
        "CDN_ALLOW_PRIVATE_NETWORKS": "true",
        "CDN_POLL_INTERVAL_SECONDS": "0.05",
        "CDN_MAINTENANCE_INTERVAL_SECONDS": "0.1",
        "CDN_GAUGE_INTERVAL_SECONDS": "0.2",
        "CDN_BACKOFF_BASE_SECONDS": "0.2",
        "CDN_BACKOFF_MAX_SECONDS": "1",
        **overrides,
    }


def read_settings(env: dict[str, str]) -> CdnSettings:
    reader = EnvReader(env)
    settings = CdnSettings.read(reader)
    reader.check()
    return settings


StartCdn = Callable[..., Awaitable[ServiceRunner]]


@pytest.fixture
async def start_cdn(database: TestDatabase, tmp_path: Path, serve: Serve) -> StartCdn:
    async def start(**overrides: str) -> ServiceRunner:
        env = {
            "DATABASE_URL": database.dsn_for("cdn"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("cdn"),
            "SHUTDOWN_GRACE_SECONDS": "5",
            **cdn_env(tmp_path / "objects", **overrides),
        }
        return await serve(build, env)

    return start


def cdn_stub(address: str) -> tuple[grpc.aio.Channel, cdn_pb2_grpc.CdnServiceStub, cdn_pb2_grpc.CdnStatusServiceStub]:
    channel = grpc.aio.insecure_channel(address)
    return channel, cdn_pb2_grpc.CdnServiceStub(channel), cdn_pb2_grpc.CdnStatusServiceStub(channel)


async def wait_for_states(
    stub: cdn_pb2_grpc.CdnServiceStub, urls: list[str], states: set[int], deadline_s: float = 20.0
) -> list[cdn_pb2.Asset]:
    """Polls GetAssets until every URL is in one of `states`; fails with the last answer at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        response = await stub.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=urls), timeout=5)
        assets = list(response.assets)
        if all(a.state in states for a in assets):
            return assets
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not all in {states} after {deadline_s} s: {[(a.state, a.last_error) for a in assets]}"
            )
        await asyncio.sleep(0.05)
