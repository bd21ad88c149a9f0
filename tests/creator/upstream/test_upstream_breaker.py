"""The upstream source's breaker on a hand-driven clock: closed -> open at the threshold, fail fast while open,
one trial when half-open, closed on success, open again on failure; Retry-After stretches the cool-down."""

from __future__ import annotations

import pytest

from following.breaker import BreakerState
from services.creator.upstream import CircuitOpen
from services.creator.upstream.breaker import SourceBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, cooldown_s: float = 10.0) -> tuple[SourceBreaker, Clock]:
    clock = Clock()
    return SourceBreaker("web", threshold, cooldown_s, clock=clock), clock


def test_opens_only_after_threshold_consecutive_failures() -> None:
    breaker, _ = make(threshold=3)
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure("429")
    breaker.before_request()
    breaker.record_success()  # a success in between resets the count
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure("429")
    assert breaker.state is BreakerState.CLOSED
    breaker.before_request()
    breaker.record_failure("429")
    assert breaker.state is BreakerState.OPEN


def test_open_breaker_fails_fast_with_remaining_cooldown_and_last_reason() -> None:
    breaker, clock = make(threshold=1, cooldown_s=10.0)
    breaker.record_failure("instagram answered 503")
    clock.now += 4
    with pytest.raises(CircuitOpen, match="instagram answered 503") as caught:
        breaker.before_request()
    assert caught.value.retry_after_seconds == pytest.approx(6.0)


def test_half_open_lets_exactly_one_trial_through() -> None:
    breaker, clock = make(threshold=1, cooldown_s=10.0)
    breaker.record_failure("429")
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_request()  # the trial
    with pytest.raises(CircuitOpen):
        breaker.before_request()  # everyone else waits for its outcome
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_request()


def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    breaker, clock = make(threshold=5, cooldown_s=10.0)
    breaker.trip("checkpoint_required")
    clock.now += 10
    breaker.before_request()
    breaker.record_failure("429")
    assert breaker.state is BreakerState.OPEN
    clock.now += 9.9
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN


def test_retry_after_longer_than_cooldown_keeps_it_open_longer() -> None:
    breaker, clock = make(threshold=1, cooldown_s=10.0)
    breaker.record_failure("429", retry_after_s=60)
    clock.now += 30
    assert breaker.state is BreakerState.OPEN
    clock.now += 30
    assert breaker.state is BreakerState.HALF_OPEN


def test_released_trial_frees_the_half_open_slot() -> None:
    breaker, clock = make(threshold=1, cooldown_s=1.0)
    breaker.record_failure("5xx")
    clock.now += 1
    breaker.before_request()
    breaker.release_trial()  # e.g. our own request budget refused before anything was sent
    breaker.before_request()
