"""The one runner of every long-lived background loop of a service.

A loop is a named `step`: one iteration that returns how many seconds to wait before the next (0: at once). The
supervisor repeats it until stopped. Any exception from a step (a database error, asyncpg's "cannot switch to state",
a bug) is logged with its traceback and the step is tried again after a jittered exponential backoff, so no loop dies
silently. `wake()` cuts an idle wait short (new work arrived); it does not cut a backoff short.

Each completed iteration is recorded in the gauge `following_background_last_success_timestamp_seconds{loop}` (the
alert on it fires however the loop fails). A watchdog reports the loops that have not completed an iteration within
their deadline (stuck in a step, or failing every time) to `on_change`; the service runtime turns that into
grpc.health NOT_SERVING, so the orchestrator restarts the process, and the creator lists it in `/api/health`. An
iteration that failed with one of the `excused` errors (a dependency such as the database is down: restarting would
not help, and the service reports that dependency itself) counts as alive for the deadline, not as a success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

LAST_SUCCESS = Gauge(
    "following_background_last_success_timestamp_seconds",
    "Unix time at which the background loop last completed an iteration",
    ["loop"],
)
FAILURES = Counter(
    "following_background_failures_total", "Background loop iterations that raised (and were retried)", ["loop"]
)

Step = Callable[[], Awaitable[float]]
OnChange = Callable[[list["Stall"]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Stall:
    """A loop that has not completed an iteration for `seconds` (more than its deadline)."""

    loop: str
    seconds: float
    last_error: str

    def describe(self) -> str:
        why = f"; last error: {self.last_error}" if self.last_error else ""
        return f"background loop {self.loop} has not completed an iteration in {self.seconds:.0f} s{why}"


class Loop:
    """One supervised loop; made by `Supervisor.add`."""

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        deadline_s: float,
        backoff_base_s: float,
        backoff_max_s: float,
        clock: Callable[[], float],
        excused: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.name = name
        self._excused = excused
        self.deadline_s = deadline_s
        self.failures = 0
        self.last_error = ""
        self._step = step
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_success = self.last_alive = clock()
        self._task = asyncio.create_task(self._run(), name=name)

    def wake(self) -> None:
        """New work arrived: end an idle wait now."""
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stall(self, now: float) -> Stall | None:
        age = now - self.last_alive
        if self._stopping.is_set() or age <= self.deadline_s:
            return None
        return Stall(self.name, age, self.last_error)

    async def stop(self, grace: float = 10.0) -> None:
        """Lets the current iteration finish within `grace` seconds (then cancels it); no further iteration starts."""
        self._stopping.set()
        self._wake.set()
        if self._task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=max(grace, 0.1))
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delay = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.last_error = type(exc).__name__
                if isinstance(exc, self._excused):
                    self.last_alive = self._clock()
                FAILURES.labels(self.name).inc()
                pause = self._backoff()
                log.exception(
                    "background loop iteration failed; retrying",
                    extra={"loop": self.name, "failures": self.failures, "retry_in_s": round(pause, 3)},
                )
                await self._pause(pause, wakeable=False)
                continue
            if self.failures:
                log.info("background loop recovered", extra={"loop": self.name, "failures": self.failures})
            self.failures = 0
            self.last_error = ""
            self.last_success = self.last_alive = self._clock()
            LAST_SUCCESS.labels(self.name).set(time.time())
            if delay > 0:
                await self._pause(delay, wakeable=True)

    def _backoff(self) -> float:
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter: replicas that failed together retry apart

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        if wakeable:
            self._wake.clear()


class Supervisor:
    """The loops of one service and the watchdog over their deadlines."""

    def __init__(
        self,
        on_change: OnChange | None = None,
        *,
        check_every_s: float = 1.0,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 2.0,
        excused: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_change = on_change
        self._excused = excused
        self._check_every_s = check_every_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._loops: dict[str, Loop] = {}
        self._stalled: list[str] = []
        self._watchdog: asyncio.Task[None] | None = None

    def add(self, name: str, step: Step, *, deadline_s: float) -> Loop:
        """Starts a loop running `step` repeatedly; `deadline_s` bounds the time between two completed iterations."""
        if name in self._loops and not self._loops[name].stopping:
            raise ValueError(f"background loop {name!r} already runs")
        loop = Loop(
            name,
            step,
            deadline_s=deadline_s,
            backoff_base_s=self._backoff_base_s,
            backoff_max_s=self._backoff_max_s,
            clock=self._clock,
            excused=self._excused,
        )
        self._loops[name] = loop
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="background-watchdog")
        return loop

    def stalls(self) -> list[Stall]:
        now = self._clock()
        return [stall for loop in self._loops.values() if (stall := loop.stall(now)) is not None]

    async def stop(self, grace: float = 10.0) -> None:
        """Stops the watchdog, then every loop still running."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        await asyncio.gather(*(loop.stop(grace) for loop in self._loops.values()))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_every_s)
            stalls = self.stalls()
            names = [stall.loop for stall in stalls]
            if names == self._stalled:
                continue
            if names:
                log.error("background loops overdue", extra={"loops": [s.describe() for s in stalls]})
            else:
                log.info("background loops back on schedule")
            self._stalled = names
            if self._on_change is not None:
                try:
                    await self._on_change(stalls)
                except Exception:
                    log.exception("could not report background loop health")
