"""The in-memory adapter of the job queue (`jobs.JobQueue`): the Postgres store's semantics (priorities, leases fenced
by their token, attempts, dead letters, retry and discard, retention, idempotent enqueue, one gauge-lock holder) in
one process's memory, for tests of the queue's users and as the executable statement of what the port means. The
conformance suite (tests/cdn/test_queue_conformance.py) holds both adapters to the same behaviour.

Every method runs without awaiting, so each is atomic on its event loop, as each store statement is in PostgreSQL.
Nothing is durable and nothing is shared between processes: not for production."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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

Clock = Callable[[], datetime]
UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredJob:
    """One job, with the fields the queue's behaviour depends on."""

    id: int
    source_url: str
    kind: Kind
    priority: Priority
    owner: str
    max_attempts: int
    run_at: datetime
    state: JobState = JobState.QUEUED
    attempts: int = 0
    lease_token: str | None = None
    lease_until: datetime | None = None
    worker_id: str | None = None
    started_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str = ""
    renditions: dict[tuple[int, str], StoredRendition] = field(default_factory=dict)

    def leased_to(self, token: str) -> bool:
        return self.state is JobState.RUNNING and self.lease_token == token

    def end_lease(self) -> None:
        self.lease_token = self.lease_until = self.worker_id = None


@dataclass
class StoredAttempt:
    job_id: int
    outcome: str
    processing_ms: float
    finished_at: datetime
    bytes_in: int = 0
    bytes_out: int = 0
    error: str = ""


