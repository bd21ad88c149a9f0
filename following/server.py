"""The grpc.aio server bootstrap shared by every service.

A service supplies a `ServiceApp` (its composition root). The runner binds the port with grpc.health.v1 reporting
NOT_SERVING, opens the database pool, applies the service's migrations, starts the app, and only then reports SERVING.
The app runs its background loops on the runtime's `Supervisor`; while one of them is overdue the service reports
NOT_SERVING.
SIGTERM or SIGINT reports NOT_SERVING, lets in-flight RPCs finish within the grace period, stops the app (which
finishes or releases its background work) and closes the pool.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from following import logs
from following.db import CONNECTION_ERRORS, create_pool
from following.errors import Unavailable
from following.interceptors import CallInterceptor, Readiness
from following.metrics import MetricsEndpoint, serve_metrics
from following.migrations import Migration, MigrationError, discover, migrate
from following.settings import EnvReader, RuntimeSettings, SettingsError
from following.supervisor import Stall, Supervisor

log = logging.getLogger(__name__)

GRPC_OPTIONS = (
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Clients reconnect, and so re-resolve the service name, at least every 5 minutes: on Kubernetes they then find
    # pods added by the autoscaler. In-flight calls get 30 s to finish on the old connection.
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
)


@dataclass
class RuntimeContext:
    """What the runtime hands a starting app."""

    settings: RuntimeSettings
    pool: asyncpg.Pool | None
    health: health.aio.HealthServicer
    #: Runs the app's long-lived background loops (and watches their deadlines).
    supervisor: Supervisor


class ServiceApp(Protocol):
    """A service's composition root."""

    #: Also the name of its database schema.
    name: str
    #: Its numbered .sql migrations, or None for a service without tables.
    migrations_dir: Path | None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Adds the servicers; returns their full service names (for health and reflection)."""
        ...

    async def start(self, ctx: RuntimeContext) -> None:
        """Connects adapters, loads models, starts background workers. Raising aborts the start."""
        ...

    async def stop(self, grace: float) -> None:
        """Stops background work within `grace` seconds, finishing or releasing what is in flight."""
        ...


class ServiceRunner:
    """Runs one ServiceApp on a grpc.aio server; usable in-process by tests."""

    def __init__(self, app: ServiceApp, settings: RuntimeSettings) -> None:
        self.app = app
        self.settings = settings
        self.port = 0
        self.metrics: MetricsEndpoint | None = None
        self.pool: asyncpg.Pool | None = None
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._readiness = Readiness()
        self._names: list[str] = []
        self._stopping = False
        self.supervisor: Supervisor | None = None

    @property
    def address(self) -> str:
        return f"{self.settings.grpc_listen.host}:{self.port}"

    async def start(self) -> None:
        settings = self.settings
        if settings.metrics_listen is not None:
            self.metrics = serve_metrics(settings.metrics_listen.host, settings.metrics_listen.port)
        server = grpc.aio.server(interceptors=[CallInterceptor(self.app.name, self._readiness)], options=GRPC_OPTIONS)
        self._server = server
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        self._names = list(self.app.register(server))
        reflection.enable_server_reflection(
            [*self._names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            server,
        )
        await self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = server.add_insecure_port(str(settings.grpc_listen))
        if self.port == 0:
            raise OSError(f"GRPC_LISTEN: cannot bind {settings.grpc_listen}")
        await server.start()
        if settings.database_url:
            self.pool = await create_pool(
                settings.database_url,
                application_name=self.app.name,
                min_size=settings.db_pool_min,
                max_size=settings.db_pool_max,
                connect_timeout=settings.db_connect_timeout,
                statement_timeout_ms=settings.db_statement_timeout_ms,
            )
            if settings.migrate_on_start and self.app.migrations_dir is not None:
                migrations = discover(self.app.migrations_dir)
                applied = await self._migrate(migrations)
                log.info("migrations checked", extra={"applied": applied, "known": len(migrations)})
        # A loop failing only because the database (or another dependency) is down is alive: the service reports the
        # dependency, and a restart would not bring it back.
        self.supervisor = Supervisor(
            self._background_changed,
            check_every_s=min(1.0, settings.background_deadline_seconds / 2),
            excused=(*CONNECTION_ERRORS, Unavailable),
        )
        await self.app.start(RuntimeContext(settings, self.pool, self._health, self.supervisor))
        self._readiness.ready = True
        await self._set_status(health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={"grpc": self.address, "metrics_port": self.metrics.port if self.metrics else None},
        )

    async def _migrate(self, migrations: list[Migration]) -> list[str]:
        """Applies the migrations as the schema's owner (MIGRATION_DATABASE_URL) on a connection of its own, so the
        runtime role never needs to own, and so can never alter, its tables. Without it, as DATABASE_URL's role."""
        dsn = self.settings.migration_database_url
        if dsn is None:
            assert self.pool is not None
            async with self.pool.acquire() as conn:
                try:
                    return await migrate(conn, self.app.name, migrations)
                except MigrationError as exc:
                    hint = "ran as DATABASE_URL's role; set MIGRATION_DATABASE_URL to the schema owner's DSN"
                    raise MigrationError(f"{exc} ({hint})") from exc
        conn = await asyncpg.connect(dsn, timeout=self.settings.db_connect_timeout)
        try:
            return await migrate(conn, self.app.name, migrations)
        finally:
            await conn.close()

    async def stop(self, grace: float | None = None) -> None:
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping = True
        await self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        if self._server is not None:
            await self._server.stop(grace)
        try:
            await self.app.stop(grace)
            if self.supervisor is not None:
                await self.supervisor.stop(grace)
        finally:
            if self.pool is not None:
                await self.pool.close()
            if self.metrics is not None:
                self.metrics.close()
        log.info("stopped")

    async def _background_changed(self, stalls: list[Stall]) -> None:
        if self._stopping or not self._readiness.ready:
            return
        serving = health_pb2.HealthCheckResponse
        await self._set_status(serving.NOT_SERVING if stalls else serving.SERVING)

    async def _set_status(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in ("", *self._names):
            await self._health.set(name, status)


def run(build: Callable[[EnvReader], tuple[ServiceApp, RuntimeSettings]]) -> None:
    """Entry point of a service process: reads settings, serves until SIGTERM/SIGINT, exits non-zero on a bad start."""
    env = EnvReader()
    try:
        app, settings = build(env)
        env.check()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    logs.configure(settings.service, settings.log_level)
    sys.exit(asyncio.run(_serve(app, settings)))


async def _serve(app: ServiceApp, settings: RuntimeSettings) -> int:
    runner = ServiceRunner(app, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        start = asyncio.create_task(runner.start())
        waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({start, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():
            start.cancel()
        else:
            start.result()
            await waiter
    except MigrationError as exc:
        log.error("migration failed; refusing to start", extra={"error": str(exc)})
        await _safe_stop(runner)
        return 1
    except Exception:
        log.exception("start failed")
        await _safe_stop(runner)
        return 1
    log.info("shutting down", extra={"grace_s": settings.shutdown_grace_seconds})
    await _safe_stop(runner)
    return 0


async def _safe_stop(runner: ServiceRunner) -> None:
    try:
        await runner.stop()
    except Exception:
        log.exception("error while stopping")
