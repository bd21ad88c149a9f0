"""Pure policies: the per-host breaker, the token bucket, retry backoff, the host allowlist and address checks."""

from __future__ import annotations

import random

import pytest

from services.cdn.breaker import Breakers, State
from services.cdn.downloads import address_problem, host_allowed, sniff
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
    assert [v.state for v in breakers.views() if v.host == "a.test"] == [State.CLOSED]


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


def test_allowlist_matches_exact_hosts_and_subdomain_wildcards_only() -> None:
    patterns = ("*.cdninstagram.com", "127.0.0.1")
    assert host_allowed("scontent-a.cdninstagram.com", patterns)
    assert host_allowed("a.b.cdninstagram.com.", patterns)
    assert not host_allowed("cdninstagram.com.evil.test", patterns)
    assert not host_allowed("evilcdninstagram.com", patterns)
    assert host_allowed("127.0.0.1", patterns)
    assert not host_allowed("localhost", patterns)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1", "100.64.0.1"],
)
def test_private_loopback_and_link_local_addresses_are_refused_unless_allowed(address: str) -> None:
    assert address_problem(address, allow_private=False) is not None
    assert address_problem(address, allow_private=True) is None


def test_public_addresses_pass_and_unspecified_or_multicast_never_do() -> None:
    assert address_problem("157.240.1.174", allow_private=False) is None
    assert address_problem("0.0.0.0", allow_private=True) is not None
    assert address_problem("224.0.0.1", allow_private=True) is not None


def test_magic_bytes_recognise_only_raster_formats() -> None:
    assert sniff(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(b"<svg xmlns=") is None
    assert sniff(b"<html>") is None
