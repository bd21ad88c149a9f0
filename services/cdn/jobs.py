"""The job domain, free of I/O: states, priorities, what a claimed job carries, how failures are classified, the retry
backoff, and the port every queue adapter implements (`JobQueue`, with the typed values it returns). The state machine
is documented in services/cdn/README.md and in the proto's JobState comment."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from cdn.v1 import cdn_pb2

from following.errors import InvalidArgument

MAX_BATCH = 500
MAX_URL_LENGTH = 4096


class Kind(IntEnum):
    AVATAR = cdn_pb2.ASSET_KIND_AVATAR
    POST_IMAGE = cdn_pb2.ASSET_KIND_POST_IMAGE


class Priority(IntEnum):
    LOW = cdn_pb2.PRIORITY_LOW
    MEDIUM = cdn_pb2.PRIORITY_MEDIUM
    HIGH = cdn_pb2.PRIORITY_HIGH
    CRITICAL = cdn_pb2.PRIORITY_CRITICAL


PRIORITY_VALUES = frozenset({0, *(int(p) for p in Priority)})


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    DEAD = "dead"


STATE_TO_PROTO = {
    JobState.QUEUED: cdn_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: cdn_pb2.JOB_STATE_RUNNING,
    JobState.RETRYING: cdn_pb2.JOB_STATE_RETRYING,
    JobState.DONE: cdn_pb2.JOB_STATE_DONE,
    JobState.DEAD: cdn_pb2.JOB_STATE_DEAD,
}
#: Upper bound of a stored `last_error`.
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class NewJob:
    source_url: str
    kind: Kind
    priority: Priority
    owner: str


@dataclass(frozen=True)
class ClaimedJob:
    """A job leased to this worker: `lease_token` fences every later write against a rescued-and-reclaimed job."""

    id: int
    source_url: str
    kind: Kind
    priority: Priority
    attempts: int
    max_attempts: int
    lease_token: str
    # False while the job waits in the worker's prefetch buffer (claimed ahead, not yet processing).
    started: bool = True


@dataclass(frozen=True)
class StoredRendition:
    width: int
    height: int
    format: str
    key: str
    bytes: int


@dataclass(frozen=True)
class EnqueueResult:
    """The job of an enqueued (source_url, kind): `created` unless it existed already (its priority may have risen)."""

    id: int
    source_url: str
    kind: Kind
    state: JobState
    created: bool


@dataclass(frozen=True)
class Asset:
    """A job read as the asset record: its renditions (ordered by width, then format) only once it is DONE."""

    id: int
    source_url: str
    kind: Kind
    state: JobState
    last_error: str
    renditions: tuple[StoredRendition, ...] = ()


@dataclass(frozen=True)
class DeadJob:
    id: int
    source_url: str
    kind: Kind
    priority: Priority
    attempts: int
    last_error: str
    failed_at: datetime


@dataclass(frozen=True)
class DeadChange:
    """What a retry or discard of dead jobs did: `changed` jobs, or none and the named ids that are not dead."""

    changed: int
    missing: list[int]


@dataclass(frozen=True)
class QueueCount:
    """The jobs of one state and priority; `prefetched` are RUNNING ones still waiting in a worker's buffer."""

    state: JobState
    priority: Priority
    count: int
    prefetched: int = 0


@dataclass(frozen=True)
class DayStatistics:
    """One UTC day of finished attempts: successful jobs, failed attempts, processing time of the successful ones."""

    date: str
    processed: int
    failed: int
    p50_ms: float
    p95_ms: float
    bytes_in: int
    bytes_out: int


@dataclass
class Outcome:
    """What a successful run produced."""

    renditions: list[StoredRendition] = field(default_factory=list)
    bytes_in: int = 0

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes for r in self.renditions)


class JobFailure(Exception):
    """A run failed. `permanent` failures (bad image, refused URL, HTTP 4xx) go straight to DEAD."""

    permanent = False


class PermanentFailure(JobFailure):
    permanent = True


class TransientFailure(JobFailure):
    permanent = False


class Deferred(Exception):
    """The run did not start (breaker open, rate limit): put the job back without spending an attempt."""

    def __init__(self, reason: str, run_at: datetime) -> None:
        super().__init__(reason)
        self.run_at = run_at


class GaugeLock(Protocol):
    """The right to compute the queue gauges, held by one replica at a time until released (or its holder is gone)."""

    async def queue_counts(self) -> list[QueueCount]: ...

    async def oldest_queued_age(self) -> float: ...

    async def release(self) -> None: ...


