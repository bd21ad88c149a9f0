"""The Postgres adapter of the job queue (`jobs.JobQueue`): every SQL statement the CDN service runs, as named
constants, and the mapping of their rows to the domain's values (no asyncpg record leaves this module).

Claiming uses `FOR UPDATE SKIP LOCKED` over the partial index `jobs_claim_idx`, so any number of workers and replicas
share the queue without blocking each other. Every write by a worker is fenced by the job's lease token.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

import asyncpg

from services.cdn.jobs import (
    MAX_ERROR_LENGTH,
    Asset,
    ClaimedJob,
    DayStatistics,
    DeadChange,
    DeadJob,
    EnqueueResult,
    GaugeLock,
    JobState,
    Kind,
    NewJob,
    Outcome,
    Priority,
    QueueCount,
    StoredRendition,
    unique_jobs,
)

ENQUEUE = """
INSERT INTO cdn.jobs (source_url, kind, priority, owner, max_attempts)
SELECT u.source_url, u.kind, u.priority, u.owner, $5
FROM unnest($1::text[], $2::smallint[], $3::smallint[], $4::text[]) AS u(source_url, kind, priority, owner)
ON CONFLICT (source_url, kind) DO UPDATE
    SET priority = GREATEST(cdn.jobs.priority, EXCLUDED.priority),
        updated_at = CASE WHEN EXCLUDED.priority > cdn.jobs.priority THEN now() ELSE cdn.jobs.updated_at END
RETURNING id, source_url, kind, state, (xmax = 0) AS created
"""

# The first $4 jobs (in claim order) start at once; the rest wait in the worker's prefetch buffer (started_at NULL).
CLAIM = """
WITH picked AS (
    SELECT id, priority FROM cdn.jobs
    WHERE state = 'queued'
    ORDER BY priority DESC, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), ranked AS (
    SELECT id, row_number() OVER (ORDER BY priority DESC, id) AS n FROM picked
)
UPDATE cdn.jobs AS j
SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(),
    lease_until = now() + make_interval(secs => $2), worker_id = $3, updated_at = now(),
    started_at = CASE WHEN ranked.n <= $4 THEN now() END
FROM ranked WHERE j.id = ranked.id
RETURNING j.id, j.source_url, j.kind, j.priority, j.attempts, j.max_attempts, j.lease_token,
          j.started_at IS NOT NULL AS started
"""

MARK_STARTED = """
UPDATE cdn.jobs SET started_at = now() WHERE lease_token = ANY($1::uuid[]) AND state = 'running'
"""

HEARTBEAT = """
UPDATE cdn.jobs SET lease_until = now() + make_interval(secs => $2)
WHERE lease_token = ANY($1::uuid[]) AND state = 'running'
"""

# One statement each, so a worker's outcome costs one round trip and is atomic without an explicit transaction.
COMPLETE = """
WITH done AS (
    UPDATE cdn.jobs
    SET state = 'done', finished_at = now(), updated_at = now(), last_error = '',
        lease_token = NULL, lease_until = NULL, worker_id = NULL
    WHERE id = $1 AND lease_token = $2 AND state = 'running'
    RETURNING id
), renditions AS (
    INSERT INTO cdn.renditions (job_id, width, height, format, object_key, bytes)
    SELECT done.id, r.width, r.height, r.format, r.object_key, r.bytes
    FROM done, unnest($3::integer[], $4::integer[], $5::text[], $6::text[], $7::bigint[])
        AS r(width, height, format, object_key, bytes)
    ON CONFLICT (job_id, width, format) DO UPDATE
        SET height = EXCLUDED.height, object_key = EXCLUDED.object_key, bytes = EXCLUDED.bytes
), attempt AS (
    INSERT INTO cdn.attempts (job_id, outcome, processing_ms, bytes_in, bytes_out)
    SELECT done.id, 'done', $8, $9, $10 FROM done
)
SELECT count(*) FROM done
"""

FAIL = """
WITH failed AS (
    UPDATE cdn.jobs
    SET state = CASE WHEN $3::boolean THEN 'dead' ELSE 'retrying' END,
        run_at = now() + make_interval(secs => $4),
        failed_at = CASE WHEN $3::boolean THEN now() ELSE failed_at END,
        last_error = $5, updated_at = now(), lease_token = NULL, lease_until = NULL, worker_id = NULL
    WHERE id = $1 AND lease_token = $2 AND state = 'running'
    RETURNING id
), attempt AS (
    INSERT INTO cdn.attempts (job_id, outcome, processing_ms, bytes_in, error)
    SELECT failed.id, CASE WHEN $3::boolean THEN 'dead' ELSE 'retry' END, $6, $7, $5 FROM failed
)
SELECT count(*) FROM failed
"""

# Defer and release give the attempt back: the job did not really run.
DEFER = """
UPDATE cdn.jobs
SET state = 'retrying', run_at = $3, attempts = attempts - 1, last_error = $4, updated_at = now(),
    lease_token = NULL, lease_until = NULL, worker_id = NULL
