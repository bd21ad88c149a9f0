"""Background maintenance, each step named: the scheduler (RETRYING jobs whose backoff elapsed → QUEUED), the rescuer
(RUNNING jobs whose lease expired → QUEUED, or DEAD when out of attempts) and the gauge refresher (queue depth, oldest
queued age and breaker state for Prometheus). Safe to run on every replica at once. One supervised loop
(following.supervisor) runs them every `interval` seconds."""

from __future__ import annotations

import logging
import time

from following.supervisor import Loop, Supervisor
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
        self._next_gauges = 0.0
        self._loop: Loop | None = None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        self._loop = supervisor.add("cdn-maintenance", self.step, deadline_s=deadline_s)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

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

    async def step(self) -> float:
        """One round: scheduler and rescuer, the gauges when due; returns the wait before the next round."""
        await self.run_once()
        if time.monotonic() >= self._next_gauges:
            await self.refresh_gauges()
            self._next_gauges = time.monotonic() + self.gauge_interval
        return self.interval
