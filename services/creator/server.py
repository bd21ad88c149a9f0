"""Composition root of the creator service: `python -m services.creator.server`.

Wires the database guard, the upstream source (with its PostgreSQL request budget), the inference and CDN clients,
the search flow, the gRPC handlers and the background components (analysis completer, outbox relay, media settler,
refresh scheduler).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from following.server import RuntimeContext, run
from following.settings import EnvReader, RuntimeSettings
from following.supervisor import Supervisor
from services.creator import wire
from services.creator.budget import PgRequestBudget
from services.creator.cdn_client import CdnClient
from services.creator.dbguard import DatabaseGuard
from services.creator.handlers import CreatorServicer
from services.creator.health import SystemServicer
from services.creator.inference_client import InferenceClient
from services.creator.quota import FetchQuota
from services.creator.scheduler import RefreshScheduler
from services.creator.search import SearchService
from services.creator.settings import CreatorSettings
from services.creator.upstream import ProfileSource, UpstreamSettings, create_source
from services.creator.workers import AnalysisCompleter, CreatorEmbedder, MediaSettler, OutboxRelay

MIGRATIONS = Path(__file__).parent / "migrations"
SETTLE_CREATORS_PER_PASS = 50


class CreatorApp:
    name = "creator"
    migrations_dir: Path | None = MIGRATIONS

    def __init__(self, settings: CreatorSettings, upstream: UpstreamSettings) -> None:
        self.settings = settings
        self.upstream = upstream
        self.guard: DatabaseGuard | None = None
        self.search: SearchService | None = None
        self.completer: AnalysisCompleter | None = None
        self.embedder: CreatorEmbedder | None = None
        self.relay: OutboxRelay | None = None
        self.settler: MediaSettler | None = None
        self.scheduler: RefreshScheduler | None = None
        self._source: ProfileSource | None = None
        self._inference: InferenceClient | None = None
        self._cdn: CdnClient | None = None
        self._supervisor: Supervisor | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        wire.add_creator_service(
            CreatorServicer(
                self._parts,
                self.settings.default_post_limit,
                self.settings.report_rules,
                self.settings.tracking,
                lambda: self._inference,
                self.settings.json_cache_mb << 20,
            ),
            server,
        )
        creator_pb2_grpc.add_SystemServiceServicer_to_server(
            SystemServicer(
                lambda: self.guard,
                self.settings.inference_addr,
                lambda: self._cdn,
                self.settings.health_timeout_s,
                lambda: self._supervisor.stalls() if self._supervisor is not None else [],
            ),
            server,
        )
        services = creator_pb2.DESCRIPTOR.services_by_name
        return [services["CreatorService"].full_name, services["SystemService"].full_name]

    def _parts(self) -> tuple[DatabaseGuard, SearchService] | None:
        if self.guard is None or self.search is None:
            return None
        return self.guard, self.search

    async def start(self, ctx: RuntimeContext) -> None:
        if ctx.pool is None:
            raise RuntimeError("DATABASE_URL: the creator service needs its database")
        s = self.settings
        guard = DatabaseGuard(
            ctx.pool,
            acquire_timeout_s=s.db_acquire_timeout_s,
            threshold=s.db_breaker_threshold,
            cooldown_s=s.db_breaker_cooldown_s,
        )
        budget = PgRequestBudget(guard, self.upstream.source, s.budget_capacity, s.budget_refill_per_minute)
        await budget.ensure()
        self._source = create_source(self.upstream, budget)
        self._inference = InferenceClient(s.inference_addr, s.inference_deadline_s)
        self._cdn = CdnClient(s.cdn_addr, s.cdn_enqueue_deadline_s, s.cdn_assets_deadline_s)
        quota = FetchQuota(guard, s.user_fetches_per_hour)
        self.embedder = CreatorEmbedder(
            guard, self._inference, batch=s.worker_batch, window=s.report_rules.summary_window, poll_s=s.worker_poll_s
        )
        self.completer = AnalysisCompleter(
            guard,
            self._inference,
            batch=s.worker_batch,
            lease_s=s.inference_deadline_s + 10,
            max_backoff_s=s.retry_backoff_max_s,
            poll_s=s.worker_poll_s,
            rules=s.report_rules,
            embedder=self.embedder,
        )
        self.relay = OutboxRelay(
            guard,
            self._cdn,
            batch=500,
            lease_s=s.cdn_enqueue_deadline_s + 10,
            max_backoff_s=s.retry_backoff_max_s,
            poll_s=s.worker_poll_s,
        )
        self.search = SearchService(
            guard, self._source, self._inference, self._cdn, s, quota, self.completer, self.relay, self.embedder
        )
        self.settler = MediaSettler(
            guard,
            self._cdn,
            creators=SETTLE_CREATORS_PER_PASS,
            window_s=s.media_settle_window_s,
            poll_s=s.media_settle_poll_s,
            rules=s.report_rules,
        )
        self.scheduler = RefreshScheduler(guard, self.search, s.tracking, self.upstream.source)
        self.guard = guard
        self._supervisor = ctx.supervisor
        deadline = ctx.settings.background_deadline_seconds
        self.search.start(ctx.supervisor, deadline)
        self.completer.start(ctx.supervisor, deadline)
        self.embedder.start(ctx.supervisor, deadline)
        self.relay.start(ctx.supervisor, deadline)
        self.settler.start(ctx.supervisor, deadline)
        self.scheduler.start(ctx.supervisor, deadline)

    async def stop(self, grace: float) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop(grace)
        if self.search is not None:
            await self.search.close()
        for component in (self.completer, self.embedder, self.relay, self.settler):
            if component is not None:
                await component.stop(grace)
        if self._source is not None:
            await self._source.aclose()
        for client in (self._inference, self._cdn):
            if client is not None:
                await client.close()


def build(env: EnvReader) -> tuple[CreatorApp, RuntimeSettings]:
    runtime = RuntimeSettings.read("creator", env, default_grpc_port=50051)
    settings = CreatorSettings.read(env)
    return CreatorApp(settings, UpstreamSettings.read(env)), runtime


if __name__ == "__main__":
    run(build)
