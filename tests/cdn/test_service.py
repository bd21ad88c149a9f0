"""The CDN service end to end over gRPC: enqueue → downloaded, processed, stored and served; dedup; dead letters and
admin retry; status RPCs and statistics."""

from __future__ import annotations

import base64

import aiohttp
import grpc
import pytest
from cdn.v1 import cdn_pb2
from prometheus_client import REGISTRY

from scripts.pgcluster import free_port
from services.cdn.server import CdnApp
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states

DONE, DEAD = cdn_pb2.JOB_STATE_DONE, cdn_pb2.JOB_STATE_DEAD
POST, AVATAR = cdn_pb2.ASSET_KIND_POST_IMAGE, cdn_pb2.ASSET_KIND_AVATAR


async def test_enqueued_post_image_ends_done_with_renditions_served_over_http(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/p1.jpg"] = Route(images.patterned_jpeg(1))
    runner = await start_cdn()
    channel, cdn, _ = cdn_stub(runner.address)
    url = image_server.url("/p1.jpg")
    async with channel:
        response = await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=POST)]))
        assert response.jobs[0].created and response.jobs[0].source_url == url
        (asset,) = await wait_for_states(cdn, [url], {DONE})
    assert [(r.width, r.format) for r in asset.renditions] == [
        (320, "jpeg"), (320, "webp"), (640, "jpeg"), (640, "webp"), (1080, "jpeg"), (1080, "webp"),
    ]  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for rendition in asset.renditions:
            async with http.get(rendition.url) as served:
                body = await served.read()
                assert served.status == 200 and len(body) == rendition.bytes
                assert served.headers["Content-Type"] == f"image/{rendition.format}"


async def test_enqueueing_twice_is_a_no_op_that_may_only_raise_the_priority(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    runner = await start_cdn(CDN_WORKERS_ENABLED="false")
    channel, cdn, status = cdn_stub(runner.address)
    url = image_server.url("/same.jpg")
    low = cdn_pb2.JobSpec(source_url=url, kind=AVATAR, priority=cdn_pb2.PRIORITY_LOW)
    high = cdn_pb2.JobSpec(source_url=url, kind=AVATAR, priority=cdn_pb2.PRIORITY_HIGH)
    async with channel:
        first = await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[low, low]))
        assert [j.created for j in first.jobs] == [True, False]
        again = await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[high]))
        assert not again.jobs[0].created and again.jobs[0].job_id == first.jobs[0].job_id
        again = await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[low]))
        queue = await status.GetQueueStatus(cdn_pb2.GetQueueStatusRequest())
    assert [(c.state, c.priority, c.count) for c in queue.counts] == [
        (cdn_pb2.JOB_STATE_QUEUED, cdn_pb2.PRIORITY_HIGH, 1)
    ]


@pytest.mark.parametrize(
    "jobs",
    [
        [],
        [cdn_pb2.JobSpec(source_url="ftp://x.cdninstagram.com/a.jpg", kind=POST)],
        [cdn_pb2.JobSpec(source_url="https://x.cdninstagram.com/a.jpg")],
        [cdn_pb2.JobSpec(source_url="https://x.cdninstagram.com/a.jpg", kind=POST)] * 501,
    ],
    ids=["empty", "not-http", "no-kind", "too-many"],
)
async def test_bad_enqueue_requests_are_invalid_arguments(start_cdn: StartCdn, jobs: list[cdn_pb2.JobSpec]) -> None:
    runner = await start_cdn(CDN_WORKERS_ENABLED="false")
    channel, cdn, _ = cdn_stub(runner.address)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=jobs))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bad_image_goes_dead_with_its_error_and_admin_retry_requeues_it(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/bad.jpg"] = Route(images.truncated_jpeg())
    runner = await start_cdn()
    channel, cdn, status = cdn_stub(runner.address)
    url = image_server.url("/bad.jpg")
    async with channel:
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=AVATAR)]))
        (asset,) = await wait_for_states(cdn, [url], {DEAD})
        assert "corrupt image" in asset.last_error or "cannot decode" in asset.last_error
        dead = await cdn.ListDeadJobs(cdn_pb2.ListDeadJobsRequest())
        assert [(j.source_url, j.attempts) for j in dead.jobs] == [(url, 1)]
        assert dead.jobs[0].last_error == asset.last_error
        image_server.routes["/bad.jpg"] = Route(images.jpeg(300, 300))
        retried = await cdn.RetryJobs(cdn_pb2.RetryJobsRequest(job_ids=[dead.jobs[0].job_id]))
        assert retried.retried == 1
        (asset,) = await wait_for_states(cdn, [url], {DONE})
        assert asset.renditions and not asset.last_error
        stats = await status.GetStatistics(cdn_pb2.GetStatisticsRequest(days=2))
        metrics = await status.GetMetrics(cdn_pb2.GetCdnMetricsRequest())
    assert len(stats.days) == 2
    today = stats.days[-1]
    assert (today.processed, today.failed, today.success_rate) == (1, 1, 0.5)
    assert today.p50_ms > 0 and today.p95_ms >= today.p50_ms and today.bytes_in > 0 and today.bytes_out > 0
    assert (metrics.jobs_done, metrics.jobs_dead, metrics.jobs_claimed, metrics.worker_capacity) == (1, 1, 2, 3)


