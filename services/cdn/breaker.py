"""Circuit breakers per upstream host:port (following.breaker's state machine, one per destination): open after N
consecutive failures, let one probe through after the reset time. The worker asks `allow(target)` before a download
and reports the result. Keys are `host:port`, so a failing service on one port does not hold back another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from following.breaker import BreakerState, CircuitBreaker


@dataclass(frozen=True)
class BreakerView:
    host: str
    state: BreakerState
    consecutive_failures: int
    #: Seconds until an OPEN breaker lets a probe through (0 otherwise).
    retry_in: float


class Breakers:
    def __init__(self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self._hosts: dict[str, CircuitBreaker] = {}

    def _of(self, host: str) -> CircuitBreaker:
        breaker = self._hosts.get(host)
        if breaker is None:
            breaker = self._hosts[host] = CircuitBreaker(self.failures, self.reset_seconds, self.clock)
        return breaker

    def allow(self, host: str) -> float:
        """0 if a request to `host` may go now; otherwise the seconds to wait before asking again."""
        breaker = self._of(host)
        if breaker.admit():
            return 0.0
        # Open: wait out the reset time. Half-open with the probe out: wait briefly for its verdict.
        return breaker.retry_in() or min(1.0, self.reset_seconds)

    def succeeded(self, host: str) -> None:
        self._of(host).succeeded()

    def failed(self, host: str) -> None:
        self._of(host).failed()

    def abandoned(self, host: str) -> None:
        """A probe that never reached the host (cancelled) frees the half-open slot."""
        breaker = self._hosts.get(host)
        if breaker is not None:
            breaker.release_trial()

    def views(self) -> list[BreakerView]:
        return [
            BreakerView(host, breaker.state, breaker.failures, breaker.retry_in())
            for host, breaker in sorted(self._hosts.items())
        ]
