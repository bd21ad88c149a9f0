"""A per-source circuit breaker, so a throttled or failing upstream is left alone for a cool-down.

States: CLOSED (requests flow; consecutive failed requests are counted) -> OPEN after `threshold` failures in a row
(requests fail fast with CircuitOpen until the cool-down, or a longer Retry-After, has passed) -> HALF_OPEN (one trial
request is let through; the others still fail fast) -> CLOSED when the trial succeeds, OPEN again when it fails.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from services.creator.upstream.errors import CircuitOpen


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._trial_in_flight = False
        self._last_reason = ""

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            return BreakerState.HALF_OPEN
        return self._state

    def before_request(self) -> None:
        """Raise CircuitOpen unless a request may be sent now. In HALF_OPEN only one trial is let through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._state = BreakerState.HALF_OPEN
            self._trial_in_flight = True
            return
        remaining = max(self._open_until - self._clock(), 0.0)
        raise CircuitOpen(
            f"circuit breaker for the {self.name} source is open after {self._failures} failed requests"
            f" (last: {self._last_reason})",
            retry_after_seconds=max(remaining, 1.0),
        )

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._trial_in_flight = False

    def record_failure(self, reason: str, retry_after_s: float | None = None) -> None:
        """Count a failed request; open when the threshold is reached, or at once when a half-open trial fails.

        A Retry-After longer than the cool-down keeps the breaker open that long.
        """
        self._failures += 1
        self._last_reason = reason
        trial_failed = self._trial_in_flight or self._state is BreakerState.HALF_OPEN
        self._trial_in_flight = False
        if trial_failed or self._failures >= self._threshold:
            self._state = BreakerState.OPEN
            self._open_until = self._clock() + max(self._cooldown_s, retry_after_s or 0.0)

    def trip(self, reason: str, open_for_s: float | None = None) -> None:
        """Open at once, whatever the count: the upstream told us to stop (checkpoint or challenge demanded)."""
        self._failures = max(self._failures + 1, self._threshold)
        self._last_reason = reason
        self._trial_in_flight = False
        self._state = BreakerState.OPEN
        self._open_until = self._clock() + max(self._cooldown_s, open_for_s or 0.0)

    def release_trial(self) -> None:
        """A half-open trial ended without telling us anything about the upstream (e.g. our own budget refused)."""
        self._trial_in_flight = False
