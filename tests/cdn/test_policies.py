"""Pure policies: the per-host breaker, the token bucket, retry backoff and magic bytes. The URL and address policy
has its own file, test_targets.py."""

from __future__ import annotations

import random

import pytest

from following.breaker import BreakerState
from services.cdn.breaker import Breakers
from services.cdn.downloads import sniff
from services.cdn.jobs import backoff_seconds
from services.cdn.ratelimit import HostRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_five_consecutive_failures_and_probes_once_after_thirty_seconds() -> None:
    clock = Clock()
    breakers = Breakers(5, 30.0, clock)
    for _ in range(4):
        assert breakers.allow("a.test") == 0
        breakers.failed("a.test")
    assert breakers.allow("a.test") == 0
    breakers.failed("a.test")
    assert breakers.allow("a.test") == pytest.approx(30.0)
    assert breakers.allow("b.test") == 0  # per host
    clock.now += 29.9
    assert breakers.allow("a.test") > 0
    clock.now += 0.2
    assert breakers.allow("a.test") == 0  # the half-open probe
    assert breakers.allow("a.test") > 0  # only one probe at a time
    breakers.failed("a.test")  # probe failed: open again for a full period
    assert breakers.allow("a.test") == pytest.approx(30.0)
    clock.now += 30.1
    assert breakers.allow("a.test") == 0
    breakers.succeeded("a.test")
    assert [v.state for v in breakers.views() if v.host == "a.test"] == [BreakerState.CLOSED]


def test_success_resets_the_consecutive_failure_count() -> None:
    breakers = Breakers(5, 30.0, Clock())
    for _ in range(4):
        breakers.failed("a.test")
    breakers.succeeded("a.test")
    for _ in range(4):
        breakers.failed("a.test")
    assert breakers.allow("a.test") == 0


def test_token_bucket_allows_the_burst_then_paces_at_the_rate_per_host() -> None:
    clock = Clock()
    limiter = HostRateLimiter(5.0, 5, clock)
    assert [limiter.reserve("a.test") for _ in range(5)] == [0.0] * 5
    assert limiter.reserve("a.test") == pytest.approx(0.2)
    assert limiter.reserve("a.test") == pytest.approx(0.4)
    assert limiter.reserve("b.test") == 0.0
    clock.now += 1.0
    # 5 tokens refilled, 2 were owed.
    assert [limiter.reserve("a.test") for _ in range(3)] == [0.0] * 3
    assert limiter.reserve("a.test") > 0
    assert HostRateLimiter(0, 1, clock).reserve("a.test") == 0.0  # 0 = unlimited


def test_backoff_doubles_per_attempt_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, step in ((1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)):
        delays = [backoff_seconds(attempt, 2.0, 600.0, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jittered, not fixed
    assert all(150 <= backoff_seconds(20, 2.0, 300.0, rng) <= 300 for _ in range(50))


def test_magic_bytes_recognise_only_raster_formats() -> None:
    assert sniff(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(b"<svg xmlns=") is None
    assert sniff(b"<html>") is None
