"""Bounded storage: retention deletes old attempts and DEAD jobs in batches and keeps DONE jobs (the asset records);
the queue gauges are computed by one replica at a time; and, on a million finished jobs, the JSON plans of the gauge
and claim queries read no finished row (no sequential scan of cdn.jobs, small row estimates)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.cdn.breaker import Breakers
from services.cdn.jobs import Kind, NewJob, Outcome, Priority, StoredRendition
from services.cdn.maintenance import GaugeRefresher, Retention, RetentionPruner
from services.cdn.store import CLAIM, OLDEST_QUEUED_AGE, QUEUE_COUNTS, JobStore
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


def gauges(store: JobStore) -> GaugeRefresher:
    return GaugeRefresher(store, Breakers(5, 30.0), 1.0)


def job(name: str) -> NewJob:
    return NewJob(f"https://x.cdninstagram.com/{name}.jpg", Kind.POST_IMAGE, Priority.MEDIUM, "test")


async def test_retention_deletes_old_attempts_and_dead_jobs_in_batches_and_keeps_done_assets(store: JobStore) -> None:
    await store.enqueue([job("done"), job("dead-old"), job("dead-new")], 1)
    claimed = {j.source_url.rsplit("/", 1)[-1]: j for j in await store.claim(3, 30, "w")}
    rendition = StoredRendition(320, 400, "webp", "ab/cd.webp", 1234)
    assert await store.complete(claimed["done.jpg"], Outcome([rendition], bytes_in=9), 5.0)
    for name in ("dead-old.jpg", "dead-new.jpg"):
        assert await store.fail(claimed[name], "404", dead=True, retry_in=0, processing_ms=1.0, bytes_in=0)
    # Everything about the DONE job and the old DEAD job happened 40 days ago.
    await store.pool.execute(
        "UPDATE cdn.attempts SET finished_at = now() - interval '40 days' WHERE job_id = ANY($1::bigint[])",
        [claimed["done.jpg"].id, claimed["dead-old.jpg"].id],
    )
    await store.pool.execute(
        "UPDATE cdn.jobs SET failed_at = now() - interval '40 days' WHERE id = $1", claimed["dead-old.jpg"].id
    )

    assert await RetentionPruner(store, Retention(30, batch=1)).run_once() == (1, 1)

    rows = await store.pool.fetch("SELECT source_url, state FROM cdn.jobs ORDER BY id")
    assert [(r["source_url"].rsplit("/", 1)[-1], r["state"]) for r in rows] == [
        ("done.jpg", "done"),
        ("dead-new.jpg", "dead"),
    ]
    assert await store.pool.fetchval("SELECT array_agg(job_id) FROM cdn.attempts") == [claimed["dead-new.jpg"].id]
    (asset,) = await store.assets([job("done").source_url], 0)
    assert asset.state == "done" and [r.key for r in asset.renditions] == ["ab/cd.webp"]
    # The asset record still deduplicates: enqueueing the mirrored image again creates nothing.
    again = await store.enqueue([job("done")], 1)
    assert [(r.created, r.state) for r in again.values()] == [(False, "done")]


async def test_retention_rounds_are_bounded_by_batch_size(store: JobStore) -> None:
    await store.enqueue([job(str(n)) for n in range(30)], 1)
    for claimed in await store.claim(30, 30, "w"):
        await store.fail(claimed, "404", dead=True, retry_in=0, processing_ms=1.0, bytes_in=0)
    await store.pool.execute("UPDATE cdn.jobs SET failed_at = now() - interval '31 days'")
    rounds = RetentionPruner(store, Retention(30, batch=4, batches_per_round=3))
    assert await rounds.run_once() == (0, 12)
    assert await store.pool.fetchval("SELECT count(*) FROM cdn.jobs") == 18


async def test_one_replica_at_a_time_computes_the_queue_gauges(store: JobStore) -> None:
    first, second = gauges(store), gauges(store)
    assert await first.run_once()
    assert not await second.run_once()
    assert await first.run_once()  # keeps the lock
    await first.stop()
    assert await second.run_once()
    await second.stop()


def scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every plan node, depth first."""
    yield node
    for child in node.get("Plans", []):
        yield from scans(child)


async def plan(conn: asyncpg.Connection, query: str, *args: object) -> list[dict[str, Any]]:
    text = await conn.fetchval("EXPLAIN (FORMAT JSON) " + query, *args)
    return list(scans(json.loads(text)[0]["Plan"]))


async def test_gauge_and_claim_plans_read_no_finished_row_among_a_million(
    store: JobStore, database: TestDatabase
) -> None:
    admin = await asyncpg.connect(database.admin_dsn)
    try:
        await admin.execute(
            """INSERT INTO cdn.jobs (source_url, kind, priority, state, max_attempts, finished_at)
               SELECT n::text, 2, 1 + n % 4, 'done', 5, now()
               FROM generate_series(1, 1000000) AS n"""
        )
        await store.enqueue([job(f"new-{n}") for n in range(20)], 5)
        await admin.execute("ANALYZE cdn.jobs")
        async with store.pool.acquire() as conn:
            plans = {
                "gauges": await plan(conn, QUEUE_COUNTS),
                "oldest": await plan(conn, OLDEST_QUEUED_AGE),
                "claim": await plan(conn, CLAIM, 10, 30.0, "w", 3),
            }
    finally:
        await admin.close()
    for name, nodes in plans.items():
        on_jobs = [n for n in nodes if n.get("Relation Name") == "jobs"]
        assert on_jobs, (name, nodes)
        assert not [n for n in on_jobs if n["Node Type"] == "Seq Scan"], (name, on_jobs)
        assert all(n["Plan Rows"] <= 1000 for n in on_jobs), (name, [(n["Node Type"], n["Plan Rows"]) for n in on_jobs])
