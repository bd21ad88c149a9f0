"""Worker limits, observed from the image server's side: the concurrency cap, the per-host rate limit, the breaker,
retries with backoff, and graceful shutdown."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from cdn.v1 import cdn_pb2

from services.cdn.server import CdnApp
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states
from tests.conftest import TestDatabase

DONE, DEAD = cdn_pb2.JOB_STATE_DONE, cdn_pb2.JOB_STATE_DEAD
AVATAR = cdn_pb2.ASSET_KIND_AVATAR


def specs(urls: list[str]) -> cdn_pb2.EnqueueJobsRequest:
    return cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=u, kind=AVATAR) for u in urls])


async def test_no_more_than_three_downloads_run_at_once_by_default(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    urls = []
    for i in range(10):
        image_server.routes[f"/c{i}.jpg"] = Route(images.jpeg(64, 64, (i, 0, 0)), delay=0.15)
        urls.append(image_server.url(f"/c{i}.jpg"))
    runner = await start_cdn(CDN_RATE_LIMIT_PER_HOST="0")
    channel, cdn, _ = cdn_stub(runner.address)
    async with channel:
        await cdn.EnqueueJobs(specs(urls))
        await wait_for_states(cdn, urls, {DONE})
    assert image_server.max_in_flight == 3


async def test_downloads_per_host_are_paced_by_the_token_bucket(start_cdn: StartCdn, image_server: ImageServer) -> None:
    urls = []
    for i in range(8):
        image_server.routes[f"/r{i}.jpg"] = Route(images.jpeg(32, 32, (0, i, 0)))
        urls.append(image_server.url(f"/r{i}.jpg"))
    runner = await start_cdn(CDN_RATE_LIMIT_PER_HOST="5", CDN_RATE_LIMIT_BURST="1", CDN_WORKER_CONCURRENCY="8")
    channel, cdn, _ = cdn_stub(runner.address)
    async with channel:
        enqueued_at = time.monotonic()
        await cdn.EnqueueJobs(specs(urls))
        await wait_for_states(cdn, urls, {DONE})
    times = sorted(t for path, hits in image_server.hits.items() for t in hits if path.startswith("/r"))
    assert len(times) == 8
    # 1 token up front, then one every 0.2 s: the k-th download cannot start before k * 0.2 s after the enqueue,
    # even with eight workers free (requests can only be later than their token, never earlier).
    for k, at in enumerate(times):
        assert at - enqueued_at >= k * 0.2 - 0.01, (k, at - enqueued_at)


async def test_breaker_opens_after_five_failures_and_probes_after_the_reset(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    urls = []
    for i in range(8):
        image_server.routes[f"/b{i}.jpg"] = Route(status=503)
        urls.append(image_server.url(f"/b{i}.jpg"))
    runner = await start_cdn(
        CDN_RATE_LIMIT_PER_HOST="0", CDN_BREAKER_RESET_SECONDS="2.0", CDN_MAX_ATTEMPTS="50",
        CDN_BACKOFF_BASE_SECONDS="0.05", CDN_BACKOFF_MAX_SECONDS="0.1",
    )  # fmt: skip
    channel, cdn, status = cdn_stub(runner.address)
    async with channel:
        await cdn.EnqueueJobs(specs(urls))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while sum(map(len, image_server.hits.values())) < 5:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        opened_at = loop.time()
        health = await status.GetHealth(cdn_pb2.GetCdnHealthRequest())
        assert [b.state for b in health.breakers] == [cdn_pb2.BREAKER_STATE_OPEN]
        # While open, no request reaches the host although jobs keep coming due.
        while loop.time() < opened_at + 1.0:
            assert sum(map(len, image_server.hits.values())) <= 5 + 2  # at most those in flight when it opened
            await asyncio.sleep(0.05)
        before = sum(map(len, image_server.hits.values()))
        for i in range(8):
            image_server.routes[f"/b{i}.jpg"] = Route(images.jpeg(32, 32))
        await wait_for_states(cdn, urls, {DONE}, deadline_s=15)
        metrics = await status.GetMetrics(cdn_pb2.GetCdnMetricsRequest())
    assert sum(map(len, image_server.hits.values())) - before == 8  # half-open probe, then closed
    assert metrics.downloads_rejected > 0


async def test_transient_failures_retry_with_backoff_until_success(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/flaky.jpg"] = Route(status=500)
    runner = await start_cdn(CDN_BACKOFF_BASE_SECONDS="0.3", CDN_BACKOFF_MAX_SECONDS="5", CDN_MAX_ATTEMPTS="3")
    channel, cdn, _ = cdn_stub(runner.address)
    url = image_server.url("/flaky.jpg")
    async with channel:
        await cdn.EnqueueJobs(specs([url]))
        (asset,) = await wait_for_states(cdn, [url], {DEAD})
        assert "HTTP 500" in asset.last_error
    hits = image_server.hits["/flaky.jpg"]
    assert len(hits) == 3
    # Equal jitter: the first retry waits 0.15-0.3 s, the second 0.3-0.6 s (plus scheduling and polling; lower bounds
    # are exact because a retry can only come after its run_at).
    assert 0.15 <= hits[1] - hits[0] < 2.0
    assert 0.3 <= hits[2] - hits[1] < 3.0


async def test_graceful_stop_finishes_in_flight_jobs_within_the_grace(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    gate = asyncio.Event()
    urls = []
    for i in range(3):
        image_server.routes[f"/g{i}.jpg"] = Route(images.jpeg(32, 32, (i, 9, 9)), gate=gate)
        urls.append(image_server.url(f"/g{i}.jpg"))
    runner = await start_cdn(CDN_RATE_LIMIT_PER_HOST="0")
    app = runner.app
    assert isinstance(app, CdnApp)
    channel, cdn, _ = cdn_stub(runner.address)
    async with channel:
        await cdn.EnqueueJobs(specs(urls))
        await wait_for_states(cdn, urls, {cdn_pb2.JOB_STATE_RUNNING})
    stopping = asyncio.create_task(runner.stop(5.0))
    await asyncio.sleep(0.1)
    gate.set()
    await stopping
    assert app.counters.done == 3


async def test_graceful_stop_releases_jobs_that_outlive_the_grace(
    start_cdn: StartCdn, image_server: ImageServer, database: TestDatabase
) -> None:
    gate = asyncio.Event()
    urls = []
    for i in range(2):
        image_server.routes[f"/s{i}.jpg"] = Route(images.jpeg(32, 32), gate=gate)
        urls.append(image_server.url(f"/s{i}.jpg"))
    first = await start_cdn(CDN_RATE_LIMIT_PER_HOST="0")
    channel, cdn, _ = cdn_stub(first.address)
    async with channel:
        await cdn.EnqueueJobs(specs(urls))
        await wait_for_states(cdn, urls, {cdn_pb2.JOB_STATE_RUNNING})
    await first.stop(0.2)
    conn = await asyncpg.connect(database.admin_dsn)
    try:
        rows = await conn.fetch("SELECT state, attempts, lease_token FROM cdn.jobs")
    finally:
        await conn.close()
    assert [(r["state"], r["attempts"], r["lease_token"]) for r in rows] == [("queued", 0, None)] * 2
    gate.set()
    second = await start_cdn(CDN_RATE_LIMIT_PER_HOST="0")
    channel, cdn, _ = cdn_stub(second.address)
    async with channel:
        await wait_for_states(cdn, urls, {DONE})


async def test_queue_status_counts_running_jobs_only_and_prefetched_ones_apart(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    urls = []
    for i in range(8):
        image_server.routes[f"/slow{i}.jpg"] = Route(images.jpeg(32, 32, (i, 9, 9)), delay=1.5)
        urls.append(image_server.url(f"/slow{i}.jpg"))
    runner = await start_cdn(CDN_RATE_LIMIT_PER_HOST="0", CDN_WORKER_CONCURRENCY="2", CDN_CLAIM_PREFETCH="3")
    channel, cdn, status = cdn_stub(runner.address)
    seen: list[tuple[int, int]] = []
    async with channel:
        await cdn.EnqueueJobs(specs(urls))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            queue = await status.GetQueueStatus(cdn_pb2.GetQueueStatusRequest(), timeout=5)
            seen.append((queue.active_workers, queue.prefetched_jobs))
            if queue.prefetched_jobs:
                break
            await asyncio.sleep(0.05)
        await wait_for_states(cdn, urls, {DONE}, deadline_s=30)
    assert seen[-1] == (2, 3), seen
    assert all(active <= 2 for active, _ in seen), "never more running than the capacity"