WHERE id = $1 AND lease_token = $2 AND state = 'running'
"""

RELEASE = """
UPDATE cdn.jobs
SET state = 'queued', attempts = attempts - 1, updated_at = now(),
    lease_token = NULL, lease_until = NULL, worker_id = NULL
WHERE lease_token = ANY($1::uuid[]) AND state = 'running'
"""

PROMOTE = """
UPDATE cdn.jobs SET state = 'queued', updated_at = now()
WHERE id IN (
    SELECT id FROM cdn.jobs WHERE state = 'retrying' AND run_at <= now() ORDER BY run_at LIMIT $1
    FOR UPDATE SKIP LOCKED
)
"""

# A crashed worker's attempt counts: an image that kills workers must end DEAD, not loop forever.
RESCUE = """
UPDATE cdn.jobs
SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
    failed_at = CASE WHEN attempts >= max_attempts THEN now() ELSE failed_at END,
    last_error = 'lease expired: worker ' || coalesce(worker_id, '?') || ' stopped heartbeating',
    updated_at = now(), lease_token = NULL, lease_until = NULL, worker_id = NULL
WHERE id IN (
    SELECT id FROM cdn.jobs WHERE state = 'running' AND lease_until < now() LIMIT $1
    FOR UPDATE SKIP LOCKED
)
"""

ASSETS = """
SELECT j.id, j.source_url, j.kind, j.state, j.last_error,
       coalesce(array_agg(r.width ORDER BY r.width, r.format) FILTER (WHERE r.job_id IS NOT NULL), '{}') AS widths,
       coalesce(array_agg(r.height ORDER BY r.width, r.format) FILTER (WHERE r.job_id IS NOT NULL), '{}') AS heights,
       coalesce(array_agg(r.format ORDER BY r.width, r.format) FILTER (WHERE r.job_id IS NOT NULL), '{}') AS formats,
       coalesce(array_agg(r.object_key ORDER BY r.width, r.format) FILTER (WHERE r.job_id IS NOT NULL), '{}') AS keys,
       coalesce(array_agg(r.bytes ORDER BY r.width, r.format) FILTER (WHERE r.job_id IS NOT NULL), '{}') AS sizes
