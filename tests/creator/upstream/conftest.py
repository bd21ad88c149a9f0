"""A sample upstream on a free loopback port for the adapter tests, with its faults and counters reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings


@pytest.fixture(scope="session")
async def sample_upstream() -> AsyncIterator[SampleUpstream]:
    async with SampleUpstream(SampleSettings(port=0)) as upstream:
        yield upstream


@pytest.fixture
async def admin(sample_upstream: SampleUpstream) -> AsyncIterator[SampleAdmin]:
    client = SampleAdmin(sample_upstream.url)
    await client.clear_faults()
    await client.reset_stats()
    yield client
    await client.clear_faults()
