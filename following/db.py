"""The asyncpg pool every service uses: bounded connect and statement timeouts, and a patient first connection; which
errors mean "the database cannot be reached" (as opposed to a bad query); and the release of a connection whose use left
no session state without asyncpg's reset statement."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

#: Errors that say the database (or the connection to it) is unavailable, not that a statement was wrong. Callers answer
#: them with UNAVAILABLE and a retry-after; asyncpg's InternalClientError ("cannot switch to state ...") is a connection
#: left unusable by an outage.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
#: The retry-after (seconds) of an answer refused because the database was unreachable.
DATABASE_RETRY_AFTER_S = 2.0


# Connections marked by `session_untouched` since they were acquired. A WeakSet: a connection closed while marked
# (terminated on an error) drops out by itself.
_UNTOUCHED: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()


def session_untouched(conn: asyncpg.Connection) -> None:
    """Says that every statement run on `conn` since it was acquired from the pool was transaction-scoped (no advisory
    session lock, SET, LISTEN, prepared cursor or temporary table outlives it), so its release may skip the reset
    statement (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL): a round trip and server work saved per use. An open
    transaction is still rolled back by asyncpg on release."""
    raw = conn._con if isinstance(conn, PoolConnectionProxy) else conn
    if raw is not None:
        _UNTOUCHED.add(raw)


async def reset_connection(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: asyncpg's own reset statement, unless the use was marked `session_untouched`."""
    if conn in _UNTOUCHED:
        _UNTOUCHED.discard(conn)
        return
    query = conn.get_reset_query()
    if query:
        await conn.execute(query)


async def create_pool(
    dsn: str,
    *,
    application_name: str,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 5.0,
    statement_timeout_ms: int = 5000,
    startup_deadline: float = 30.0,
) -> asyncpg.Pool:
    """Opens a pool, retrying for up to `startup_deadline` seconds while PostgreSQL is not accepting connections yet.

    Every connection has `statement_timeout` set on the server and a client-side command timeout slightly above it, so
    a query can never hang a request.
    """
    deadline = time.monotonic() + startup_deadline
    delay = 0.1
    while True:
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=statement_timeout_ms / 1000 + 1,
                max_inactive_connection_lifetime=300,
                reset=reset_connection,
                server_settings={
                    "application_name": application_name,
                    "statement_timeout": str(statement_timeout_ms),
                    "lock_timeout": str(statement_timeout_ms),
                    "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 6, 60_000)),
                },
            )
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, TimeoutError) as exc:
            if time.monotonic() + delay > deadline:
                raise ConnectionError(f"PostgreSQL not reachable within {startup_deadline:.0f} s: {exc}") from exc
            log.warning("database not reachable yet, retrying", extra={"error": str(exc), "retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        else:
            assert pool is not None
            return pool
