"""The database circuit breaker on a pool whose server does not answer (a closed loopback port), with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from following.errors import Unavailable
from scripts.pgcluster import free_port
from services.creator.dbguard import BreakerState, DatabaseGuard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def dead_pool() -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(f"postgresql://creator_svc@127.0.0.1:{free_port()}/none", min_size=0, max_size=2)
    yield pool
    await pool.close()


async def attempt(guard: DatabaseGuard) -> str:
    with pytest.raises(Unavailable) as info:
        async with guard.connection() as conn:
            await conn.fetchval("SELECT 1")
    return info.value.message


async def test_the_breaker_opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown(
    dead_pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    guard = DatabaseGuard(dead_pool, acquire_timeout_s=2, threshold=2, cooldown_s=5, clock=clock)
    assert await attempt(guard) == "database unavailable; retry shortly"  # tried and failed
    assert guard.state is BreakerState.CLOSED
    assert "circuit open" not in await attempt(guard)
    assert guard.state is BreakerState.OPEN
    assert "circuit open" in await attempt(guard)  # refused without trying
    clock.now += 5
    assert guard.state is BreakerState.HALF_OPEN
    assert "circuit open" not in await attempt(guard)  # the trial tried the database and failed
    assert guard.state is BreakerState.OPEN
    assert "circuit open" in await attempt(guard)