async def test_dead_jobs_page_newest_failure_first(start_cdn: StartCdn, image_server: ImageServer) -> None:
    runner = await start_cdn()
    channel, cdn, _ = cdn_stub(runner.address)
    urls = [image_server.url(f"/missing-{i}.jpg") for i in range(5)]
    async with channel:
        for url in urls:  # one at a time, so failure times are ordered
            await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=AVATAR)]))
            await wait_for_states(cdn, [url], {DEAD})
        seen: list[str] = []
        token = ""
        for _ in range(5):
            page = await cdn.ListDeadJobs(cdn_pb2.ListDeadJobsRequest(page_size=2, page_token=token))
            seen += [j.source_url for j in page.jobs]
            token = page.next_page_token
            if not token:
                break
        assert seen == urls[::-1]
        assert all("HTTP 404" in j.last_error for j in page.jobs)
        retried = await cdn.RetryJobs(cdn_pb2.RetryJobsRequest(all=True))
    assert retried.retried == 5


async def test_health_reports_database_storage_and_open_breakers(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/down.jpg"] = Route(status=503)
    runner = await start_cdn(CDN_BREAKER_FAILURES="1", CDN_MAX_ATTEMPTS="1")
    channel, cdn, status = cdn_stub(runner.address)
    async with channel:
        healthy = await status.GetHealth(cdn_pb2.GetCdnHealthRequest())
        assert (healthy.status, healthy.database, healthy.storage) == (cdn_pb2.COMPONENT_STATUS_OK,) * 3
        url = image_server.url("/down.jpg")
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=AVATAR)]))
        await wait_for_states(cdn, [url], {DEAD})
        degraded = await status.GetHealth(cdn_pb2.GetCdnHealthRequest())
    assert degraded.status == cdn_pb2.COMPONENT_STATUS_DEGRADED
    target = f"127.0.0.1:{image_server.port}"
    assert [(b.host, b.state) for b in degraded.breakers] == [(target, cdn_pb2.BREAKER_STATE_OPEN)]
    assert degraded.breakers[0].retry_at.seconds > 0
    app = runner.app
    assert isinstance(app, CdnApp) and app.maintenance is not None
    await app.maintenance.gauges.run_once()
    assert REGISTRY.get_sample_value("cdn_breaker_open", {"host": target}) == 1
    assert REGISTRY.get_sample_value("cdn_jobs", {"state": "dead"}) == 1


async def test_jobs_for_hosts_off_the_allowlist_go_dead_without_a_download(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(32, 32))
    runner = await start_cdn(CDN_ALLOWED_HOSTS="*.cdninstagram.com")
    channel, cdn, _ = cdn_stub(runner.address)
    urls = [image_server.url("/a.jpg"), "http://169.254.169.254/latest/meta-data/iam"]
    async with channel:
        specs = [cdn_pb2.JobSpec(source_url=u, kind=AVATAR) for u in urls]
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=specs))
        assets = await wait_for_states(cdn, urls, {DEAD})
    assert all("not on CDN_ALLOWED_HOSTS" in a.last_error for a in assets)
    assert image_server.count("/a.jpg") == 0


