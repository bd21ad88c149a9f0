"""Media mirroring through the CDN service: which images to copy first (the client that asks for it is cdn_client.py).

Priorities: the avatar is CRITICAL (it shows first), the newest posts' images HIGH, the rest of the recent posts
MEDIUM, carousel items LOW. The CDN deduplicates jobs by (source_url, kind), so enqueueing again is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdn.v1 import cdn_pb2

from services.creator.upstream import ProfileFetch

HIGH_PRIORITY_POSTS = 4


@dataclass(frozen=True, slots=True)
class JobPlan:
    source_url: str
    kind: int  # cdn.v1 AssetKind
    priority: int  # cdn.v1 Priority
    owner: str


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
