"""Media mirroring through the CDN service: which images to copy first, and the gRPC client that asks for it.

Priorities: the avatar is CRITICAL (it shows first), the newest posts' images HIGH, the rest of the recent posts
MEDIUM, carousel items LOW. The CDN deduplicates jobs by (source_url, kind), so enqueueing again is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from creator.v1 import creator_pb2

from services.creator.records import MediaInfo, Rendition
from services.creator.upstream import ProfileFetch

HIGH_PRIORITY_POSTS = 4
MAX_JOBS_PER_CALL = 500
ROUND_ROBIN = (("grpc.lb_policy_name", "round_robin"),)


@dataclass(frozen=True, slots=True)
class JobPlan:
    source_url: str
    kind: int  # cdn.v1 AssetKind
    priority: int  # cdn.v1 Priority
    owner: str


class CdnUnavailable(Exception):
    """The CDN did not answer in time or answered an error."""


def plan_jobs(fetch: ProfileFetch) -> list[JobPlan]:
    """The CDN jobs of a fetch, most urgent first, each URL once."""
    owner = f"creator:{fetch.profile.username}"
    jobs: dict[str, JobPlan] = {}

    def add(url: str | None, kind: int, priority: int) -> None:
        if url and url.startswith(("http://", "https://")) and url not in jobs:
            jobs[url] = JobPlan(url, kind, priority, owner)

    add(fetch.profile.avatar_url, cdn_pb2.ASSET_KIND_AVATAR, cdn_pb2.PRIORITY_CRITICAL)
    newest_first = sorted(fetch.posts, key=lambda post: post.taken_at, reverse=True)
    for index, post in enumerate(newest_first):
        priority = cdn_pb2.PRIORITY_HIGH if index < HIGH_PRIORITY_POSTS else cdn_pb2.PRIORITY_MEDIUM
        add(post.image_url, cdn_pb2.ASSET_KIND_POST_IMAGE, priority)
    for post in newest_first:
        for item in post.carousel:
            add(item.image_url, cdn_pb2.ASSET_KIND_POST_IMAGE, cdn_pb2.PRIORITY_LOW)
    return sorted(jobs.values(), key=lambda job: -job.priority)


def media_info(asset: cdn_pb2.Asset) -> MediaInfo:
    """The creator API's view of a CDN asset."""
    if asset.state == cdn_pb2.JOB_STATE_DONE and asset.renditions:
        renditions = tuple(Rendition(r.width, r.height, r.format, r.url) for r in asset.renditions)
        return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_MIRRORED, renditions)
    if asset.state == cdn_pb2.JOB_STATE_DEAD:
        return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_FAILED)
    return MediaInfo(asset.source_url, creator_pb2.MEDIA_STATE_PENDING)


class CdnClient:
    """EnqueueJobs and GetAssets over one long-lived channel, with deadlines; every failure is CdnUnavailable."""

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

    async def close(self) -> None:
        await self._channel.close()
