"""The worker pool of one replica: claims jobs up to its concurrency limit, runs them through a processor, renews
their leases with heartbeats, records each outcome, and on shutdown stops claiming, lets in-flight jobs finish within
the grace period and releases the rest back to QUEUED."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

import asyncpg

from services.cdn.jobs import ClaimedJob, Deferred, JobFailure, Outcome, backoff_seconds
from services.cdn.store import JobStore
from services.cdn.telemetry import PROCESSING, LiveCounters

log = logging.getLogger(__name__)
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

Processor = Callable[[ClaimedJob], Awaitable[Outcome]]


@dataclass(frozen=True)
class PoolSettings:
    concurrency: int
    prefetch: int
    lease_seconds: float
    poll_interval: float
    backoff_base_seconds: float
    backoff_max_seconds: float


class WorkerPool:
    def __init__(self, store: JobStore, processor: Processor, counters: LiveCounters, settings: PoolSettings) -> None:
        self.store = store
        self.processor = processor
        self.counters = counters
        self.settings = settings
        self.worker_id = f"{uuid.uuid4().hex[:12]}"
        self._inflight: dict[asyncio.Task[None], ClaimedJob] = {}
        #: Claimed ahead (up to `prefetch`), so one claim round trip feeds several jobs; leased and heartbeated too.
        self._buffer: deque[ClaimedJob] = deque()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._unmarked: list[str] = []
        self._marker: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        return len(self._inflight)

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="cdn-claimer"),
            asyncio.create_task(self._heartbeat_loop(), name="cdn-heartbeat"),
        ]

    def wake(self) -> None:
        """New work was enqueued: claim now instead of at the next poll."""
        self._wake.set()

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        self._wake.set()
        claimer, heartbeat = self._loops or (None, None)
        if claimer is not None:
            await claimer
        if self._buffer:
            await self._release(list(self._buffer))
            self._buffer.clear()
        pending = set(self._inflight)
        if pending:
            log.info("waiting for in-flight jobs", extra={"jobs": len(pending), "grace_s": grace})
            _done, pending = await asyncio.wait(pending, timeout=max(0.0, grace))
        leftover = [self._inflight[t] for t in pending if t in self._inflight]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        if leftover:
            await self._release(leftover)
        if heartbeat is not None:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
        if self._marker is not None and not self._marker.done():
            await asyncio.wait([self._marker], timeout=1.0)

    async def _release(self, jobs: list[ClaimedJob]) -> None:
        try:
            released = await self.store.release([job.lease_token for job in jobs])
            log.warning("released unstarted or unfinished jobs", extra={"jobs": released})
        except DB_ERRORS as exc:
            log.error("could not release jobs; the rescuer will", extra={"error": str(exc)})

    async def _claim_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._start_buffered()
            if self._buffer:
                await self._wait(None)  # every slot busy; a finishing job wakes us
                continue
            want = self.settings.concurrency + self.settings.prefetch - len(self._inflight)
            try:
                starting = self.settings.concurrency - len(self._inflight)
                jobs = await self.store.claim(want, self.settings.lease_seconds, self.worker_id, starting)
                failures = 0
            except DB_ERRORS as exc:
                failures += 1
                log.warning("claim failed", extra={"error": str(exc)})
                await self._wait(min(self.settings.poll_interval * 2**failures, 10.0))
                continue
            self.counters.event("claimed", len(jobs))
            self._buffer.extend(jobs)
            self._start_buffered()
            if not jobs:
                await self._wait(self.settings.poll_interval)

    def _start_buffered(self) -> None:
        prefetched: list[str] = []
        while self._buffer and len(self._inflight) < self.settings.concurrency and not self._stopping.is_set():
            job = self._buffer.popleft()
            if not job.started:
                prefetched.append(job.lease_token)
            task = asyncio.create_task(self._run(job), name=f"cdn-job-{job.id}")
            self._inflight[task] = job
            task.add_done_callback(self._finished)
        self.counters.set_active(len(self._inflight))
        if prefetched:
            # Off the job's path, one statement in flight at a time (marks made meanwhile go in the next one): the
            # mark only feeds the queue status (running vs prefetched).
            self._unmarked.extend(prefetched)
            if self._marker is None or self._marker.done():
                self._marker = asyncio.create_task(self._mark_started())

    async def _mark_started(self) -> None:
        while self._unmarked:
            tokens, self._unmarked = self._unmarked, []
            try:
                await self.store.mark_started(tokens)
            except DB_ERRORS as exc:
                log.warning("could not mark prefetched jobs started", extra={"error": str(exc)})

    async def _wait(self, seconds: float | None) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self.counters.set_active(len(self._inflight))
        self._wake.set()

    async def _heartbeat_loop(self) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            tokens = [job.lease_token for job in (*self._inflight.values(), *self._buffer)]
            if not tokens:
                continue
            try:
                await self.store.heartbeat(tokens, self.settings.lease_seconds)
            except DB_ERRORS as exc:
                log.warning("heartbeat failed", extra={"error": str(exc)})

    async def _run(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        try:
            outcome = await self.processor(job)
        except Deferred as deferred:
            await self._record(self.store.defer(job, deferred.run_at, str(deferred)), job)
            return
        except JobFailure as failure:
            await self._failed(job, str(failure) or type(failure).__name__, failure.permanent, started)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("job crashed", extra={"job_id": job.id})
            await self._failed(job, f"internal error: {type(exc).__name__}: {exc}", False, started)
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        if await self._record(self.store.complete(job, outcome, elapsed_ms), job):
            self.counters.event("done")
            self.counters.transfer(outcome.bytes_in, outcome.bytes_out)
            PROCESSING.observe(elapsed_ms / 1000)

    async def _failed(self, job: ClaimedJob, error: str, permanent: bool, started: float) -> None:
        dead = permanent or job.attempts >= job.max_attempts
        delay = (
            0.0
            if dead
            else backoff_seconds(job.attempts, self.settings.backoff_base_seconds, self.settings.backoff_max_seconds)
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        call = self.store.fail(job, error, dead=dead, retry_in=delay, processing_ms=elapsed_ms, bytes_in=0)
        if await self._record(call, job):
            self.counters.event("failed")
            if dead:
                self.counters.event("dead")
            log.warning("job failed", extra={"job_id": job.id, "error": error, "dead": dead, "retry_in_s": delay})

    async def _record(self, write: Awaitable[bool], job: ClaimedJob) -> bool:
        """Writes an outcome; on a lost lease or a database error the rescuer takes over (the work is idempotent)."""
        try:
            if await write:
                return True
            log.warning("lease lost before the outcome was recorded", extra={"job_id": job.id})
        except DB_ERRORS as exc:
            log.error("could not record job outcome", extra={"job_id": job.id, "error": str(exc)})
        return False
