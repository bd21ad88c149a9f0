"""A sample upstream on a free loopback port, an HTTP client for raw requests, and per-test reset of its faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings


@pytest.fixture(scope="session")
async def upstream() -> AsyncIterator[SampleUpstream]:
    async with SampleUpstream(SampleSettings(port=0)) as server:
        yield server


@pytest.fixture
async def admin(upstream: SampleUpstream) -> AsyncIterator[SampleAdmin]:
    client = SampleAdmin(upstream.url)
    await client.clear_faults()
    await client.reset_stats()
    yield client
    await client.clear_faults()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
