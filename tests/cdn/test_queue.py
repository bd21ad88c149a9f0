"""What only the Postgres store can show, read from its columns: a heartbeat sets the lease to exactly its length from
the database's now, and a failure's backoff is the run_at it writes. The queue's behaviour, the same for every adapter,
is test_queue_conformance; the query plans, test_retention."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.cdn.jobs import Kind, NewJob, Priority
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


async def test_a_heartbeat_sets_lease_until_its_length_from_the_database_now(store: JobStore) -> None:
    await store.enqueue([job(1)], 5)
    (claimed,) = await store.claim(1, 0.5, "w")
    assert await store.heartbeat([claimed.lease_token], 60) == 1
    remaining = await store.pool.fetchval("SELECT extract(epoch FROM lease_until - now()) FROM cdn.jobs")
    assert 59 < remaining <= 60
    assert await store.rescue() == 0


async def test_a_failure_writes_run_at_its_backoff_from_now_and_is_promoted_after_it(store: JobStore) -> None:
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
