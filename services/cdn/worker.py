"""The worker pool of one replica: claims jobs up to its concurrency limit, runs them through a processor, renews
their leases with heartbeats, records each outcome, and on shutdown stops claiming, lets in-flight jobs finish within
the grace period and releases the rest back to QUEUED. The claimer and the heartbeat are loops of the service's
supervisor (following.supervisor), so no error can stop them for good."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from following.db import CONNECTION_ERRORS
from following.supervisor import Loop, Supervisor
from services.cdn.jobs import ClaimedJob, Deferred, JobFailure, JobQueue, Outcome, backoff_seconds
from services.cdn.telemetry import PROCESSING, LiveCounters

log = logging.getLogger(__name__)
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
RECORD_RETRY_FIRST_S = 0.1
RECORD_RETRY_MAX_S = 2.0

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
    def __init__(self, queue: JobQueue, processor: Processor, counters: LiveCounters, settings: PoolSettings) -> None:
        self.queue = queue
        self.processor = processor
        self.counters = counters
        self.settings = settings
        self.worker_id = f"{uuid.uuid4().hex[:12]}"
        self._inflight: dict[asyncio.Task[None], ClaimedJob] = {}
        #: Claimed ahead (up to `prefetch`), so one claim round trip feeds several jobs; leased and heartbeated too.
        self._buffer: deque[ClaimedJob] = deque()
        self._stopping = asyncio.Event()
        self._claimer: Loop | None = None
        self._heartbeat: Loop | None = None
        self._unmarked: list[str] = []
        self._marker: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        return len(self._inflight)

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        """Runs the claimer and the heartbeat as supervised loops (a failing step is retried with backoff)."""
        self._claimer = supervisor.add("cdn-claimer", self._claim_step, deadline_s=deadline_s)
        self._heartbeat = supervisor.add("cdn-heartbeat", self._heartbeat_step, deadline_s=deadline_s)

    def wake(self) -> None:
        """New work was enqueued: claim now instead of at the next poll."""
        if self._claimer is not None:
            self._claimer.wake()

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        if self._claimer is not None:
            await self._claimer.stop(grace)
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
        if self._heartbeat is not None:
            await self._heartbeat.stop(0.1)
        if self._marker is not None and not self._marker.done():
            await asyncio.wait([self._marker], timeout=1.0)

    async def _release(self, jobs: list[ClaimedJob]) -> None:
        try:
            released = await self.queue.release([job.lease_token for job in jobs])
            log.warning("released unstarted or unfinished jobs", extra={"jobs": released})
        except Exception as exc:  # whatever it is, the rescuer requeues the jobs when their leases expire
            log.error(
                "could not release jobs; the rescuer will",
                extra={"error": str(exc)},
                exc_info=not isinstance(exc, DB_ERRORS),
            )

    async def _claim_step(self) -> float:
        """Starts buffered jobs, claims more when the buffer is empty; returns how long to wait before the next try."""
        self._start_buffered()
        if self._buffer or self._stopping.is_set():
            return self.settings.poll_interval  # every slot busy; a finishing job wakes the claimer
        want = self.settings.concurrency + self.settings.prefetch - len(self._inflight)
        starting = self.settings.concurrency - len(self._inflight)
        jobs = await self.queue.claim(want, self.settings.lease_seconds, self.worker_id, starting)
        self.counters.event("claimed", len(jobs))
        self._buffer.extend(jobs)
        self._start_buffered()
        return 0.0 if jobs else self.settings.poll_interval

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
                await self.queue.mark_started(tokens)
            except DB_ERRORS as exc:
                log.warning("could not mark prefetched jobs started", extra={"error": str(exc)})

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self.counters.set_active(len(self._inflight))
        self.wake()

    async def _heartbeat_step(self) -> float:
        """Renews the leases of running and buffered jobs; a failure is retried by the supervisor."""
        tokens = [job.lease_token for job in (*self._inflight.values(), *self._buffer)]
        if tokens:
            await self.queue.heartbeat(tokens, self.settings.lease_seconds)
        return self.settings.lease_seconds / 3

    async def _run(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        try:
            outcome = await self.processor(job)
        except Deferred as deferred:
            run_at, reason = deferred.run_at, str(deferred)
            await self._record(lambda: self.queue.defer(job, run_at, reason), job)
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
        if await self._record(lambda: self.queue.complete(job, outcome, elapsed_ms), job):
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
        if await self._record(
            lambda: self.queue.fail(job, error, dead=dead, retry_in=delay, processing_ms=elapsed_ms, bytes_in=0), job
        ):
            self.counters.event("failed")
            if dead:
                self.counters.event("dead")
            log.warning("job failed", extra={"job_id": job.id, "error": error, "dead": dead, "retry_in_s": delay})

    async def _record(self, write: Callable[[], Awaitable[bool]], job: ClaimedJob) -> bool:
        """Writes an outcome. While the database is unreachable the write is retried with backoff for up to one lease
        (the job keeps its slot, so its lease is still heartbeated), as finished work is worth recording rather than
        redoing. On a lost lease, another error or after that, the rescuer takes over (the work is idempotent)."""
        deadline = time.monotonic() + self.settings.lease_seconds
        pause = RECORD_RETRY_FIRST_S
        while True:
            try:
                if await write():
                    return True
                log.warning("lease lost before the outcome was recorded", extra={"job_id": job.id})
                return False
            except CONNECTION_ERRORS as exc:
                if time.monotonic() + pause > deadline:
                    log.error(
                        "could not record job outcome; the rescuer will", extra={"job_id": job.id, "error": f"{exc}"}
                    )
                    return False
                log.info("outcome not recorded yet; retrying", extra={"job_id": job.id, "error": str(exc)})
            except Exception:
                log.exception("could not record job outcome; the rescuer will", extra={"job_id": job.id})
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECORD_RETRY_MAX_S)
