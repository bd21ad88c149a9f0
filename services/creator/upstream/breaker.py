"""The upstream source's breaker: following.breaker's `CircuitBreaker` with the source's name and the last failure,
so a throttled or failing upstream is left alone for a cool-down and callers get a CircuitOpen that says why.

The state machine: CLOSED -> OPEN after `threshold` failed requests in a row (requests fail fast with
CircuitOpen until the cool-down, or a longer Retry-After, has passed) -> HALF_OPEN (one trial request) -> CLOSED on
success, OPEN again on failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from following.breaker import BreakerState, CircuitBreaker
from services.creator.upstream.errors import CircuitOpen


class SourceBreaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._machine = CircuitBreaker(threshold, cooldown_s, clock)
        self._last_reason = ""

    @property
    def state(self) -> BreakerState:
        return self._machine.state

    def before_request(self) -> None:
        """Raise CircuitOpen unless a request may be sent now. In HALF_OPEN only one trial is let through."""
        if self._machine.admit():
            return
        raise CircuitOpen(
            f"circuit breaker for the {self.name} source is open after {self._machine.failures} failed requests"
            f" (last: {self._last_reason})",
            retry_after_seconds=max(self._machine.retry_in(), 1.0),
        )

    def record_success(self) -> None:
        self._machine.succeeded()

    def record_failure(self, reason: str, retry_after_s: float | None = None) -> None:
        """Count a failed request; a Retry-After longer than the cool-down keeps the breaker open that long."""
        self._last_reason = reason
        self._machine.failed(retry_after_s)

    def trip(self, reason: str, open_for_s: float | None = None) -> None:
        """Open at once, whatever the count: the upstream told us to stop (checkpoint or challenge demanded)."""
        self._last_reason = reason
        self._machine.trip(open_for_s)

    def release_trial(self) -> None:
        """A half-open trial ended without telling us anything about the upstream (e.g. our own budget refused)."""
        self._machine.release_trial()