FROM cdn.jobs j LEFT JOIN cdn.renditions r ON r.job_id = j.id AND j.state = 'done'
WHERE j.source_url = ANY($1::text[]) AND ($2::smallint = 0 OR j.kind = $2)
GROUP BY j.id
ORDER BY j.kind
"""

LIST_DEAD = """
SELECT id, source_url, kind, priority, attempts, last_error, failed_at
FROM cdn.jobs
WHERE state = 'dead' AND ($2::timestamptz IS NULL OR (failed_at, id) < ($2, $3))
ORDER BY failed_at DESC, id DESC
LIMIT $1
"""

RETRY_DEAD = """
UPDATE cdn.jobs SET state = 'queued', attempts = 0, run_at = now(), updated_at = now()
WHERE state = 'dead' AND ($2::boolean OR id = ANY($1::bigint[]))
"""

# The operators' dead-letter tools: the named jobs that are dead, locked so a check and its change agree.
LOCK_DEAD = """
SELECT id FROM cdn.jobs WHERE id = ANY($1::bigint[]) AND state = 'dead' ORDER BY id FOR UPDATE
"""

# Deletes dead jobs; their renditions (none) and attempts go with them (ON DELETE CASCADE).
DISCARD_DEAD = """
DELETE FROM cdn.jobs WHERE state = 'dead' AND ($2::boolean OR id = ANY($1::bigint[]))
"""

COUNT_DEAD = """
SELECT count(*) FROM cdn.jobs WHERE state = 'dead'
"""

# The gauges read the unfinished jobs only (the partial index jobs_unfinished_idx, index-only), so their cost follows
# the backlog, not every image ever mirrored; DEAD jobs come from jobs_dead_idx (bounded by the retention window).
QUEUE_COUNTS = """
SELECT state, priority, n, prefetched FROM (
    SELECT state, priority, count(*) AS n,
           count(*) FILTER (WHERE state = 'running' AND started_at IS NULL) AS prefetched
      FROM cdn.jobs WHERE state IN ('queued', 'running', 'retrying') GROUP BY state, priority
    UNION ALL
    SELECT 'dead', priority, count(*), 0 FROM cdn.jobs WHERE state = 'dead' GROUP BY priority
) AS counts
ORDER BY state, priority
"""

OLDEST_QUEUED_AGE = """
SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8 FROM cdn.jobs WHERE state = 'queued'
"""

# One replica at a time computes the queue gauges: the one whose connection holds this session lock (freed when the
# connection closes or returns to the pool).
GAUGE_LOCK = """
SELECT pg_try_advisory_lock(hashtext('cdn.queue_gauges'))
"""

# Retention, in bounded batches: each statement locks and deletes at most $2 rows, skipping rows another replica
# holds, so no statement runs long or blocks the queue. DONE jobs stay: their row is the asset record GetAssets
# answers from (its renditions hang off it) and the dedup key of EnqueueJobs; only their attempt history goes.
PURGE_ATTEMPTS = """
DELETE FROM cdn.attempts WHERE id IN (
    SELECT id FROM cdn.attempts WHERE finished_at < now() - make_interval(days => $1) ORDER BY finished_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

# DEAD jobs have no renditions; their attempts go with them (ON DELETE CASCADE).
PURGE_DEAD = """
DELETE FROM cdn.jobs WHERE id IN (
    SELECT id FROM cdn.jobs WHERE state = 'dead' AND failed_at < now() - make_interval(days => $1)
    ORDER BY failed_at LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

STATISTICS = """
WITH days AS (
    SELECT generate_series(
        date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => $1 - 1),
        date_trunc('day', now() AT TIME ZONE 'UTC'),
        interval '1 day') AS day
)
SELECT to_char(d.day, 'YYYY-MM-DD') AS date,
       count(a.id) FILTER (WHERE a.outcome = 'done') AS processed,
       count(a.id) FILTER (WHERE a.outcome <> 'done') AS failed,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY a.processing_ms) FILTER (WHERE a.outcome = 'done'), 0)
           AS p50_ms,
       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY a.processing_ms) FILTER (WHERE a.outcome = 'done'), 0)
           AS p95_ms,
       coalesce(sum(a.bytes_in), 0)::bigint AS bytes_in,
       coalesce(sum(a.bytes_out), 0)::bigint AS bytes_out
FROM days d
LEFT JOIN cdn.attempts a
    ON a.finished_at >= d.day AT TIME ZONE 'UTC' AND a.finished_at < (d.day + interval '1 day') AT TIME ZONE 'UTC'
