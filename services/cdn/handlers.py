"""The gRPC handlers, thin: validate, call the job queue (`jobs.JobQueue`) or the live state, map its values to
protobuf messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from following.breaker import BreakerState
from following.errors import InvalidArgument, NotFound
from following.pagination import PageTokenCodec
from following.supervisor import Stall
from services.cdn.breaker import Breakers
from services.cdn.jobs import (
    MAX_BATCH,
    STATE_TO_PROTO,
    DeadChange,
    JobQueue,
    JobState,
    check_source_url,
    parse_specs,
)
from services.cdn.storage import Storage
from services.cdn.telemetry import LiveCounters

BREAKER_STATES = {
    BreakerState.CLOSED: cdn_pb2.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: cdn_pb2.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: cdn_pb2.BREAKER_STATE_HALF_OPEN,
}
DEAD_JOB_TOKENS = PageTokenCodec("dead_jobs", int)
OK, DEGRADED, DOWN = cdn_pb2.COMPONENT_STATUS_OK, cdn_pb2.COMPONENT_STATUS_DEGRADED, cdn_pb2.COMPONENT_STATUS_DOWN
log = logging.getLogger(__name__)


class CdnHandlers(cdn_pb2_grpc.CdnServiceServicer):
    def __init__(self, queue: JobQueue, storage: Storage, max_attempts: int, on_enqueue: Callable[[], None]) -> None:
        self.queue = queue
        self.storage = storage
        self.max_attempts = max_attempts
        self.on_enqueue = on_enqueue

    async def EnqueueJobs(
        self, request: cdn_pb2.EnqueueJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.EnqueueJobsResponse:
        jobs = parse_specs(list(request.jobs))
        results = await self.queue.enqueue(jobs, self.max_attempts)
        self.on_enqueue()
        response = cdn_pb2.EnqueueJobsResponse()
        seen: set[tuple[str, int]] = set()
        for job in jobs:
            key = (job.source_url, job.kind)
            r = results[key]
            response.jobs.add(
                job_id=str(r.id),
                source_url=r.source_url,
                kind=int(r.kind),
                created=r.created and key not in seen,
                state=STATE_TO_PROTO[r.state],
            )
            seen.add(key)
        return response

    async def GetAssets(
        self, request: cdn_pb2.GetAssetsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.GetAssetsResponse:
        urls = list(request.source_urls)
        if not 1 <= len(urls) <= MAX_BATCH:
            raise InvalidArgument(f"source_urls: 1-{MAX_BATCH} URLs required; got {len(urls)}")
        for index, url in enumerate(urls):
            check_source_url(url, f"source_urls[{index}]")
        by_url: dict[str, cdn_pb2.Asset] = {}
        for found in await self.queue.assets(urls, int(request.kind)):
            if found.source_url in by_url:
                continue
            asset = cdn_pb2.Asset(
                source_url=found.source_url,
                kind=cdn_pb2.AssetKind.ValueType(found.kind),
                state=STATE_TO_PROTO[found.state],
                last_error=found.last_error if found.state in (JobState.RETRYING, JobState.DEAD) else "",
            )
            for r in found.renditions:
                asset.renditions.add(
                    width=r.width, height=r.height, format=r.format, url=self.storage.url(r.key), bytes=r.bytes
                )
            by_url[found.source_url] = asset
        response = cdn_pb2.GetAssetsResponse()
        for url in urls:
            response.assets.append(by_url.get(url) or cdn_pb2.Asset(source_url=url, kind=request.kind))
        return response

    async def ListDeadJobs(
        self, request: cdn_pb2.ListDeadJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.ListDeadJobsResponse:
        size = request.page_size or 100
        if size > MAX_BATCH:
            raise InvalidArgument(f"page_size: at most {MAX_BATCH}; got {size}")
        after = DEAD_JOB_TOKENS.decode(request.page_token)
        dead = await self.queue.dead(size + 1, after)
        response = cdn_pb2.ListDeadJobsResponse()
        for job in dead[:size]:
            failed_at = Timestamp()
            failed_at.FromDatetime(job.failed_at)
            response.jobs.add(
                job_id=str(job.id),
                source_url=job.source_url,
                kind=job.kind,
                priority=job.priority,
                attempts=job.attempts,
                last_error=job.last_error,
                failed_at=failed_at,
            )
        if len(dead) > size:
            last = dead[size - 1]
            response.next_page_token = DEAD_JOB_TOKENS.encode(last.failed_at, last.id)
        return response

    async def RetryJobs(
        self, request: cdn_pb2.RetryJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.RetryJobsResponse:
        if not request.all and not request.job_ids:
            raise InvalidArgument("job_ids: give job ids or set all")
        if len(request.job_ids) > MAX_BATCH:
            raise InvalidArgument(f"job_ids: at most {MAX_BATCH}")
        ids = []
        for job_id in request.job_ids:
            if not job_id.isdigit():
                raise InvalidArgument(f"job_ids: {job_id[:40]!r} is not a job id")
            ids.append(int(job_id))
        retried = await self.queue.retry_dead(ids, request.all)
        if retried:
            self.on_enqueue()
        return cdn_pb2.RetryJobsResponse(retried=retried)


class CdnStatusHandlers(cdn_pb2_grpc.CdnStatusServiceServicer):
    def __init__(
        self,
        queue: JobQueue,
        storage: Storage,
        breakers: Breakers,
        counters: LiveCounters,
        capacity: int,
        stalls: Callable[[], list[Stall]] = list,
    ) -> None:
        self.stalls = stalls
        self.queue = queue
        self.storage = storage
        self.breakers = breakers
        self.counters = counters
        self.capacity = capacity

    async def GetHealth(
        self, request: cdn_pb2.GetCdnHealthRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.CdnHealth:
        health = cdn_pb2.CdnHealth(database=OK, storage=OK)
        problems = []
        # Public answer (`/api/v1/cdn/health`): what is down, never where or which exception; the log has that.
        try:
            await self.queue.ping()
        except Exception as exc:
            health.database = DOWN
            problems.append("database: unreachable")
            log.warning("health: database unreachable", extra={"error": f"{type(exc).__name__}: {exc}"})
        try:
            await self.storage.check()
        except Exception as exc:
            health.storage = DOWN
            problems.append("storage: unavailable")
            log.warning("health: storage unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        stalls = self.stalls()
        problems.extend(stall.describe() for stall in stalls)
        now = time.time()
        for view in self.breakers.views():
            breaker = health.breakers.add(
                host=view.host, state=BREAKER_STATES[view.state], consecutive_failures=view.consecutive_failures
            )
            if view.state is BreakerState.OPEN:
                breaker.retry_at.FromSeconds(int(now + view.retry_in))
                problems.append(f"breaker open for {view.host}")
        if health.database == DOWN or stalls:
            health.status = DOWN
        elif problems:
            health.status = DEGRADED
        else:
            health.status = OK
        health.detail = "; ".join(problems)
        return health

    async def GetMetrics(
        self, request: cdn_pb2.GetCdnMetricsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.CdnMetrics:
        c = self.counters
        return cdn_pb2.CdnMetrics(
            uptime_seconds=time.monotonic() - c.started,
            jobs_claimed=c.claimed,
            jobs_done=c.done,
            jobs_failed=c.failed,
            jobs_dead=c.dead,
            jobs_rescued=c.rescued,
            bytes_downloaded=c.bytes_downloaded,
            bytes_stored=c.bytes_stored,
            active_workers=c.active,
            worker_capacity=self.capacity,
            downloads_rejected=c.rejected,
        )

    async def GetQueueStatus(
        self, request: cdn_pb2.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.QueueStatus:
        status = cdn_pb2.QueueStatus(oldest_queued_age_seconds=await self.queue.oldest_queued_age())
        running = prefetched = 0
        for count in await self.queue.queue_counts():
            status.counts.add(state=STATE_TO_PROTO[count.state], priority=count.priority, count=count.count)
            if count.state is JobState.RUNNING:
                running += count.count - count.prefetched
                prefetched += count.prefetched
        status.active_workers = running
        status.prefetched_jobs = prefetched
        return status

    async def GetStatistics(
        self, request: cdn_pb2.GetStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.Statistics:
        days = request.days or 7
        if days > 90:
            raise InvalidArgument(f"days: 1-90; got {days}")
        out = cdn_pb2.Statistics()
        for day in await self.queue.statistics(days):
            total = day.processed + day.failed
            out.days.add(
                date=day.date,
                processed=day.processed,
                failed=day.failed,
                success_rate=day.processed / total if total else 0.0,
                p50_ms=day.p50_ms,
                p95_ms=day.p95_ms,
                bytes_in=day.bytes_in,
                bytes_out=day.bytes_out,
            )
        return out


class CdnAdminHandlers(cdn_pb2_grpc.CdnAdminServiceServicer):
    """The operators' dead-letter tools, routed by the gateway for the operator role only."""

    def __init__(self, cdn: CdnHandlers) -> None:
        self.cdn = cdn

    async def ListDeadJobs(
        self, request: cdn_pb2.ListDeadJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.ListDeadJobsResponse:
        response = await self.cdn.ListDeadJobs(request, context)
        response.total_size = await self.cdn.queue.count_dead()
        return response

    async def RetryDeadJobs(
        self, request: cdn_pb2.RetryJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.RetryJobsResponse:
        ids = _dead_job_ids(list(request.job_ids), request.all)
        change = _found(await self.cdn.queue.retry_dead_exactly(ids, request.all))
        if change:
            self.cdn.on_enqueue()
        return cdn_pb2.RetryJobsResponse(retried=change)

    async def DiscardDeadJobs(
        self, request: cdn_pb2.DiscardJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.DiscardJobsResponse:
        ids = _dead_job_ids(list(request.job_ids), request.all)
        return cdn_pb2.DiscardJobsResponse(discarded=_found(await self.cdn.queue.discard_dead(ids, request.all)))


def _dead_job_ids(job_ids: list[str], every: bool) -> list[int]:
    if every == bool(job_ids):
        raise InvalidArgument("job_ids: give job ids or set all, not both")
    if len(job_ids) > MAX_BATCH:
        raise InvalidArgument(f"job_ids: at most {MAX_BATCH}")
    for job_id in job_ids:
        if not job_id.isdigit() or len(job_id) > 18:
            raise InvalidArgument(f"job_ids: {job_id[:40]!r} is not a job id")
    return [int(job_id) for job_id in job_ids]


def _found(change: DeadChange) -> int:
    if change.missing:
        names = ", ".join(str(job_id) for job_id in change.missing[:10])
        raise NotFound(f"no dead job with id {names}; nothing was changed (list them with GET /api/v1/cdn/dead-jobs)")
    return change.changed
