"""Token buckets per upstream host: `rate` downloads per second with bursts of up to `burst`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class HostRateLimiter:
    """`rate` of 0 means unlimited. Pure state with an injected clock; callers wait the returned delay."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def reserve(self, host: str) -> float:
        """Takes a token for `host`, going into debt if needed; returns how long to wait before using it."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        bucket.tokens -= 1
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate

    def refund(self, host: str) -> None:
        """Gives back a reserved token that was not used (the caller gave up waiting)."""
        bucket = self._buckets.get(host)
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1)
