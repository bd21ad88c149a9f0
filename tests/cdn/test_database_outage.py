"""PostgreSQL down under the CDN: status RPCs answer UNAVAILABLE with a retry-after (never INTERNAL) and name no host,
port or exception class; health says the database is down; claiming resumes by itself once it is back. Stops and
restarts the session's cluster."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cdn.v1 import cdn_pb2

from scripts.pgcluster import PgCluster
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states


def safe(text: str, cluster: PgCluster) -> bool:
    return str(cluster.port) not in text and "127.0.0.1" not in text and "Error" not in text


async def test_status_rpcs_answer_unavailable_while_postgresql_is_down_and_claims_resume_after(
    start_cdn: StartCdn, image_server: ImageServer, pg_cluster: PgCluster
) -> None:
    runner = await start_cdn()
    channel, cdn, status = cdn_stub(runner.address)
    async with channel:
        await asyncio.to_thread(pg_cluster.stop, "fast")
        try:
            calls = {
                "GetQueueStatus": lambda: status.GetQueueStatus(cdn_pb2.GetQueueStatusRequest(), timeout=5),
                "GetStatistics": lambda: status.GetStatistics(cdn_pb2.GetStatisticsRequest(), timeout=5),
                "ListDeadJobs": lambda: cdn.ListDeadJobs(cdn_pb2.ListDeadJobsRequest(), timeout=5),
                "GetAssets": lambda: cdn.GetAssets(
                    cdn_pb2.GetAssetsRequest(source_urls=[image_server.url("/x.jpg")]), timeout=5
                ),
            }
            for name, call in calls.items():
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await call()
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE, (name, info.value.details())
                assert dict(info.value.trailing_metadata() or ()).get("retry-after"), name
                assert safe(info.value.details() or "", pg_cluster), info.value.details()
            health = await status.GetHealth(cdn_pb2.GetCdnHealthRequest(), timeout=5)
            assert health.status == cdn_pb2.COMPONENT_STATUS_DOWN
            assert health.database == cdn_pb2.COMPONENT_STATUS_DOWN
            assert safe(health.detail, pg_cluster), health.detail
        finally:
            await asyncio.to_thread(pg_cluster.start)
        image_server.routes["/back.jpg"] = Route(images.jpeg(48, 48, (10, 200, 10)))
        url = image_server.url("/back.jpg")
        for _ in range(100):  # the pool reconnects on its own; enqueue once it has
            try:
                await cdn.EnqueueJobs(
                    cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=cdn_pb2.ASSET_KIND_AVATAR)])
                )
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
                await asyncio.sleep(0.1)
        await wait_for_states(cdn, [url], {cdn_pb2.JOB_STATE_DONE}, deadline_s=15)
