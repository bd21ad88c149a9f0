"""The worker pool's own rules, over the in-memory queue (no database): it fills its slots and its prefetch buffer,
records each outcome by failure class, and on stop gives back the jobs it did not finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from following.supervisor import Supervisor
from services.cdn.jobs import ClaimedJob, Deferred, JobState, Kind, NewJob, Outcome, PermanentFailure, Priority
from services.cdn.memory_queue import MemoryQueue
from services.cdn.telemetry import LiveCounters
from services.cdn.worker import PoolSettings, WorkerPool

SETTINGS = PoolSettings(
    concurrency=2, prefetch=2, lease_seconds=30, poll_interval=0.01, backoff_base_seconds=60, backoff_max_seconds=60
)


def job(name: str) -> NewJob:
    return NewJob(f"https://x.cdninstagram.com/{name}.jpg", Kind.POST_IMAGE, Priority.MEDIUM, "test")


async def until(condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 5.0) -> None:
    end = time.monotonic() + deadline_s
    while not await condition():
        assert time.monotonic() < end, f"not {what} within {deadline_s} s"
        await asyncio.sleep(0.01)


async def test_the_pool_fills_its_slots_and_buffer_and_releases_what_it_did_not_finish() -> None:
    queue, gate = MemoryQueue(), asyncio.Event()

    async def blocked(claimed: ClaimedJob) -> Outcome:
        await gate.wait()
        return Outcome()

    await queue.enqueue([job(str(n)) for n in range(5)], 5)
    supervisor = Supervisor()
    pool = WorkerPool(queue, blocked, LiveCounters(), SETTINGS)
    pool.start(supervisor, deadline_s=10)

    async def running_and_prefetched() -> bool:
        return [(c.state, c.count, c.prefetched) for c in await queue.queue_counts()] == [
            (JobState.QUEUED, 1, 0),
            (JobState.RUNNING, 4, 2),
        ]

    try:
        await until(running_and_prefetched, "two jobs running and two prefetched")
        assert pool.active == 2
        await pool.stop(grace=0.05)
    finally:
        gate.set()
        await supervisor.stop()
    assert [(c.state, c.count) for c in await queue.queue_counts()] == [(JobState.QUEUED, 5)]
    assert {j.attempts for j in queue.jobs.values()} == {0}


async def test_outcomes_are_recorded_by_failure_class() -> None:
    queue = MemoryQueue()

    async def by_name(claimed: ClaimedJob) -> Outcome:
        if claimed.source_url.endswith("/bad.jpg"):
            raise PermanentFailure("not an image")
        if claimed.source_url.endswith("/held.jpg"):
            raise Deferred("breaker open", datetime.now(UTC) + timedelta(hours=1))
        if claimed.source_url.endswith("/flaky.jpg"):
            raise RuntimeError("boom")
        return Outcome()

    await queue.enqueue([job("ok"), job("bad"), job("held"), job("flaky")], 5)
    supervisor = Supervisor()
    counters = LiveCounters()
    pool = WorkerPool(queue, by_name, counters, SETTINGS)
    pool.start(supervisor, deadline_s=10)

    async def settled() -> bool:
        return all(j.state not in (JobState.QUEUED, JobState.RUNNING) for j in queue.jobs.values()) and not pool.active

    try:
        await until(settled, "every job recorded")
    finally:
        await pool.stop(grace=1)
        await supervisor.stop()
    assets = await queue.assets([j.source_url for j in queue.jobs.values()], 0)
    found = {a.source_url.rsplit("/", 1)[-1]: (a.state, a.last_error) for a in assets}
    assert found == {
        "ok.jpg": (JobState.DONE, ""),
        "bad.jpg": (JobState.DEAD, "not an image"),
        "held.jpg": (JobState.RETRYING, "breaker open"),
        "flaky.jpg": (JobState.RETRYING, "internal error: RuntimeError: boom"),
    }
    assert {j.source_url.rsplit("/", 1)[-1]: j.attempts for j in queue.jobs.values()} == {
        "ok.jpg": 1,
        "bad.jpg": 1,
        "held.jpg": 0,
        "flaky.jpg": 1,
    }
    assert (counters.done, counters.failed, counters.dead) == (1, 2, 1)
