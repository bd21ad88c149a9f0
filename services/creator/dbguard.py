"""A circuit breaker around the database pool, so that while PostgreSQL is down a request fails in milliseconds.

CLOSED: connections are handed out; consecutive connection failures are counted. OPEN after `threshold` of them:
every request fails at once with UNAVAILABLE until `cooldown_s` has passed. HALF_OPEN: one trial request may try the
database; success closes the breaker, failure opens it again. Query errors (constraint violations, bad input) are not
connection failures and leave the breaker alone.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from prometheus_client import Gauge

from following.errors import Unavailable

log = logging.getLogger(__name__)

BREAKER_OPEN = Gauge("creator_db_breaker_open", "1 while the database circuit breaker is open")

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


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
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._trial_in_flight = False
        self.last_error = ""

    @property
    def state(self) -> BreakerState:
        if self._open_until is None:
            return BreakerState.CLOSED
        if self._clock() < self._open_until:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

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
        return Unavailable(
            f"database unavailable: {exc.__class__.__name__}; retry shortly", retry_after=self._cooldown_s
        )

    def _end_trial(self, trial: bool) -> None:
        if trial:
            self._trial_in_flight = False

    def _admit(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        remaining = max((self._open_until or 0) - self._clock(), 0.0)
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        raise Unavailable(
            f"database unavailable ({self.last_error}); circuit open, retry in {max(remaining, 0.1):.1f} s",
            retry_after=max(remaining, 1.0),
        )

    def _record_failure(self, exc: BaseException) -> None:
        self._trial_in_flight = False
        self._failures += 1
        self.last_error = f"{exc.__class__.__name__}: {exc}"[:200]
        if self._failures >= self._threshold or self._open_until is not None:
            if self._open_until is None:
                log.warning("database circuit opened", extra={"error": self.last_error})
            self._open_until = self._clock() + self._cooldown_s
            BREAKER_OPEN.set(1)

    def _record_success(self) -> None:
        if self._open_until is not None:
            log.info("database circuit closed")
        self._failures = 0
        self._open_until = None
        self._trial_in_flight = False
        BREAKER_OPEN.set(0)
