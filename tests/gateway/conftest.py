"""Fixtures for the gateway tests: test backends, signing keys, and real Envoys rendered from GatewaySettings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from services.gateway.config import render
from services.gateway.process import EnvoyProcess, start_envoy
from services.gateway.settings import GatewaySettings
from tests.gateway.backends import RunningTestBackend, start_test_backend
from tests.gateway.envoys import StartGateway, gateway_env
from tests.gateway.tokens import Keys


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def jwks_file(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    return path


@pytest.fixture(scope="session")
async def backend() -> AsyncIterator[RunningTestBackend]:
    started = await start_test_backend()
    yield started
    await started.server.stop(grace=None)


@pytest.fixture
async def start_gateway(backend: RunningTestBackend, keys: Keys, tmp_path: Path) -> AsyncIterator[StartGateway]:
    """Starts Envoys with setting overrides for one test; stops them afterwards."""
    started: list[EnvoyProcess] = []

    async def start(**overrides: str | None) -> EnvoyProcess:
        workdir = tmp_path / f"envoy-{len(started)}"
        workdir.mkdir()
        settings = GatewaySettings.from_env(gateway_env(backend, keys, workdir, **overrides))
        process = await asyncio.to_thread(start_envoy, settings, render(settings), workdir)
        started.append(process)
        return process

    yield start
    for process in started:
        await asyncio.to_thread(process.stop)


@pytest.fixture(scope="session")
async def gateway(
    backend: RunningTestBackend, keys: Keys, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EnvoyProcess]:
    """The shared gateway: HS256 secret and an ES256 JWKS file at once, default limits."""
    workdir = tmp_path_factory.mktemp("gateway")
    settings = GatewaySettings.from_env(gateway_env(backend, keys, workdir, SUPABASE_JWKS_FILE=str(jwks_file)))
    process = await asyncio.to_thread(start_envoy, settings, render(settings), workdir)
    yield process
    await asyncio.to_thread(process.stop)


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.fixture(scope="session")
async def channel(gateway: EnvoyProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(gateway.grpc_target) as opened:
        yield opened


@pytest.fixture
def recorder(backend: RunningTestBackend) -> Iterator[RunningTestBackend]:
    """The backend with an empty call record for this test."""
    backend.recorder.clear()
    yield backend
