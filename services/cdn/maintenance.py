"""Background maintenance, one named component each, every one its own loop of the service's supervisor
(following.supervisor, the loop named after the component):

- the scheduler (`cdn-scheduler`): RETRYING jobs whose backoff elapsed → QUEUED;
- the rescuer (`cdn-rescuer`): RUNNING jobs whose lease expired → QUEUED, or DEAD when out of attempts;
- the retention pruner (`cdn-retention`): attempts and DEAD jobs older than the retention window, in bounded batches;
- the gauge refresher (`cdn-gauges`): queue depth, oldest queued age and breaker state for Prometheus.

The first three are safe on every replica at once; the queue gauges are computed by one replica at a time, the one
holding the gauge lock, and the others export none (so `max(cdn_jobs)` reads one fresh value). Each works through the
`JobQueue` port alone."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from following.breaker import BreakerState
from following.supervisor import Loop, Supervisor
from services.cdn.breaker import Breakers
from services.cdn.jobs import GaugeLock, JobQueue, JobState
from services.cdn.telemetry import BREAKER_OPEN, JOBS, OLDEST_QUEUED, LiveCounters

log = logging.getLogger(__name__)
#: The states the gauges report: the unfinished ones and DEAD (the dead-letter alert); DONE jobs are not counted.
STATES = (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING, JobState.DEAD)
#: Rows one retention statement deletes at most, and statements per round: a round stays short however much is due.
PURGE_BATCH = 1000
PURGE_BATCHES_PER_ROUND = 10
PURGE_EVERY_S = 60.0


@dataclass(frozen=True)
class Retention:
    days: int
    batch: int = PURGE_BATCH
    batches_per_round: int = PURGE_BATCHES_PER_ROUND
    every_s: float = PURGE_EVERY_S


class Component:
    """A named background step repeated every `period_s` seconds by the supervisor."""

    name = ""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._loop: Loop | None = None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        # The deadline bounds the time between two completed iterations, so it counts from the planned next one: a
        # component that runs once a minute is not overdue after its first idle minute.
        self._loop = supervisor.add(self.name, self._step, deadline_s=deadline_s + self.period_s)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def run_once(self) -> object:
        raise NotImplementedError

    async def _step(self) -> float:
        await self.run_once()
        return self.period_s


class Scheduler(Component):
    name = "cdn-scheduler"

    def __init__(self, queue: JobQueue, period_s: float) -> None:
        super().__init__(period_s)
        self.queue = queue

    async def run_once(self) -> int:
        """Moves due RETRYING jobs back to QUEUED; returns how many."""
        return await self.queue.promote()


class Rescuer(Component):
    name = "cdn-rescuer"

    def __init__(self, queue: JobQueue, counters: LiveCounters, period_s: float) -> None:
        super().__init__(period_s)
        self.queue = queue
        self.counters = counters

    async def run_once(self) -> int:
        """Requeues (or buries) the RUNNING jobs whose lease expired; returns how many."""
        rescued = await self.queue.rescue()
        if rescued:
            self.counters.event("rescued", rescued)
            log.warning("rescued jobs with expired leases", extra={"jobs": rescued})
        return rescued


class RetentionPruner(Component):
    name = "cdn-retention"

    def __init__(self, queue: JobQueue, retention: Retention) -> None:
        super().__init__(retention.every_s)
        self.queue = queue
        self.retention = retention

    async def run_once(self) -> tuple[int, int]:
        """Deletes attempts and DEAD jobs older than the retention window, at most `batches_per_round` statements of
        `batch` rows each; returns (attempts, dead jobs) deleted. DONE jobs stay: they are the asset records."""
        r = self.retention
        attempts = dead = 0
        for _ in range(r.batches_per_round):
            deleted = await self.queue.purge_dead(r.days, r.batch)
            dead += deleted
            if deleted < r.batch:
                break
        for _ in range(r.batches_per_round):
            deleted = await self.queue.purge_attempts(r.days, r.batch)
            attempts += deleted
            if deleted < r.batch:
                break
        if attempts or dead:
            log.info("deleted history past retention", extra={"attempts": attempts, "dead_jobs": dead, "days": r.days})
        return attempts, dead


class GaugeRefresher(Component):
    name = "cdn-gauges"

    def __init__(self, queue: JobQueue, breakers: Breakers, period_s: float) -> None:
        super().__init__(period_s)
        self.queue = queue
        self.breakers = breakers
        #: Held while this replica computes the queue gauges.
        self._lock: GaugeLock | None = None
        #: One refresh at a time on the lock (the loop's and a caller's, such as a test's).
        self._turn = asyncio.Lock()

    @property
    def computes_gauges(self) -> bool:
        return self._lock is not None

    async def stop(self) -> None:
        await super().stop()
        async with self._turn:
            await self._drop_lock()

    async def run_once(self) -> bool:
        """Sets the queue gauges if this replica holds (or now takes) the gauge lock, else clears them; the breaker
        gauges are this replica's own and always set. Returns whether this replica computed the queue gauges."""
        for view in self.breakers.views():
            BREAKER_OPEN.labels(view.host).set(1 if view.state is BreakerState.OPEN else 0)
        async with self._turn:
            return await self._refresh_queue_gauges()

    async def _refresh_queue_gauges(self) -> bool:
        if self._lock is None:
            self._lock = await self.queue.take_gauge_lock()
            if self._lock is None:
                JOBS.clear()
                OLDEST_QUEUED.set(0)
                return False
            log.info("computing the queue gauges for every replica")
        try:
            totals = dict.fromkeys(STATES, 0)
            for counted in await self._lock.queue_counts():
                totals[counted.state] += counted.count
            oldest = await self._lock.oldest_queued_age()
        except BaseException:
            await self._drop_lock()  # its session, and so the lock, may be gone; another replica may take over
            raise
        for state, count in totals.items():
            JOBS.labels(state.value).set(count)
        OLDEST_QUEUED.set(oldest)
        return True

    async def _drop_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            await lock.release()


class Maintenance:
    """The four components of one replica, started and stopped together."""

    def __init__(
        self,
        queue: JobQueue,
        counters: LiveCounters,
        breakers: Breakers,
        interval: float,
        gauge_interval: float,
        retention: Retention,
    ) -> None:
        self.scheduler = Scheduler(queue, interval)
        self.rescuer = Rescuer(queue, counters, interval)
        self.pruner = RetentionPruner(queue, retention)
        self.gauges = GaugeRefresher(queue, breakers, gauge_interval)

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.scheduler, self.rescuer, self.pruner, self.gauges)

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        for component in self.components:
            component.start(supervisor, deadline_s)

    async def stop(self) -> None:
        await asyncio.gather(*(component.stop() for component in self.components))
