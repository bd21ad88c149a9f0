"""The replica's listening connection: LISTENs on the channel the queue's trigger NOTIFYs when a job becomes QUEUED
(migration 0005), and wakes the claimer for each notification, so a job enqueued on any replica starts within
milliseconds. It is a supervised loop (following.supervisor) that keeps one connection of its own (outside the pool,
application_name `cdn-listener`) LISTENing: when the connection is lost (database restart, terminated backend) it
reconnects and wakes the claimer once, to pick up what was enqueued meanwhile. Polling at CDN_POLL_INTERVAL_SECONDS
stays as the fallback."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from following.supervisor import Loop, Supervisor

log = logging.getLogger(__name__)
CHANNEL = "cdn_jobs_queued"
#: How often the idle connection is probed; a lost one is noticed at once through asyncpg's termination callback.
CHECK_EVERY_S = 5.0
APPLICATION_NAME = "cdn-listener"

Connect = Callable[[], Awaitable[asyncpg.Connection]]


def connector(dsn: str, timeout: float = 5.0) -> Connect:
    """Opens the listening connection to `dsn`, named so operators see it in pg_stat_activity."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=timeout, server_settings={"application_name": APPLICATION_NAME})

    return connect


class QueueListener:
    def __init__(self, connect: Connect, wake: Callable[[], None], check_every_s: float = CHECK_EVERY_S) -> None:
        self.connect = connect
        self.wake = wake
        self.check_every_s = check_every_s
        self._conn: asyncpg.Connection | None = None
        self._loop: Loop | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        self._loop = supervisor.add("cdn-listener", self._step, deadline_s=deadline_s)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop(1.0)
        await self._drop()

    async def _step(self) -> float:
        """Connects and LISTENs if not listening; else probes the connection. Returns the wait until the next check."""
        if self.listening:
            assert self._conn is not None
            try:
                await self._conn.fetchval("SELECT 1", timeout=2.0)
            except BaseException:
                await self._drop()
                raise
            return self.check_every_s
        await self._drop()
        conn = await self.connect()
        try:
            await conn.add_listener(CHANNEL, self._notified)
            conn.add_termination_listener(self._lost)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        log.info("listening for new jobs", extra={"channel": CHANNEL})
        self.wake()  # jobs enqueued while no connection listened
        return self.check_every_s

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self.wake()

    def _lost(self, conn: object) -> None:
        log.warning("the listening connection closed; reconnecting")
        if self._loop is not None:
            self._loop.wake()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.remove_termination_listener(self._lost)
        with contextlib.suppress(Exception):
            await conn.close(timeout=2.0)
        conn.terminate()  # a no-op once closed; drops a connection that could not close cleanly
