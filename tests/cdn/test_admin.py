"""The operators' dead-letter tools (CdnAdminService): list with reasons and a total, retry or discard by id or all,
all or nothing when a named job is not dead."""

from __future__ import annotations

import grpc
import pytest
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states

DONE, DEAD = cdn_pb2.JOB_STATE_DONE, cdn_pb2.JOB_STATE_DEAD
AVATAR = cdn_pb2.ASSET_KIND_AVATAR


async def test_operators_list_retry_and_discard_dead_jobs(start_cdn: StartCdn, image_server: ImageServer) -> None:
    runner = await start_cdn()
    channel, cdn, _ = cdn_stub(runner.address)
    admin = cdn_pb2_grpc.CdnAdminServiceStub(channel)
    urls = [image_server.url(f"/gone-{i}.jpg") for i in range(3)]
    async with channel:
        specs = [cdn_pb2.JobSpec(source_url=url, kind=AVATAR) for url in urls]
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=specs))
        await wait_for_states(cdn, urls, {DEAD})

        listed = await admin.ListDeadJobs(cdn_pb2.ListDeadJobsRequest(page_size=2))
        assert listed.total_size == 3 and len(listed.jobs) == 2 and listed.next_page_token
        assert all("HTTP 404" in job.last_error for job in listed.jobs), "each dead job carries its reason"
        ids = {job.source_url: job.job_id for job in (await admin.ListDeadJobs(cdn_pb2.ListDeadJobsRequest())).jobs}

        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await admin.RetryDeadJobs(cdn_pb2.RetryJobsRequest(job_ids=[ids[urls[0]], "987654321"]))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert "987654321" in (missing.value.details() or "")
        assert (await admin.ListDeadJobs(cdn_pb2.ListDeadJobsRequest())).total_size == 3, "nothing changed"

        discarded = await admin.DiscardDeadJobs(cdn_pb2.DiscardJobsRequest(job_ids=[ids[urls[0]]]))
        assert discarded.discarded == 1
        (gone,) = (await cdn.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=[urls[0]]))).assets
        assert gone.state == cdn_pb2.JOB_STATE_UNSPECIFIED, "a discarded job no longer exists"

        for i in (1, 2):
            image_server.routes[f"/gone-{i}.jpg"] = Route(images.jpeg(200, 200))
        retried = await admin.RetryDeadJobs(cdn_pb2.RetryJobsRequest(all=True))
        assert retried.retried == 2
        await wait_for_states(cdn, urls[1:], {DONE})
        assert (await admin.ListDeadJobs(cdn_pb2.ListDeadJobsRequest())).total_size == 0
        assert (await admin.DiscardDeadJobs(cdn_pb2.DiscardJobsRequest(all=True))).discarded == 0


@pytest.mark.parametrize(
    "request_",
    [
        cdn_pb2.RetryJobsRequest(),
        cdn_pb2.RetryJobsRequest(job_ids=["1"], all=True),
        cdn_pb2.RetryJobsRequest(job_ids=["x1"]),
        cdn_pb2.RetryJobsRequest(job_ids=["9" * 30]),
    ],
    ids=["neither", "both", "not-a-number", "too-long"],
)
async def test_bad_retry_requests_are_invalid_arguments(
    start_cdn: StartCdn, request_: cdn_pb2.RetryJobsRequest
) -> None:
    runner = await start_cdn(CDN_WORKERS_ENABLED="false")
    channel, _, _ = cdn_stub(runner.address)
    admin = cdn_pb2_grpc.CdnAdminServiceStub(channel)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as retry:
            await admin.RetryDeadJobs(request_)
        with pytest.raises(grpc.aio.AioRpcError) as discard:
            await admin.DiscardDeadJobs(cdn_pb2.DiscardJobsRequest(job_ids=request_.job_ids, all=request_.all))
    assert retry.value.code() == discard.value.code() == grpc.StatusCode.INVALID_ARGUMENT
