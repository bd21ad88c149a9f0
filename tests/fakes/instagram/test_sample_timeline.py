"""Simulated time: the catalogue grows when a test moves the clock, including a bought-followers spike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.creators import creator_index
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings
from fakes.instagram.timeline import followers_on
from following.settings import SettingsError
from services.creator.upstream import UpstreamSettings, create_source


@pytest.fixture
async def upstream() -> AsyncIterator[SampleUpstream]:
    async with SampleUpstream(SampleSettings(port=0)) as running:
        yield running


async def followers(upstream: SampleUpstream, username: str) -> int:
    source = create_source(UpstreamSettings(source="sample", base_url=upstream.url))
    try:
        return (await source.fetch_profile(username, post_limit=1)).profile.followers
    finally:
        await source.aclose()


async def test_followers_grow_only_when_the_simulated_clock_moves(upstream: SampleUpstream) -> None:
    admin = SampleAdmin(upstream.url)
    start = await followers(upstream, "chef.marco")
    assert start == creator_index()["chef.marco"].followers
    assert await followers(upstream, "chef.marco") == start  # time stands still by default
    assert await admin.advance_clock(10) == pytest.approx(10)
    grown = await followers(upstream, "chef.marco")
    assert start * 1.01 < grown < start * 1.03  # about 0.2 % a day


async def test_the_bought_followers_spike_lands_on_its_simulated_day(upstream: SampleUpstream) -> None:
    admin = SampleAdmin(upstream.url)
    await admin.advance_clock(1)
    before = await followers(upstream, "boost.brandon")
    await admin.advance_clock(1.5)
    after = await followers(upstream, "boost.brandon")
    assert after - before > 130_000


def test_growth_is_deterministic_per_simulated_day() -> None:
    spec = creator_index()["pod.pauline"]
    assert followers_on(spec, 3.2) == followers_on(spec, 3.2)
    assert followers_on(spec, 0) == spec.followers


def test_a_bad_clock_speed_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="SAMPLE_UPSTREAM_DAYS_PER_SECOND"):
        SampleSettings.from_env({"SAMPLE_UPSTREAM_DAYS_PER_SECOND": "fast"})