GROUP BY d.day
ORDER BY d.day
"""


class JobStore:
    """The `JobQueue` over an asyncpg pool (connected as the `cdn_svc` role); rows leave it as the domain's values."""

    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "JobStore used before the service started"
        return self._pool

    async def enqueue(self, jobs: list[NewJob], max_attempts: int) -> dict[tuple[str, Kind], EnqueueResult]:
        rows = unique_jobs(jobs)
        records = await self.pool.fetch(
            ENQUEUE,
            [j.source_url for j in rows],
            [int(j.kind) for j in rows],
            [int(j.priority) for j in rows],
            [j.owner for j in rows],
            max_attempts,
        )
        return {
            (r["source_url"], Kind(r["kind"])): EnqueueResult(
                r["id"], r["source_url"], Kind(r["kind"]), JobState(r["state"]), r["created"]
            )
            for r in records
        }

    async def claim(
        self, limit: int, lease_seconds: float, worker_id: str, starting: int | None = None
    ) -> list[ClaimedJob]:
        records = await self.pool.fetch(CLAIM, limit, lease_seconds, worker_id, limit if starting is None else starting)
        jobs = [
            ClaimedJob(
                r["id"],
                r["source_url"],
                Kind(r["kind"]),
                Priority(r["priority"]),
                r["attempts"],
                r["max_attempts"],
                str(r["lease_token"]),
                r["started"],
            )
            for r in records
        ]
        return sorted(jobs, key=lambda j: (-j.priority, j.id))

    async def mark_started(self, tokens: list[str]) -> int:
        return _count(await self.pool.execute(MARK_STARTED, _uuids(tokens)))

    async def heartbeat(self, tokens: list[str], lease_seconds: float) -> int:
        return _count(await self.pool.execute(HEARTBEAT, _uuids(tokens), lease_seconds))

    async def complete(self, job: ClaimedJob, outcome: Outcome, processing_ms: float) -> bool:
        rs = outcome.renditions
        moved = await self.pool.fetchval(
            COMPLETE,
            job.id,
            uuid.UUID(job.lease_token),
            [r.width for r in rs],
            [r.height for r in rs],
            [r.format for r in rs],
            [r.key for r in rs],
            [r.bytes for r in rs],
            processing_ms,
            outcome.bytes_in,
            outcome.bytes_out,
        )
        return bool(moved)

    async def fail(
        self, job: ClaimedJob, error: str, *, dead: bool, retry_in: float, processing_ms: float, bytes_in: int
    ) -> bool:
        error = error[:MAX_ERROR_LENGTH]
        args = (job.id, uuid.UUID(job.lease_token), dead, retry_in, error, processing_ms, bytes_in)
        return bool(await self.pool.fetchval(FAIL, *args))

    async def defer(self, job: ClaimedJob, run_at: datetime, reason: str) -> bool:
        return _count(await self.pool.execute(DEFER, job.id, uuid.UUID(job.lease_token), run_at, reason)) > 0

    async def release(self, tokens: list[str]) -> int:
        return _count(await self.pool.execute(RELEASE, _uuids(tokens)))

    async def promote(self, limit: int = 1000) -> int:
        return _count(await self.pool.execute(PROMOTE, limit))

    async def rescue(self, limit: int = 1000) -> int:
        return _count(await self.pool.execute(RESCUE, limit))

    async def assets(self, urls: list[str], kind: int) -> list[Asset]:
        return [
            Asset(
                r["id"],
                r["source_url"],
                Kind(r["kind"]),
                JobState(r["state"]),
                r["last_error"],
                tuple(
                    StoredRendition(*rendition)
                    for rendition in zip(r["widths"], r["heights"], r["formats"], r["keys"], r["sizes"], strict=True)
                ),
            )
            for r in await self.pool.fetch(ASSETS, urls, kind)
        ]

    async def dead(self, limit: int, after: tuple[datetime, int] | None) -> list[DeadJob]:
        at, job_id = after if after else (None, 0)
        return [
            DeadJob(
                r["id"],
                r["source_url"],
                Kind(r["kind"]),
                Priority(r["priority"]),
                r["attempts"],
                r["last_error"],
                r["failed_at"],
            )
            for r in await self.pool.fetch(LIST_DEAD, limit, at, job_id)
        ]

    async def retry_dead(self, ids: list[int], every: bool) -> int:
        return _count(await self.pool.execute(RETRY_DEAD, ids, every))

    async def count_dead(self) -> int:
        return int(await self.pool.fetchval(COUNT_DEAD))

    async def retry_dead_exactly(self, ids: list[int], every: bool) -> DeadChange:
        return await self._change_dead(RETRY_DEAD, ids, every)

    async def discard_dead(self, ids: list[int], every: bool) -> DeadChange:
        return await self._change_dead(DISCARD_DEAD, ids, every)

    async def _change_dead(self, statement: str, ids: list[int], every: bool) -> DeadChange:
        async with self.pool.acquire() as conn, conn.transaction():
            if not every:
                found = {row["id"] for row in await conn.fetch(LOCK_DEAD, ids)}
                missing = sorted(set(ids) - found)
                if missing:
                    return DeadChange(0, missing)
            return DeadChange(_count(await conn.execute(statement, ids, every)), [])

    async def queue_counts(self) -> list[QueueCount]:
        return await _queue_counts(self.pool)

    async def oldest_queued_age(self) -> float:
        return await _oldest_queued_age(self.pool)

    async def take_gauge_lock(self) -> GaugeLock | None:
        """Takes the session lock on a pool connection kept until `release` (which resets the session)."""
        conn = await self.pool.acquire()
        try:
            taken = bool(await conn.fetchval(GAUGE_LOCK))
        except BaseException:
            await self.pool.release(conn)
            raise
        if not taken:
            await self.pool.release(conn)
            return None
        return SessionGaugeLock(self.pool, conn)

    async def purge_attempts(self, days: int, batch: int) -> int:
        return _count(await self.pool.execute(PURGE_ATTEMPTS, days, batch))

    async def purge_dead(self, days: int, batch: int) -> int:
        return _count(await self.pool.execute(PURGE_DEAD, days, batch))

    async def statistics(self, days: int) -> list[DayStatistics]:
        return [
            DayStatistics(
                r["date"],
                r["processed"],
                r["failed"],
                r["p50_ms"],
                r["p95_ms"],
                r["bytes_in"],
                r["bytes_out"],
            )
            for r in await self.pool.fetch(STATISTICS, days)
        ]

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1", timeout=2.0)


