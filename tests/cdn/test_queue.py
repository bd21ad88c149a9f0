"""The Postgres queue itself: priority and FIFO order, SKIP LOCKED claims by concurrent workers, lease fencing,
the rescuer, backoff scheduling and dead letters (the query plans: test_retention)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.cdn.jobs import Kind, NewJob, Outcome, Priority
from services.cdn.store import JobStore
from tests.conftest import TestDatabase

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "cdn" / "migrations"


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[JobStore]:
    await migrate_directory(database.owner_dsn_for("cdn"), "cdn", MIGRATIONS)
    pool = await asyncpg.create_pool(database.dsn_for("cdn"), min_size=1, max_size=8)
    store = JobStore()
    store.attach(pool)
    yield store
    await pool.close()


def job(n: int, priority: Priority = Priority.MEDIUM) -> NewJob:
    return NewJob(f"https://x.cdninstagram.com/{n}.jpg", Kind.POST_IMAGE, priority, "test")


async def test_claims_follow_priority_then_enqueue_order(store: JobStore) -> None:
    order = [(1, Priority.LOW), (2, Priority.HIGH), (3, Priority.MEDIUM), (4, Priority.CRITICAL), (5, Priority.HIGH)]
    for n, priority in order:
        await store.enqueue([job(n, priority)], 5)
    claimed = []
    for _ in range(5):
        (one,) = await store.claim(1, 30, "w")
        claimed.append(one.source_url.rsplit("/", 1)[-1])
    assert claimed == ["4.jpg", "2.jpg", "5.jpg", "3.jpg", "1.jpg"]
    assert await store.claim(1, 30, "w") == []


async def test_concurrent_claimers_never_get_the_same_job(store: JobStore) -> None:
    await store.enqueue([job(n) for n in range(200)], 5)

    async def drain(worker: str) -> list[int]:
        ids: list[int] = []
        for _ in range(100):
            batch = await store.claim(7, 30, worker)
            if not batch:
                return ids
            ids += [j.id for j in batch]
        return ids

    results = await asyncio.gather(*(drain(f"w{i}") for i in range(6)))
    all_ids = [i for ids in results for i in ids]
    assert len(all_ids) == 200 and len(set(all_ids)) == 200
    assert sum(1 for ids in results if ids) > 1


async def test_a_stale_lease_cannot_complete_a_rescued_job(store: JobStore) -> None:
    await store.enqueue([job(1)], 5)
    (first,) = await store.claim(1, 0.2, "crashed")
    await store.pool.execute("UPDATE cdn.jobs SET lease_until = now() - interval '1 second'")
    assert await store.rescue() == 1
    (second,) = await store.claim(1, 30, "alive")
    assert second.id == first.id and second.attempts == 2
    assert not await store.complete(first, Outcome(), 1.0)
    assert await store.complete(second, Outcome(), 1.0)
    assert await store.pool.fetchval("SELECT state FROM cdn.jobs") == "done"


async def test_heartbeats_keep_a_running_job_from_being_rescued(store: JobStore) -> None:
    await store.enqueue([job(1)], 5)
    (claimed,) = await store.claim(1, 0.5, "w")
    assert await store.heartbeat([claimed.lease_token], 60) == 1
    remaining = await store.pool.fetchval("SELECT extract(epoch FROM lease_until - now()) FROM cdn.jobs")
    assert 59 < remaining <= 60
    assert await store.rescue() == 0


async def test_failure_waits_for_its_backoff_then_is_promoted_back_to_queued(store: JobStore) -> None:
    await store.enqueue([job(1)], 5)
    (claimed,) = await store.claim(1, 30, "w")
    assert await store.fail(claimed, "HTTP 503", dead=False, retry_in=0.3, processing_ms=5, bytes_in=0)
    row = await store.pool.fetchrow("SELECT state, last_error, run_at - now() AS wait FROM cdn.jobs")
    assert row["state"] == "retrying" and row["last_error"] == "HTTP 503"
    assert timedelta(seconds=0.2) < row["wait"] <= timedelta(seconds=0.3)
    assert await store.promote() == 0 and await store.claim(1, 30, "w") == []
    deadline = asyncio.get_running_loop().time() + 5
    while await store.promote() == 0:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    (again,) = await store.claim(1, 30, "w")
    assert again.attempts == 2


async def test_rescued_job_out_of_attempts_goes_dead(store: JobStore) -> None:
    await store.enqueue([job(1)], 1)
    await store.claim(1, 30, "w")
    await store.pool.execute("UPDATE cdn.jobs SET lease_until = now() - interval '1 second'")
    assert await store.rescue() == 1
    row = await store.pool.fetchrow("SELECT state, last_error FROM cdn.jobs")
    assert row["state"] == "dead" and "lease expired" in row["last_error"]


async def test_deferring_gives_the_attempt_back(store: JobStore) -> None:
    await store.enqueue([job(1)], 5)
    (claimed,) = await store.claim(1, 30, "w")
    assert await store.defer(claimed, datetime.now(UTC) - timedelta(seconds=1), "breaker open")
    assert await store.promote() == 1
    (again,) = await store.claim(1, 30, "w")
    assert again.attempts == 1


async def test_released_jobs_return_to_the_queue_at_once(store: JobStore) -> None:
    await store.enqueue([job(1), job(2)], 5)
    claimed = await store.claim(2, 30, "w")
    assert await store.release([j.lease_token for j in claimed]) == 2
    assert len(await store.claim(5, 30, "w")) == 2
