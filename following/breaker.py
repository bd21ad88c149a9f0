"""The circuit breaker state machine every service uses around a dependency (a host, an upstream, the database).

CLOSED: calls go through; consecutive failures are counted. OPEN once `threshold` failures happened in a row (or
`trip()`): calls fail fast for `cooldown_s`, or longer when the dependency asked for it (`hold_s`, e.g. Retry-After).
HALF_OPEN after that: exactly one trial call goes through; its success closes the breaker, its failure opens it again.
Pure state with an injected monotonic clock; callers decide what failing fast means (an error, a wait).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._opened = False
        self._open_until = 0.0
        self._trial_in_flight = False
        self.failures = 0

    @property
    def state(self) -> BreakerState:
        if not self._opened:
            return BreakerState.CLOSED
        return BreakerState.OPEN if self._clock() < self._open_until else BreakerState.HALF_OPEN

    def retry_in(self) -> float:
        """Seconds until an OPEN breaker lets a trial through; 0 when CLOSED or HALF_OPEN."""
        return max(self._open_until - self._clock(), 0.0) if self._opened else 0.0

    def admit(self) -> bool:
        """Whether a call may go now. In HALF_OPEN the first caller becomes the trial; the others are refused."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def succeeded(self) -> None:
        self._opened = False
        self._trial_in_flight = False
        self.failures = 0

    def failed(self, hold_s: float | None = None) -> bool:
        """Counts a failure; opens at the threshold or when a trial failed. Returns True when it (re)opened."""
        self.failures += 1
        trial_failed = self._trial_in_flight or self.state is BreakerState.HALF_OPEN
        self._trial_in_flight = False
        if trial_failed or self.failures >= self.threshold:
            self._open(hold_s)
            return True
        return False

    def trip(self, hold_s: float | None = None) -> None:
        """Opens at once, whatever the count (the dependency told us to stop)."""
        self.failures = max(self.failures + 1, self.threshold)
        self._trial_in_flight = False
        self._open(hold_s)

    def release_trial(self) -> None:
        """A trial ended without telling anything about the dependency (cancelled, refused on our side)."""
        self._trial_in_flight = False

    def _open(self, hold_s: float | None) -> None:
        self._opened = True
        self._open_until = self._clock() + max(self.cooldown_s, hold_s or 0.0)