async def test_urls_the_target_policy_refuses_go_dead_after_one_attempt_with_the_reason(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(32, 32))
    runner = await start_cdn(CDN_ALLOWED_HOSTS=f"127.0.0.1:{image_server.port}", CDN_ALLOWED_PORTS="")
    channel, cdn, _ = cdn_stub(runner.address)
    refused = {
        "http://127.0.0.1:99999/a.jpg": "does not parse",
        "http://127.0.0.1:6379/a.jpg": "port 6379",
        f"http://127.0.0.1:{image_server.port}/\uff0e\uff0e/a.jpg": "printable ASCII",
        f"http://127.0.0.1:{image_server.port}\\@evil.test/a.jpg": "backslash",
    }
    good = image_server.url("/a.jpg")
    async with channel:
        specs = [cdn_pb2.JobSpec(source_url=u, kind=AVATAR) for u in [*refused, good]]
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=specs))
        await wait_for_states(cdn, [good], {DONE})
        await wait_for_states(cdn, list(refused), {DEAD})
        dead = await cdn.ListDeadJobs(cdn_pb2.ListDeadJobsRequest(page_size=10))
    assert {j.source_url: j.attempts for j in dead.jobs} == dict.fromkeys(refused, 1)
    for job in dead.jobs:
        assert refused[job.source_url] in job.last_error
    assert image_server.count("/a.jpg") == 1  # only the allowed URL reached the server


async def test_the_breaker_is_per_host_and_port(start_cdn: StartCdn, image_server: ImageServer) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(32, 32))
    closed_port = free_port()  # nothing listens there: every download fails at connect
    runner = await start_cdn(CDN_BREAKER_FAILURES="1", CDN_BREAKER_RESET_SECONDS="60", CDN_MAX_ATTEMPTS="1")
    channel, cdn, status = cdn_stub(runner.address)
    failing, good = f"http://127.0.0.1:{closed_port}/a.jpg", image_server.url("/a.jpg")
    async with channel:
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=failing, kind=AVATAR)]))
        await wait_for_states(cdn, [failing], {DEAD})
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=good, kind=AVATAR)]))
        await wait_for_states(cdn, [good], {DONE}, deadline_s=10)
        health = await status.GetHealth(cdn_pb2.GetCdnHealthRequest())
    breakers = {b.host: b.state for b in health.breakers}
    assert breakers == {
        f"127.0.0.1:{closed_port}": cdn_pb2.BREAKER_STATE_OPEN,
        f"127.0.0.1:{image_server.port}": cdn_pb2.BREAKER_STATE_CLOSED,
    }


async def test_prometheus_gauges_expose_queue_depth_and_oldest_age(start_cdn: StartCdn) -> None:
    runner = await start_cdn(CDN_WORKERS_ENABLED="false")
    channel, cdn, status = cdn_stub(runner.address)
    async with channel:
        await cdn.EnqueueJobs(
            cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url="https://x.fbcdn.net/a.jpg", kind=POST)])
        )
        queue = await status.GetQueueStatus(cdn_pb2.GetQueueStatusRequest())
    assert queue.oldest_queued_age_seconds >= 0 and queue.active_workers == 0
    app = runner.app
    assert isinstance(app, CdnApp) and app.maintenance is not None
    await app.maintenance.gauges.run_once()
    assert REGISTRY.get_sample_value("cdn_jobs", {"state": "queued"}) == 1
    assert REGISTRY.get_sample_value("cdn_queue_oldest_age_seconds") is not None


async def test_crafted_dead_job_page_tokens_are_invalid_arguments(start_cdn: StartCdn) -> None:
    """Tokens that passed the old decoder (or crashed it) overflowed in Python or PostgreSQL and answered INTERNAL."""
    tokens = [
        base64.urlsafe_b64encode(b"99999999999999999999:1").decode(),  # a moment past year 9999
        base64.urlsafe_b64encode(b"1795000000000000:99999999999999999999").decode(),  # an id past int64
        base64.urlsafe_b64encode(b"-99999999999999999:1").decode(),
        base64.urlsafe_b64encode(b'["dead_jobs",1795000000000000,18446744073709551616]').decode(),
        base64.urlsafe_b64encode(b'["dead_jobs",1e400,1]').decode(),
        base64.urlsafe_b64encode(b'["unlocked",1795000000000000,1]').decode(),
        "%00",
        "\x00",
        "not base64!",
        "A" * 4000,
    ]
    runner = await start_cdn()
    channel, cdn, _ = cdn_stub(runner.address)
    answers = []
    async with channel:
        for token in tokens:
            try:
                await cdn.ListDeadJobs(cdn_pb2.ListDeadJobsRequest(page_token=token), timeout=5)
                answers.append((token, "OK", ""))
            except grpc.aio.AioRpcError as exc:
                answers.append((token, exc.code().name, exc.details() or ""))
    wrong = [(token[:40], code, details) for token, code, details in answers if code != "INVALID_ARGUMENT"]
    assert not wrong, wrong
    assert all(details.startswith("page_token: ") for _, _, details in answers)
