"""Circuit breakers per upstream host: open after N consecutive failures, let one probe through after the reset time.

Pure state with an injected monotonic clock; the worker asks `allow(host)` before a download and reports the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class HostState:
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False


@dataclass(frozen=True)
class BreakerView:
    host: str
    state: State
    consecutive_failures: int
    #: Seconds until an OPEN breaker lets a probe through (0 otherwise).
    retry_in: float


class Breakers:
    def __init__(self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self._hosts: dict[str, HostState] = {}

    def allow(self, host: str) -> float:
        """0 if a request to `host` may go now; otherwise the seconds to wait before asking again."""
        s = self._hosts.setdefault(host, HostState())
        if s.state is State.CLOSED:
            return 0.0
        if s.state is State.OPEN:
            remaining = s.opened_at + self.reset_seconds - self.clock()
            if remaining > 0:
                return remaining
            s.state = State.HALF_OPEN
            s.probing = False
        if s.probing:
            # One probe at a time; the others wait for its verdict.
            return min(1.0, self.reset_seconds)
        s.probing = True
        return 0.0

    def succeeded(self, host: str) -> None:
        self._hosts[host] = HostState()

    def failed(self, host: str) -> None:
        s = self._hosts.setdefault(host, HostState())
        s.failures += 1
        s.probing = False
        if s.state is State.HALF_OPEN or s.failures >= self.failures:
            s.state = State.OPEN
            s.opened_at = self.clock()

    def abandoned(self, host: str) -> None:
        """A probe that never reached the host (cancelled) frees the half-open slot."""
        s = self._hosts.get(host)
        if s is not None:
            s.probing = False

    def views(self) -> list[BreakerView]:
        now = self.clock()
        out = []
        for host, s in sorted(self._hosts.items()):
            retry_in = max(0.0, s.opened_at + self.reset_seconds - now) if s.state is State.OPEN else 0.0
            state = State.HALF_OPEN if s.state is State.OPEN and retry_in == 0 else s.state
            out.append(BreakerView(host, state, s.failures, retry_in))
        return out
