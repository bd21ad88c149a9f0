"""Background maintenance, each step named: the scheduler (RETRYING jobs whose backoff elapsed → QUEUED), the rescuer
(RUNNING jobs whose lease expired → QUEUED, or DEAD when out of attempts) and the gauge refresher (queue depth, oldest
queued age and breaker state for Prometheus). Safe to run on every replica at once."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

import asyncpg

from services.cdn.breaker import Breakers, State
from services.cdn.store import JobStore
from services.cdn.telemetry import BREAKER_OPEN, JOBS, OLDEST_QUEUED, LiveCounters

log = logging.getLogger(__name__)
STATES = ("queued", "running", "retrying", "done", "dead")


class Maintenance:
    def __init__(
        self, store: JobStore, counters: LiveCounters, breakers: Breakers, interval: float, gauge_interval: float
    ) -> None:
        self.store = store
        self.counters = counters
        self.breakers = breakers
        self.interval = interval
        self.gauge_interval = gauge_interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="cdn-maintenance")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run_once(self) -> tuple[int, int]:
        """Runs the scheduler and the rescuer once; returns (promoted, rescued)."""
        promoted = await self.store.promote()
        rescued = await self.store.rescue()
        if rescued:
            self.counters.event("rescued", rescued)
            log.warning("rescued jobs with expired leases", extra={"jobs": rescued})
        return promoted, rescued

    async def refresh_gauges(self) -> None:
        totals = dict.fromkeys(STATES, 0)
        for row in await self.store.queue_counts():
            totals[row["state"]] += row["n"]
        for state, count in totals.items():
            JOBS.labels(state).set(count)
        OLDEST_QUEUED.set(await self.store.oldest_queued_age())
        for view in self.breakers.views():
            BREAKER_OPEN.labels(view.host).set(1 if view.state is State.OPEN else 0)

    async def _loop(self) -> None:
        next_gauges = 0.0
        while not self._stopping.is_set():
            try:
                await self.run_once()
                if time.monotonic() >= next_gauges:
                    await self.refresh_gauges()
                    next_gauges = time.monotonic() + self.gauge_interval
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                log.warning("maintenance step failed", extra={"error": str(exc)})
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