class JobQueue(Protocol):
    """The durable job queue, as the worker pool, the maintenance components and the handlers see it. Every write by a
    worker is fenced by the job's lease token: a job whose lease expired and was rescued is no longer that worker's.
    Implemented by `store.JobStore` (PostgreSQL) and `memory_queue.MemoryQueue` (in memory, one process)."""

    async def enqueue(self, jobs: list[NewJob], max_attempts: int) -> dict[tuple[str, Kind], EnqueueResult]:
        """Creates QUEUED jobs for new (source_url, kind) pairs; an existing job keeps its state and gets the higher of
        the two priorities. Within `jobs` the highest priority of a pair wins."""
        ...

    async def claim(
        self, limit: int, lease_seconds: float, worker_id: str, starting: int | None = None
    ) -> list[ClaimedJob]:
        """Leases up to `limit` QUEUED jobs, most urgent (priority, then enqueue order) first, spending an attempt each;
        the first `starting` (default all) are marked started, the rest wait in the worker's prefetch buffer."""
        ...

    async def mark_started(self, tokens: list[str]) -> int:
        """Prefetched jobs a worker took out of its buffer and started."""
        ...

    async def heartbeat(self, tokens: list[str], lease_seconds: float) -> int:
        """Extends the leases of these RUNNING jobs to `lease_seconds` from now."""
        ...

    async def complete(self, job: ClaimedJob, outcome: Outcome, processing_ms: float) -> bool:
        """RUNNING → DONE with its renditions and one attempt recorded; False when the lease is no longer the job's."""
        ...

    async def fail(
        self, job: ClaimedJob, error: str, *, dead: bool, retry_in: float, processing_ms: float, bytes_in: int
    ) -> bool:
        """RUNNING → DEAD, or RETRYING until `retry_in` seconds from now; one attempt recorded."""
        ...

    async def defer(self, job: ClaimedJob, run_at: datetime, reason: str) -> bool:
        """RUNNING → RETRYING until `run_at`, the attempt given back (the run did not start)."""
        ...

    async def release(self, tokens: list[str]) -> int:
        """RUNNING → QUEUED at once, the attempt given back (graceful stop)."""
        ...

    async def promote(self, limit: int = 1000) -> int:
        """The scheduler: RETRYING jobs whose `run_at` passed → QUEUED."""
        ...

    async def rescue(self, limit: int = 1000) -> int:
        """The rescuer: RUNNING jobs whose lease expired → QUEUED, or DEAD when that was their last attempt."""
        ...

    async def assets(self, urls: list[str], kind: int) -> list[Asset]:
        """The jobs of these URLs (of `kind`, or every kind for 0), ordered by kind."""
        ...

    async def dead(self, limit: int, after: tuple[datetime, int] | None) -> list[DeadJob]:
        """DEAD jobs, newest failure first, after the (failed_at, id) of the previous page."""
        ...

    async def count_dead(self) -> int: ...

    async def retry_dead(self, ids: list[int], every: bool) -> int:
        """DEAD → QUEUED with a fresh attempt budget, for the named jobs that are dead (or all)."""
        ...

    async def retry_dead_exactly(self, ids: list[int], every: bool) -> DeadChange:
        """Like `retry_dead`, but all or nothing: if a named job is not dead, nothing changes."""
        ...

    async def discard_dead(self, ids: list[int], every: bool) -> DeadChange:
        """Deletes the named dead jobs (or all) with their attempts; all or nothing like `retry_dead_exactly`."""
        ...

    async def queue_counts(self) -> list[QueueCount]:
        """Unfinished and DEAD jobs by state and priority (DONE ones are not counted), ordered by state, priority."""
        ...

    async def oldest_queued_age(self) -> float:
        """Seconds since the longest-waiting QUEUED job became due; 0 when none is queued."""
        ...

    async def take_gauge_lock(self) -> GaugeLock | None:
        """The gauge lock, if no other holder has it."""
        ...

    async def purge_attempts(self, days: int, batch: int) -> int:
        """Deletes up to `batch` attempts that finished more than `days` ago, oldest first."""
        ...

    async def purge_dead(self, days: int, batch: int) -> int:
        """Deletes up to `batch` jobs that went DEAD more than `days` ago, oldest first, with their attempts."""
        ...

    async def statistics(self, days: int) -> list[DayStatistics]:
        """The last `days` UTC days, oldest first, today included."""
        ...

    async def ping(self) -> None:
        """Raises when the queue cannot be reached."""
        ...


def unique_jobs(jobs: Iterable[NewJob]) -> list[NewJob]:
    """One job per (source_url, kind) of an enqueue request, with the highest priority asked for it."""
    unique: dict[tuple[str, Kind], NewJob] = {}
    for job in jobs:
        seen = unique.get((job.source_url, job.kind))
        if seen is None or job.priority > seen.priority:
            unique[(job.source_url, job.kind)] = job
    return list(unique.values())


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, so retries spread out but never
    come back sooner than half the exponential step. `attempt` counts from 1."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + (rng or random).uniform(0, step / 2)


def parse_specs(specs: list[cdn_pb2.JobSpec]) -> list[NewJob]:
    if not specs:
        raise InvalidArgument("jobs: at least one job is required")
    if len(specs) > MAX_BATCH:
        raise InvalidArgument(f"jobs: at most {MAX_BATCH} per call; got {len(specs)}")
    jobs = []
    for index, spec in enumerate(specs):
        check_source_url(spec.source_url, f"jobs[{index}].source_url")
        if spec.kind not in (Kind.AVATAR, Kind.POST_IMAGE):
            raise InvalidArgument(f"jobs[{index}].kind: must be AVATAR or POST_IMAGE")
        if spec.priority not in PRIORITY_VALUES:
            raise InvalidArgument(f"jobs[{index}].priority: unknown value {spec.priority}")
        priority = Priority(spec.priority) if spec.priority else Priority.MEDIUM
        jobs.append(NewJob(spec.source_url, Kind(spec.kind), priority, spec.owner[:200]))
    return jobs


def check_source_url(url: str, where: str) -> None:
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(f"{where}: must be 1-{MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. "http://[x]/"
        usable = False
    if not usable:
        raise InvalidArgument(f"{where}: must be an http(s) URL with a host; got {url[:100]!r}")
