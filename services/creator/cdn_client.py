"""The gRPC client of the CDN service: EnqueueJobs for the jobs media.py plans, GetAssets for the mirror state of
images, as the creator API sees it (records.MediaInfo), and GetHealth, the CDN's own verdict on itself."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from creator.v1 import creator_pb2

from services.creator.media import JobPlan
from services.creator.records import MediaInfo, Rendition

MAX_JOBS_PER_CALL = 500
ROUND_ROBIN = (("grpc.lb_policy_name", "round_robin"),)


class CdnUnavailable(Exception):
    """The CDN did not answer in time or answered an error."""


def media_info(asset: cdn_pb2.Asset) -> MediaInfo:
    """The creator API's view of a CDN asset."""
    if asset.state == cdn_pb2.JOB_STATE_DONE and asset.renditions:
        renditions = tuple(Rendition(r.width, r.height, r.format, r.url) for r in asset.renditions)
        return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_MIRRORED, renditions)
    if asset.state == cdn_pb2.JOB_STATE_DEAD:
        return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_FAILED)
    return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_PENDING)


class CdnClient:
    """EnqueueJobs, GetAssets and GetHealth over one long-lived channel, with deadlines; every failure is
    CdnUnavailable."""

    def __init__(self, address: str, enqueue_deadline_s: float, assets_deadline_s: float) -> None:
        self.address = address
        # On Kubernetes the name is a headless Service: spread calls over every pod it resolves to.
        self._channel = grpc.aio.insecure_channel(address, options=ROUND_ROBIN)
        self._stub = cdn_pb2_grpc.CdnServiceStub(self._channel)
        self._enqueue_deadline_s = enqueue_deadline_s
        self._assets_deadline_s = assets_deadline_s

    async def enqueue(self, jobs: Sequence[JobPlan]) -> None:
        for start in range(0, len(jobs), MAX_JOBS_PER_CALL):
            chunk = jobs[start : start + MAX_JOBS_PER_CALL]
            request = cdn_pb2.EnqueueJobsRequest(
                jobs=[
                    cdn_pb2.JobSpec(
                        source_url=j.source_url,
                        kind=cdn_pb2.AssetKind.ValueType(j.kind),
                        priority=cdn_pb2.Priority.ValueType(j.priority),
                        owner=j.owner,
                    )
                    for j in chunk
                ]
            )
            try:
                await self._stub.EnqueueJobs(request, timeout=self._enqueue_deadline_s)
            except grpc.aio.AioRpcError as exc:
                raise CdnUnavailable(f"cdn EnqueueJobs: {exc.code().name}: {exc.details()}") from exc

    async def assets(self, urls: Sequence[str], deadline_s: float | None = None) -> list[MediaInfo]:
        """The mirror state of each URL (one batched call per 500 URLs); background callers may wait longer."""
        found: list[MediaInfo] = []
        for start in range(0, len(urls), MAX_JOBS_PER_CALL):
            request = cdn_pb2.GetAssetsRequest(source_urls=list(urls[start : start + MAX_JOBS_PER_CALL]))
            try:
                reply = await self._stub.GetAssets(request, timeout=deadline_s or self._assets_deadline_s)
            except grpc.aio.AioRpcError as exc:
                raise CdnUnavailable(f"cdn GetAssets: {exc.code().name}: {exc.details()}") from exc
            found.extend(media_info(asset) for asset in reply.assets)
        return found

    async def health(self, deadline_s: float) -> cdn_pb2.CdnHealth:
        """The CDN's verdict on itself (CdnStatusService.GetHealth, the answer of `/api/v1/cdn/health`), over a channel
        of its own: a CDN that has just come back answers at once, while the long-lived channel may still be waiting
        out its reconnect backoff."""
        async with grpc.aio.insecure_channel(self.address) as channel:
            try:
                return await cdn_pb2_grpc.CdnStatusServiceStub(channel).GetHealth(
                    cdn_pb2.GetCdnHealthRequest(), timeout=deadline_s
                )
            except grpc.aio.AioRpcError as exc:
                raise CdnUnavailable(f"cdn GetHealth: {exc.code().name}: {exc.details()}") from exc

    async def close(self) -> None:
        await self._channel.close()