class SessionGaugeLock:
    """The gauge lock held by the session of one pool connection; the gauge queries run on that connection."""

    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        self._pool = pool
        self._conn: asyncpg.pool.PoolConnectionProxy | None = conn

    async def queue_counts(self) -> list[QueueCount]:
        assert self._conn is not None, "gauge lock used after its release"
        return await _queue_counts(self._conn)

    async def oldest_queued_age(self) -> float:
        assert self._conn is not None, "gauge lock used after its release"
        return await _oldest_queued_age(self._conn)

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Returning the connection resets its session (pg_advisory_unlock_all), or closes it if broken.
            with contextlib.suppress(Exception):
                await self._pool.release(conn, timeout=2.0)


async def _queue_counts(db: asyncpg.Pool | asyncpg.pool.PoolConnectionProxy) -> list[QueueCount]:
    return [
        QueueCount(JobState(r["state"]), Priority(r["priority"]), r["n"], r["prefetched"])
        for r in await db.fetch(QUEUE_COUNTS)
    ]


async def _oldest_queued_age(db: asyncpg.Pool | asyncpg.pool.PoolConnectionProxy) -> float:
    return float(await db.fetchval(OLDEST_QUEUED_AGE))


def _count(status: str) -> int:
    """The row count of an asyncpg command status such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])


def _uuids(tokens: list[str]) -> list[uuid.UUID]:
    return [uuid.UUID(t) for t in tokens]
