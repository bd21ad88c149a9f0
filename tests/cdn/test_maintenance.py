"""The maintenance components over the in-memory queue: each is its own named loop of the supervisor, with a deadline
counted from its planned next iteration; the rescuer counts what it rescues; the gauge refresher exports the queue
gauges from one holder of the gauge lock. (Retention and the gauge lock on PostgreSQL: test_retention.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from following.supervisor import Supervisor
from services.cdn.breaker import Breakers
from services.cdn.jobs import Kind, NewJob, Priority
from services.cdn.maintenance import GaugeRefresher, Maintenance, Rescuer, Retention
from services.cdn.memory_queue import MemoryQueue
from services.cdn.telemetry import LiveCounters


def job(name: str) -> NewJob:
    return NewJob(f"https://x.cdninstagram.com/{name}.jpg", Kind.POST_IMAGE, Priority.MEDIUM, "test")


async def until(condition: Callable[[], bool], what: str, deadline_s: float = 5.0) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"not {what} within {deadline_s} s"
        await asyncio.sleep(0.01)


async def test_each_component_is_a_named_loop_overdue_only_past_its_period_plus_the_deadline() -> None:
    started, now = time.time(), [0.0]
    supervisor = Supervisor(clock=lambda: now[0])
    queue = MemoryQueue()
    maintenance = Maintenance(queue, LiveCounters(), Breakers(5, 30.0), 0.01, 0.01, Retention(30, every_s=60.0))
    maintenance.start(supervisor, deadline_s=0.5)
    await queue.enqueue([job("a")], 5)
    (claimed,) = await queue.claim(1, 30, "w")
    await queue.fail(claimed, "503", dead=False, retry_in=0, processing_ms=1, bytes_in=0)
    try:
        await until(lambda: queue.jobs[claimed.id].state == "queued", "the retried job promoted by the scheduler")
        await until(lambda: _last_success("cdn-retention") >= started, "the pruner's first round")
        now[0] = 30.0  # past the deadline, not past the pruner's minute: the fast loops move on, the pruner waits
        await until(lambda: not supervisor.stalls(), "the fast loops back within their deadline")
        now[0] = 61.0
        await until(lambda: [s.loop for s in supervisor.stalls()] == ["cdn-retention"], "the pruner alone overdue")
    finally:
        await maintenance.stop()
        await supervisor.stop()


def _last_success(loop: str) -> float:
    return REGISTRY.get_sample_value("following_background_last_success_timestamp_seconds", {"loop": loop}) or 0.0


async def test_the_rescuer_counts_the_jobs_whose_lease_expired() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    queue, counters = MemoryQueue(clock=lambda: now[0]), LiveCounters()
    await queue.enqueue([job("a"), job("b")], 5)
    await queue.claim(2, 30, "w")
    rescuer = Rescuer(queue, counters, 1.0)
    assert await rescuer.run_once() == 0 and counters.rescued == 0
    now[0] += timedelta(seconds=31)
    assert await rescuer.run_once() == 2 and counters.rescued == 2
    assert await rescuer.run_once() == 0 and counters.rescued == 2


async def test_only_the_gauge_lock_holder_exports_the_queue_gauges() -> None:
    queue = MemoryQueue()
    await queue.enqueue([job("a"), job("b")], 5)
    first, second = GaugeRefresher(queue, Breakers(5, 30.0), 1.0), GaugeRefresher(queue, Breakers(5, 30.0), 1.0)
    assert await first.run_once() and first.computes_gauges
    assert REGISTRY.get_sample_value("cdn_jobs", {"state": "queued"}) == 2
    assert not await second.run_once()
    assert REGISTRY.get_sample_value("cdn_jobs", {"state": "queued"}) is None
    await first.stop()
    assert await second.run_once()
    assert REGISTRY.get_sample_value("cdn_jobs", {"state": "queued"}) == 2
    await second.stop()
