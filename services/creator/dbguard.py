"""A circuit breaker (following.breaker) around the database pool, so that while PostgreSQL is down a request fails in
milliseconds.

CLOSED: connections are handed out; consecutive connection failures are counted. OPEN after `threshold` of them:
every request fails at once with UNAVAILABLE until `cooldown_s` has passed. HALF_OPEN: one trial request may try the
database; success closes the breaker, failure opens it again. Query errors (constraint violations, bad input) are not
connection failures and leave the breaker alone.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from prometheus_client import Gauge

from following.breaker import BreakerState, CircuitBreaker
from following.db import CONNECTION_ERRORS
from following.errors import Unavailable

log = logging.getLogger(__name__)

BREAKER_OPEN = Gauge("creator_db_breaker_open", "1 while the database circuit breaker is open")


__all__ = ["CONNECTION_ERRORS", "BreakerState", "DatabaseGuard"]


class DatabaseGuard:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        acquire_timeout_s: float,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self._acquire_timeout_s = acquire_timeout_s
        self._cooldown_s = cooldown_s
        self._breaker = CircuitBreaker(threshold, cooldown_s, clock)
        self.last_error = ""

    @property
    def state(self) -> BreakerState:
        return self._breaker.state

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, or UNAVAILABLE at once while the breaker is open."""
        trial = self._admit()
        try:
            conn = await self.pool.acquire(timeout=self._acquire_timeout_s)
        except TimeoutError:
            # Every connection is busy: the database is slow or we are overloaded, not necessarily down.
            self._end_trial(trial)
            raise Unavailable(
                f"database busy: no connection free within {self._acquire_timeout_s:g} s", retry_after=1
            ) from None
        except CONNECTION_ERRORS as exc:
            raise self._failure(exc) from exc
        except BaseException:
            self._end_trial(trial)
            raise
        try:
            yield conn
        except CONNECTION_ERRORS as exc:
            if isinstance(exc, TimeoutError):
                self._end_trial(trial)
                raise
            raise self._failure(exc) from exc
        except BaseException:
            self._end_trial(trial)
            raise
        else:
            self._record_success()
        finally:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self.pool.release(conn)

    def _failure(self, exc: BaseException) -> Unavailable:
        self._record_failure(exc)
        # The caller sees no host, port or exception class; the log (and last_error) keeps them.
        return Unavailable("database unavailable; retry shortly", retry_after=self._cooldown_s)

    def _end_trial(self, trial: bool) -> None:
        if trial:
            self._breaker.release_trial()

    def _admit(self) -> bool:
        """Admits the call (returning whether it is the half-open trial) or raises UNAVAILABLE at once."""
        trial = self._breaker.state is not BreakerState.CLOSED
        if self._breaker.admit():
            return trial
        remaining = self._breaker.retry_in()
        raise Unavailable(
            f"database unavailable; circuit open, retry in {max(remaining, 0.1):.1f} s",
            retry_after=max(remaining, 1.0),
        )

    def _record_failure(self, exc: BaseException) -> None:
        was_closed = self._breaker.state is BreakerState.CLOSED
        self.last_error = f"{exc.__class__.__name__}: {exc}"[:200]
        if self._breaker.failed():
            if was_closed:
                log.warning("database circuit opened", extra={"error": self.last_error})
            BREAKER_OPEN.set(1)

    def _record_success(self) -> None:
        if self._breaker.state is not BreakerState.CLOSED:
            log.info("database circuit closed")
        self._breaker.succeeded()
        BREAKER_OPEN.set(0)
