"""The upstream request budget: one token bucket in PostgreSQL shared by every replica, refilling over time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.creator.budget import PgRequestBudget
from services.creator.dbguard import DatabaseGuard
from services.creator.server import MIGRATIONS
from services.creator.upstream import Throttled
from tests.conftest import TestDatabase
from tests.creator.conftest import eventually


@pytest.fixture
async def pools(database: TestDatabase) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two pools, as two replicas would have."""
    await migrate_directory(database.owner_dsn_for("creator"), "creator", MIGRATIONS)
    made = [await asyncpg.create_pool(database.dsn_for("creator"), min_size=1, max_size=2) for _ in range(2)]
    yield made
    for pool in made:
        await pool.close()


def budget(pool: asyncpg.Pool, capacity: float, per_minute: float) -> PgRequestBudget:
    guard = DatabaseGuard(pool, acquire_timeout_s=2, threshold=2, cooldown_s=1)
    return PgRequestBudget(guard, "sample", capacity, per_minute)


async def test_two_replicas_draw_from_one_bucket_and_it_refills(pools: list[asyncpg.Pool]) -> None:
    first, second = budget(pools[0], 2, 60), budget(pools[1], 2, 60)
    await first.ensure()
    await second.ensure()
    await first.acquire()
    await second.acquire()
    with pytest.raises(Throttled) as info:
        await first.acquire()
    hint = info.value.retry_after_seconds
    assert hint is not None and 0 < hint <= 1.0  # one token per second
    assert "request budget" in info.value.reason

    async def refilled() -> bool:
        try:
            await second.acquire()
        except Throttled:
            return False
        return True

    await eventually(refilled, deadline_s=3, what="a token refilled")


async def test_a_missing_bucket_is_created_on_first_use(pools: list[asyncpg.Pool]) -> None:
    lone = budget(pools[0], 1, 1)
    await lone.acquire()
    with pytest.raises(Throttled) as info:
        await lone.acquire()
    assert info.value.retry_after_seconds == pytest.approx(60, rel=0.05)
