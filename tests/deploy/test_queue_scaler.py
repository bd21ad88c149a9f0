"""KEDA's PostgreSQL trigger for the CDN: its query, taken from the rendered ScaledObject, runs as the CDN's own
role on the real schema and counts the jobs that want a worker now."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from deploy.images import ROOT
from deploy.render import Rendered
from following.migrations import migrate_directory
from tests.conftest import TestDatabase

NOW = timedelta(0)
JOBS = [
    ("queued", NOW),
    ("queued", NOW),
    ("running", NOW),
    ("retrying", timedelta(minutes=-1)),  # due: counts
    ("retrying", timedelta(hours=1)),  # backing off: does not count
    ("done", NOW),
    ("dead", NOW),
]


async def test_the_queue_depth_query_counts_queued_running_and_due_retries(
    rendered: dict[str, Rendered], database: TestDatabase
) -> None:
    scaled = rendered["prod"].named("ScaledObject", "cdn")
    assert scaled is not None
    query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    await migrate_directory(database.owner_dsn_for("cdn"), "cdn", ROOT / "services" / "cdn" / "migrations")
    conn = await asyncpg.connect(database.dsn_for("cdn"))
    try:
        assert await conn.fetchval(query) == 0
        for number, (state, delay) in enumerate(JOBS):
            await conn.execute(
                "INSERT INTO cdn.jobs (source_url, kind, priority, state, max_attempts, run_at)"
                " VALUES ($1, 1, 2, $2, 5, now() + $3)",
                f"https://scontent.cdninstagram.com/{number}.jpg",
                state,
                delay,
            )
        assert await conn.fetchval(query) == 4
    finally:
        await conn.close()
