"""The CDN service's composition root: `python -m services.cdn.server`.

Wires the queue store, the worker pool, maintenance, the downloader, Pillow processing and storage (plus the HTTP file
server for `file://` storage) to the shared grpc.aio runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from following.server import RuntimeContext, run
from following.settings import EnvReader, RuntimeSettings
from following.supervisor import Supervisor
from services.cdn.breaker import Breakers
from services.cdn.downloads import Downloader, DownloadPolicy
from services.cdn.fileserver import FileServer
from services.cdn.handlers import CdnAdminHandlers, CdnHandlers, CdnStatusHandlers
from services.cdn.imaging import ImagePolicy
from services.cdn.jobs import Kind
from services.cdn.listener import QueueListener, connector
from services.cdn.maintenance import Maintenance, Retention
from services.cdn.mirror import Mirror, StepTimeouts
from services.cdn.ratelimit import HostRateLimiter
from services.cdn.settings import CdnSettings
from services.cdn.storage import FileStorage, S3Storage, Storage
from services.cdn.store import JobStore
from services.cdn.telemetry import LiveCounters
from services.cdn.worker import PoolSettings, Processor, WorkerPool

MIGRATIONS = Path(__file__).parent / "migrations"


class CdnApp:
    name = "cdn"
    migrations_dir: Path | None = MIGRATIONS

    def __init__(self, settings: CdnSettings, processor: Processor | None = None) -> None:
        """`processor` replaces the image mirror (benchmarks use a no-op one to measure the queue alone)."""
        self.settings = settings
        self.counters = LiveCounters()
        self.breakers = Breakers(settings.breaker_failures, settings.breaker_reset_seconds)
        self.storage = _storage(settings)
        self.file_server: FileServer | None = None
        self.downloader = Downloader(
            DownloadPolicy(
                settings.allowed_hosts,
                settings.allow_private_networks,
                settings.max_download_bytes,
                settings.max_redirects,
                settings.download_timeout,
                settings.allowed_ports,
            )
        )
        self.executor = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="cdn-pillow")
        self.processor = processor
        self.store = JobStore()
        self.pool: WorkerPool | None = None
        self.maintenance: Maintenance | None = None
        self.listener: QueueListener | None = None
        self._cdn = CdnHandlers(self.store, self.storage, settings.max_attempts, self._wake_workers)
        self._admin = CdnAdminHandlers(self._cdn)
        self._supervisor: Supervisor | None = None
        self._status = CdnStatusHandlers(
            self.store,
            self.storage,
            self.breakers,
            self.counters,
            settings.concurrency,
            lambda: self._supervisor.stalls() if self._supervisor is not None else [],
        )

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        cdn_pb2_grpc.add_CdnServiceServicer_to_server(self._cdn, server)
        cdn_pb2_grpc.add_CdnStatusServiceServicer_to_server(self._status, server)
        cdn_pb2_grpc.add_CdnAdminServiceServicer_to_server(self._admin, server)
        services = cdn_pb2.DESCRIPTOR.services_by_name
        return [services[name].full_name for name in ("CdnService", "CdnStatusService", "CdnAdminService")]

    async def start(self, ctx: RuntimeContext) -> None:
        assert ctx.pool is not None, "the cdn service needs DATABASE_URL"
        s = self.settings
        store = self.store
        store.attach(ctx.pool)
        await self.storage.start()
        if isinstance(self.storage, FileStorage) and s.http_listen is not None:
            self.file_server = FileServer(self.storage.root, s.http_listen.host, s.http_listen.port)
            await self.file_server.start()
            if s.http_listen.port == 0 and self.storage.public_base_url == f"http://{s.http_listen}":
                # Bound to an ephemeral port (tests): publish the real one.
                self.storage.public_base_url = f"http://{s.http_listen.host}:{self.file_server.port}"
        await self.downloader.start()
        processor = self.processor or Mirror(
            self.downloader,
            self.storage,
            self.breakers,
            HostRateLimiter(s.rate_per_host, s.rate_burst),
            {Kind.AVATAR: s.avatar_sizes, Kind.POST_IMAGE: s.post_sizes},
            ImagePolicy(s.max_pixels, s.max_side, s.webp_quality, s.jpeg_quality),
            StepTimeouts(s.download_timeout, s.process_timeout, s.store_timeout),
            self.counters,
            self.executor,
        )
        pool_settings = PoolSettings(
            s.concurrency, s.prefetch, s.lease_seconds, s.poll_interval, s.backoff_base_seconds, s.backoff_max_seconds
        )
        self.pool = WorkerPool(store, processor, self.counters, pool_settings)
        self.maintenance = Maintenance(
            store, self.counters, self.breakers, s.maintenance_interval, s.gauge_interval, Retention(s.retention_days)
        )
        self._supervisor = ctx.supervisor
        deadline = ctx.settings.background_deadline_seconds
        self.maintenance.start(ctx.supervisor, deadline)
        if s.workers_enabled:
            self.pool.start(ctx.supervisor, deadline)
            assert ctx.settings.database_url is not None
            self.listener = QueueListener(connector(ctx.settings.database_url), self._wake_workers)
            self.listener.start(ctx.supervisor, deadline)

    def _wake_workers(self) -> None:
        if self.pool is not None:
            self.pool.wake()

    async def stop(self, grace: float) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self.pool is not None:
            await self.pool.stop(grace)
        if self.maintenance is not None:
            await self.maintenance.stop()
        await self.downloader.close()
        if self.file_server is not None:
            await self.file_server.close()
        await self.storage.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _storage(settings: CdnSettings) -> Storage:
    target = settings.storage
    if target.scheme == "s3":
        return S3Storage(
            target.bucket, target.prefix, settings.s3_endpoint_url, settings.s3_region, settings.public_base_url
        )
    return FileStorage(Path(target.path), settings.public_base_url)


def build(env: EnvReader) -> tuple[CdnApp, RuntimeSettings]:
    settings = RuntimeSettings.read("cdn", env, default_grpc_port=50053)
    return CdnApp(CdnSettings.read(env)), settings


if __name__ == "__main__":
    run(build)
