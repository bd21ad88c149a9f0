"""Waiting for the system to reach a state: poll with a deadline, never sleep blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], done: Callable[[T], bool], deadline_s: float, what: str) -> T:
    """Calls `probe` until `done(result)`; raises AssertionError naming `what` and the last result at the deadline."""
    end = time.monotonic() + deadline_s
    last: T | None = None
    error: Exception | None = None
    while time.monotonic() < end:
        try:
            last = probe()
            error = None
            if done(last):
                return last
        except Exception as exc:  # the system may be restarting; keep polling until the deadline
            error = exc
        time.sleep(0.25)
    raise AssertionError(f"{what}: not reached within {deadline_s:.0f} s; last result {last!r}; last error {error!r}")
