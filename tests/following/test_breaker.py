"""The shared circuit breaker state machine on a hand-driven clock, and the one name it goes by in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

from following.breaker import BreakerState, CircuitBreaker

ROOT = Path(__file__).resolve().parents[2]
SHARED_NAMES = {"CircuitBreaker", "BreakerState"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_at_the_threshold_admits_one_trial_and_closes_on_its_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=clock)
    assert breaker.admit() and not breaker.failed()
    assert breaker.admit() and breaker.failed()
    assert breaker.state is BreakerState.OPEN and not breaker.admit()
    assert breaker.retry_in() == 10
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit(), "the first caller is the trial"
    assert not breaker.admit(), "one trial at a time"
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


def test_a_failed_trial_reopens_and_a_hold_stretches_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=5, cooldown_s=10, clock=clock)
    breaker.trip(hold_s=60)
    assert breaker.state is BreakerState.OPEN and breaker.retry_in() == 60
    clock.now += 60
    assert breaker.admit()
    assert breaker.failed()
    assert breaker.state is BreakerState.OPEN and breaker.retry_in() == 10


def test_a_released_trial_lets_the_next_caller_try() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=1, clock=clock)
    breaker.failed()
    clock.now += 1
    assert breaker.admit()
    breaker.release_trial()
    assert breaker.admit()


def test_the_breaker_and_its_states_go_by_one_name_in_every_service() -> None:
    """No module defines its own CircuitBreaker or BreakerState, renames the shared ones, or aliases them."""
    found = []
    for path in sorted(p for folder in ("following", "services", "fakes") for p in (ROOT / folder).rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and node.name in SHARED_NAMES and where != Path("following/breaker.py"):
                found.append(f"{where}: defines another {node.name}")
            if isinstance(node, ast.ImportFrom) and node.module == "following.breaker":
                renamed = [alias for alias in node.names if alias.asname not in (None, alias.name)]
                found += [f"{where}: imports {alias.name} as {alias.asname}" for alias in renamed]
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in SHARED_NAMES:
                found.append(f"{where}: aliases {node.value.id}")
    assert found == []