class MemoryQueue:
    """The `JobQueue` in memory; `clock` gives the current time (UTC)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        #: Inspected (and backdated) by tests.
        self.jobs: dict[int, StoredJob] = {}
        self.attempts: list[StoredAttempt] = []
        self._by_key: dict[tuple[str, Kind], StoredJob] = {}
        self._next_id = 1
        self._gauge_holder: MemoryGaugeLock | None = None

    async def enqueue(self, jobs: list[NewJob], max_attempts: int) -> dict[tuple[str, Kind], EnqueueResult]:
        results = {}
        for new in unique_jobs(jobs):
            key = (new.source_url, new.kind)
            job = self._by_key.get(key)
            created = job is None
            if job is None:
                job = StoredJob(
                    self._next_id, new.source_url, new.kind, new.priority, new.owner, max_attempts, self.clock()
                )
                self._next_id += 1
                self.jobs[job.id] = job
                self._by_key[key] = job
            else:
                job.priority = max(job.priority, new.priority)
            results[key] = EnqueueResult(job.id, job.source_url, job.kind, job.state, created)
        return results

    async def claim(
        self, limit: int, lease_seconds: float, worker_id: str, starting: int | None = None
    ) -> list[ClaimedJob]:
        now = self.clock()
        starting = limit if starting is None else starting
        queued = sorted(self._in(JobState.QUEUED), key=lambda j: (-j.priority, j.id))[: max(limit, 0)]
        claimed = []
        for rank, job in enumerate(queued):
            job.state = JobState.RUNNING
            job.attempts += 1
            job.lease_token = str(uuid.uuid4())
            job.lease_until = now + timedelta(seconds=lease_seconds)
            job.worker_id = worker_id
            job.started_at = now if rank < starting else None
            claimed.append(
                ClaimedJob(
                    job.id,
                    job.source_url,
                    job.kind,
                    job.priority,
                    job.attempts,
                    job.max_attempts,
                    job.lease_token,
                    job.started_at is not None,
                )
            )
        return claimed

    async def mark_started(self, tokens: list[str]) -> int:
        now = self.clock()
        jobs = self._leased(tokens)
        for job in jobs:
            job.started_at = now
        return len(jobs)

    async def heartbeat(self, tokens: list[str], lease_seconds: float) -> int:
        until = self.clock() + timedelta(seconds=lease_seconds)
        jobs = self._leased(tokens)
        for job in jobs:
            job.lease_until = until
        return len(jobs)

    async def complete(self, job: ClaimedJob, outcome: Outcome, processing_ms: float) -> bool:
        stored = self.jobs.get(job.id)
        if stored is None or not stored.leased_to(job.lease_token):
            return False
        stored.state = JobState.DONE
        stored.last_error = ""
        stored.end_lease()
        for rendition in outcome.renditions:
            stored.renditions[(rendition.width, rendition.format)] = rendition
        self.attempts.append(
            StoredAttempt(stored.id, "done", processing_ms, self.clock(), outcome.bytes_in, outcome.bytes_out)
        )
        return True

    async def fail(
        self, job: ClaimedJob, error: str, *, dead: bool, retry_in: float, processing_ms: float, bytes_in: int
    ) -> bool:
        stored = self.jobs.get(job.id)
        if stored is None or not stored.leased_to(job.lease_token):
            return False
        now = self.clock()
        error = error[:MAX_ERROR_LENGTH]
        stored.state = JobState.DEAD if dead else JobState.RETRYING
        stored.run_at = now + timedelta(seconds=retry_in)
        if dead:
            stored.failed_at = now
        stored.last_error = error
        stored.end_lease()
        self.attempts.append(
            StoredAttempt(stored.id, "dead" if dead else "retry", processing_ms, now, bytes_in, error=error)
        )
        return True

    async def defer(self, job: ClaimedJob, run_at: datetime, reason: str) -> bool:
        stored = self.jobs.get(job.id)
        if stored is None or not stored.leased_to(job.lease_token):
            return False
        stored.state = JobState.RETRYING
        stored.run_at = run_at
        stored.attempts -= 1
        stored.last_error = reason
        stored.end_lease()
        return True

    async def release(self, tokens: list[str]) -> int:
        jobs = self._leased(tokens)
        for job in jobs:
            job.state = JobState.QUEUED
            job.attempts -= 1
            job.end_lease()
        return len(jobs)

    async def promote(self, limit: int = 1000) -> int:
        now = self.clock()
        due = sorted((j for j in self._in(JobState.RETRYING) if j.run_at <= now), key=lambda j: j.run_at)[:limit]
        for job in due:
            job.state = JobState.QUEUED
        return len(due)

    async def rescue(self, limit: int = 1000) -> int:
        now = self.clock()
        expired = [j for j in self._in(JobState.RUNNING) if j.lease_until is not None and j.lease_until < now][:limit]
        for job in expired:
            # A crashed worker's attempt counts: an image that kills workers must end DEAD, not loop forever.
            if job.attempts >= job.max_attempts:
                job.state = JobState.DEAD
                job.failed_at = now
            else:
                job.state = JobState.QUEUED
            job.last_error = f"lease expired: worker {job.worker_id or '?'} stopped heartbeating"
            job.end_lease()
        return len(expired)

    async def assets(self, urls: list[str], kind: int) -> list[Asset]:
        wanted = set(urls)
        found = sorted(
            (j for j in self.jobs.values() if j.source_url in wanted and kind in (0, j.kind)),
            key=lambda j: (j.kind, j.id),
        )
        return [
            Asset(
                j.id,
                j.source_url,
                j.kind,
                j.state,
                j.last_error,
                tuple(j.renditions[k] for k in sorted(j.renditions)) if j.state is JobState.DONE else (),
            )
            for j in found
        ]

    async def dead(self, limit: int, after: tuple[datetime, int] | None) -> list[DeadJob]:
        dead = [j for j in self._in(JobState.DEAD) if after is None or (self._failed_at(j), j.id) < after]
        dead.sort(key=lambda j: (self._failed_at(j), j.id), reverse=True)
        return [
            DeadJob(j.id, j.source_url, j.kind, j.priority, j.attempts, j.last_error, self._failed_at(j))
            for j in dead[:limit]
        ]

    async def count_dead(self) -> int:
        return len(self._in(JobState.DEAD))

    async def retry_dead(self, ids: list[int], every: bool) -> int:
        now = self.clock()
        jobs = self._dead_named(ids, every)
        for job in jobs:
            job.state = JobState.QUEUED
            job.attempts = 0
            job.run_at = now
        return len(jobs)

    async def retry_dead_exactly(self, ids: list[int], every: bool) -> DeadChange:
        missing = self._missing_dead(ids, every)
        return DeadChange(0, missing) if missing else DeadChange(await self.retry_dead(ids, every), [])

    async def discard_dead(self, ids: list[int], every: bool) -> DeadChange:
        missing = self._missing_dead(ids, every)
        if missing:
            return DeadChange(0, missing)
        jobs = self._dead_named(ids, every)
        self._delete(jobs)
        return DeadChange(len(jobs), [])

    async def queue_counts(self) -> list[QueueCount]:
        counts: dict[tuple[JobState, Priority], list[int]] = {}
        for job in self.jobs.values():
            if job.state is JobState.DONE:
                continue
            entry = counts.setdefault((job.state, job.priority), [0, 0])
            entry[0] += 1
            if job.state is JobState.RUNNING and job.started_at is None:
                entry[1] += 1
        return [
            QueueCount(state, priority, n, prefetched) for (state, priority), (n, prefetched) in sorted(counts.items())
        ]

    async def oldest_queued_age(self) -> float:
        queued = self._in(JobState.QUEUED)
        if not queued:
            return 0.0
        return (self.clock() - min(j.run_at for j in queued)).total_seconds()

    async def take_gauge_lock(self) -> GaugeLock | None:
        if self._gauge_holder is not None:
            return None
        self._gauge_holder = MemoryGaugeLock(self)
        return self._gauge_holder

    async def purge_attempts(self, days: int, batch: int) -> int:
        cutoff = self.clock() - timedelta(days=days)
        old = sorted((a for a in self.attempts if a.finished_at < cutoff), key=lambda a: a.finished_at)[:batch]
        gone = {id(a) for a in old}
        self.attempts = [a for a in self.attempts if id(a) not in gone]
        return len(old)

    async def purge_dead(self, days: int, batch: int) -> int:
        cutoff = self.clock() - timedelta(days=days)
        old = sorted(
            (j for j in self._in(JobState.DEAD) if self._failed_at(j) < cutoff), key=lambda j: self._failed_at(j)
        )[:batch]
        self._delete(old)
        return len(old)

    async def statistics(self, days: int) -> list[DayStatistics]:
        today = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        for back in range(days - 1, -1, -1):
            start = today - timedelta(days=back)
            end = start + timedelta(days=1)
            of_day = [a for a in self.attempts if start <= a.finished_at < end]
            times = sorted(a.processing_ms for a in of_day if a.outcome == "done")
            out.append(
                DayStatistics(
                    start.strftime("%Y-%m-%d"),
                    len(times),
                    len(of_day) - len(times),
                    _percentile(times, 0.5),
                    _percentile(times, 0.95),
                    sum(a.bytes_in for a in of_day),
                    sum(a.bytes_out for a in of_day),
                )
            )
        return out

    async def ping(self) -> None:
        return None

    def _in(self, state: JobState) -> list[StoredJob]:
        return [j for j in self.jobs.values() if j.state is state]

    def _leased(self, tokens: Iterable[str]) -> list[StoredJob]:
        wanted = set(tokens)
        return [j for j in self._in(JobState.RUNNING) if j.lease_token in wanted]

    def _dead_named(self, ids: list[int], every: bool) -> list[StoredJob]:
        named = set(ids)
        return [j for j in self._in(JobState.DEAD) if every or j.id in named]

    def _missing_dead(self, ids: list[int], every: bool) -> list[int]:
        if every:
            return []
        dead = {j.id for j in self._in(JobState.DEAD)}
        return sorted(set(ids) - dead)

    def _delete(self, jobs: list[StoredJob]) -> None:
        ids = {j.id for j in jobs}
        for job in jobs:
            del self.jobs[job.id]
            del self._by_key[(job.source_url, job.kind)]
        self.attempts = [a for a in self.attempts if a.job_id not in ids]

    @staticmethod
    def _failed_at(job: StoredJob) -> datetime:
        assert job.failed_at is not None, "a DEAD job has a failure time"
        return job.failed_at


class MemoryGaugeLock:
    """The gauge lock of a `MemoryQueue`: one holder at a time."""

    def __init__(self, queue: MemoryQueue) -> None:
        self._queue: MemoryQueue | None = queue

    async def queue_counts(self) -> list[QueueCount]:
        return await self._held().queue_counts()

    async def oldest_queued_age(self) -> float:
        return await self._held().oldest_queued_age()

    async def release(self) -> None:
        queue, self._queue = self._queue, None
        if queue is not None and queue._gauge_holder is self:
            queue._gauge_holder = None

    def _held(self) -> MemoryQueue:
        assert self._queue is not None, "gauge lock used after its release"
        return self._queue


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest values; 0 for none."""
    if not sorted_values:
        return 0.0
    position = fraction * (len(sorted_values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)
