"""Fast pickup: a job enqueued by another replica (here: straight into the database) is claimed at once through
LISTEN/NOTIFY though the poll interval is 30 s, and still after the listening connection was terminated."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from tests.cdn.conftest import StartCdn
from tests.conftest import TestDatabase

ENQUEUE = "INSERT INTO cdn.jobs (source_url, kind, priority, max_attempts) VALUES ($1, 2, 2, 1) RETURNING id"
LISTENER = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'cdn-listener' AND query LIKE '%LISTEN%'
"""


async def listening_pid(admin: asyncpg.Connection, other_than: int = 0, deadline_s: float = 10.0) -> int:
    """The backend of the service's listening connection (once it exists), polled with a deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        pids = [r["pid"] for r in await admin.fetch(LISTENER) if r["pid"] != other_than]
        if pids:
            return int(pids[0])
        assert time.monotonic() < deadline, "no connection LISTENs for new jobs"
        await asyncio.sleep(0.02)


async def claimed_within(admin: asyncpg.Connection, url: str, seconds: float) -> float:
    """Enqueues `url` as another replica would and returns how long until a worker claimed it (at most `seconds`)."""
    started = time.monotonic()
    job_id = await admin.fetchval(ENQUEUE, url)
    while True:
        if await admin.fetchval("SELECT attempts > 0 FROM cdn.jobs WHERE id = $1", job_id):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"job {job_id} not claimed within {seconds} s"
        await asyncio.sleep(0.01)


async def test_a_job_enqueued_elsewhere_is_claimed_at_once_despite_a_long_poll_interval_and_after_reconnecting(
    start_cdn: StartCdn, database: TestDatabase
) -> None:
    await start_cdn(CDN_POLL_INTERVAL_SECONDS="30")
    admin = await asyncpg.connect(database.admin_dsn)
    try:
        pid = await listening_pid(admin)
        # The claimer's first rounds (at start, after the reconnect's catch-up wake) are over by now or soon: a job
        # that was not announced would wait 30 s.
        await claimed_within(admin, "http://127.0.0.1:9/warm.jpg", 1.0)
        assert await claimed_within(admin, "http://127.0.0.1:9/a.jpg", 1.0) < 1.0

        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await listening_pid(admin, other_than=pid)
        await claimed_within(admin, "http://127.0.0.1:9/b.jpg", 1.0)
        assert await claimed_within(admin, "http://127.0.0.1:9/c.jpg", 1.0) < 1.0
    finally:
        await admin.close()
