"""Background maintenance, each step named: the scheduler (RETRYING jobs whose backoff elapsed → QUEUED), the rescuer
(RUNNING jobs whose lease expired → QUEUED, or DEAD when out of attempts), retention (attempts and DEAD jobs older than
the retention window, in bounded batches) and the gauge refresher (queue depth, oldest queued age and breaker state for
Prometheus). The first three are safe on every replica at once; the queue gauges are computed by one replica at a time,
the one holding the gauge lock, and the others export none (so `max(cdn_jobs)` reads one fresh value). One supervised
loop (following.supervisor) runs them every `interval` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import asyncpg

from following.breaker import BreakerState
from following.supervisor import Loop, Supervisor
from services.cdn.breaker import Breakers
from services.cdn.store import JobStore
from services.cdn.telemetry import BREAKER_OPEN, JOBS, OLDEST_QUEUED, LiveCounters

log = logging.getLogger(__name__)
#: The states the gauges report: the unfinished ones and DEAD (the dead-letter alert); DONE jobs are not counted.
STATES = ("queued", "running", "retrying", "dead")
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


class Maintenance:
    def __init__(
        self,
        store: JobStore,
        counters: LiveCounters,
        breakers: Breakers,
        interval: float,
        gauge_interval: float,
        retention: Retention,
    ) -> None:
        self.store = store
        self.counters = counters
        self.breakers = breakers
        self.interval = interval
        self.gauge_interval = gauge_interval
        self.retention = retention
        self._next_gauges = 0.0
        self._next_purge = 0.0
        self._loop: Loop | None = None
        #: The pool connection whose session holds the gauge lock while this replica computes the gauges.
        self._gauge_conn: asyncpg.pool.PoolConnectionProxy | None = None
        #: One refresh at a time on that connection (the loop's and a caller's, such as a test's).
        self._gauge_turn = asyncio.Lock()

    @property
    def computes_gauges(self) -> bool:
        return self._gauge_conn is not None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        self._loop = supervisor.add("cdn-maintenance", self.step, deadline_s=deadline_s)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        async with self._gauge_turn:
            await self._drop_gauge_lock()

    async def run_once(self) -> tuple[int, int]:
        """Runs the scheduler and the rescuer once; returns (promoted, rescued)."""
        promoted = await self.store.promote()
        rescued = await self.store.rescue()
        if rescued:
            self.counters.event("rescued", rescued)
            log.warning("rescued jobs with expired leases", extra={"jobs": rescued})
        return promoted, rescued

    async def purge(self) -> tuple[int, int]:
        """Deletes attempts and DEAD jobs older than the retention window, at most `batches_per_round` statements of
        `batch` rows each; returns (attempts, dead jobs) deleted. DONE jobs stay: they are the asset records."""
        r = self.retention
        attempts = dead = 0
        for _ in range(r.batches_per_round):
            deleted = await self.store.purge_dead(r.days, r.batch)
            dead += deleted
            if deleted < r.batch:
                break
        for _ in range(r.batches_per_round):
            deleted = await self.store.purge_attempts(r.days, r.batch)
            attempts += deleted
            if deleted < r.batch:
                break
        if attempts or dead:
            log.info("deleted history past retention", extra={"attempts": attempts, "dead_jobs": dead, "days": r.days})
        return attempts, dead

    async def refresh_gauges(self) -> bool:
        """Sets the queue gauges if this replica holds (or now takes) the gauge lock, else clears them; the breaker
        gauges are this replica's own and always set. Returns whether this replica computed the queue gauges."""
        for view in self.breakers.views():
            BREAKER_OPEN.labels(view.host).set(1 if view.state is BreakerState.OPEN else 0)
        async with self._gauge_turn:
            return await self._refresh_queue_gauges()

    async def _refresh_queue_gauges(self) -> bool:
        if self._gauge_conn is None:
            conn = await self.store.pool.acquire()
            try:
                taken = await self.store.try_gauge_lock(conn)
            except BaseException:
                await self.store.pool.release(conn)
                raise
            if not taken:
                await self.store.pool.release(conn)
                JOBS.clear()
                OLDEST_QUEUED.set(0)
                return False
            self._gauge_conn = conn
            log.info("computing the queue gauges for every replica")
        try:
            totals = dict.fromkeys(STATES, 0)
            for row in await self.store.queue_counts(self._gauge_conn):
                totals[row["state"]] += row["n"]
            oldest = await self.store.oldest_queued_age(self._gauge_conn)
        except BaseException:
            await self._drop_gauge_lock()  # its session, and so the lock, may be gone; another replica may take over
            raise
        for state, count in totals.items():
            JOBS.labels(state).set(count)
        OLDEST_QUEUED.set(oldest)
        return True

    async def _drop_gauge_lock(self) -> None:
        conn, self._gauge_conn = self._gauge_conn, None
        if conn is not None:
            # Returning the connection resets its session (pg_advisory_unlock_all), or closes it if broken.
            with contextlib.suppress(Exception):
                await self.store.pool.release(conn, timeout=2.0)

    async def step(self) -> float:
        """One round: scheduler and rescuer, retention and the gauges when due; returns the wait before the next."""
        await self.run_once()
        now = time.monotonic()
        if now >= self._next_purge:
            await self.purge()
            self._next_purge = now + self.retention.every_s
        if time.monotonic() >= self._next_gauges:
            await self.refresh_gauges()
            self._next_gauges = time.monotonic() + self.gauge_interval
        return self.interval
