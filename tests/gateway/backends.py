"""Test backends for the gateway: grpc.aio servers built from the generated stubs, not the real services.

One server implements every service of the protos, the internal ones included (so a test can prove the gateway does
not route them even though a backend would answer), and records the method and metadata of each call it receives.
Run it alone for the benchmark: `python -m tests.gateway.backends --listen 127.0.0.1:0 --port-file F`.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.api import httpbody_pb2
from inference.v1 import inference_pb2, inference_pb2_grpc

from following.errors import CreatorNotFound, UpstreamThrottled, rich_status
from services.creator.report_json import encode, message_json
from services.gateway.openapi import load_document

SLOW_SECONDS = 5.0
HTTP_STATUS = "x-http-status"
TEST_HTTP_STATUS = "x-test-http-status"
MAX_ITEMS = 50_000  # bounds the lists a request can ask for (fuzzed limits reach 2**32)


@dataclass(frozen=True)
class Call:
    method: str
    metadata: dict[str, str]


@dataclass
class Recorder:
    """What reached the backend, in order."""

    calls: list[Call] = field(default_factory=list)

    def record(self, method: str, context: grpc.aio.ServicerContext) -> dict[str, str]:
        metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        self.calls.append(Call(method, metadata))
        return metadata

    async def answer_http_status(self, metadata: dict[str, str], context: grpc.aio.ServicerContext) -> None:
        """Sends `x-http-status` (as the creator's health check does) when the call asks with `x-test-http-status`."""
        status = metadata.get(TEST_HTTP_STATUS)
        if status:
            await context.send_initial_metadata(((HTTP_STATUS, status),))

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def clear(self) -> None:
        self.calls.clear()


def rich_posts() -> list[creator_pb2.Post]:
    """Posts with a field of every kind the report has: zero and non-zero scalars, 64-bit integers past 2^53, doubles
    that are whole, tiny, negative or inexact, enums, timestamps with and without fractions, empty and filled lists,
    nested messages, an optional double set and one unset, and text that JSON must escape."""
    post = creator_pb2.Post(
        instagram_id="3141592653589793238",
        shortcode="Cx1",
        type=creator_pb2.POST_TYPE_CAROUSEL,
        caption='Ünïcode ✨ "quoted" \\ tab\tline\nbreak </script>',
        likes_count=9_007_199_254_740_993,
        comments_count=-1,
        is_pinned=True,
        hashtags=["gym", "fit"],
        engagement_rate=0.1 + 0.2,
    )
    post.taken_at.FromDatetime(datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC))
    post.image.url = "https://cdn.example/a.webp"
    post.image.state = creator_pb2.MEDIA_STATE_MIRRORED
    post.image.renditions.add(width=320, height=0, format="webp", url="https://cdn.example/a-320.webp")
    post.carousel.add()
    post.carousel.add(original_url="https://instagram.example/b.jpg", state=creator_pb2.MEDIA_STATE_PENDING)
    analysis = post.analysis
    analysis.analyzed = True
    analysis.sentiment = creator_pb2.SENTIMENT_POSITIVE
    analysis.sentiment_score = -0.0
    analysis.language = "en"
    analysis.language_confidence = 1.0
    analysis.category_score = 1e-7
    analysis.sentiment_confidence = 123456789.125
    analysis.top_categories.add(label="Food", score=0.5)
    analysis.state = creator_pb2.ANALYSIS_STATE_COMPLETE
    bare = creator_pb2.Post(shortcode="Cx2")
    bare.taken_at.FromDatetime(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    return [post, bare]


def search_report(request: creator_pb2.SearchCreatorRequest, user_id: str) -> creator_pb2.CreatorReport:
    """The report the backend answers a search with: the request and the caller echoed back."""
    report = creator_pb2.CreatorReport(analysis_state=creator_pb2.ANALYSIS_STATE_COMPLETE)
    report.profile.username = request.username
    report.profile.full_name = user_id
    report.profile.followers_count = 12345678901
    report.freshness.from_cache = request.refresh is False
    report.recent_posts.add(shortcode="abc", likes_count=request.post_limit)
    return report


def search_json(report: creator_pb2.CreatorReport) -> bytes:
    """The JSON body SearchCreatorJson answers for `report`, rendered as the creator service renders it."""
    return encode(message_json(report))


class CreatorTestBackend(creator_pb2_grpc.CreatorServiceServicer):
    """Answers from the request alone; username 'missing' is NOT_FOUND, 'unavailable' is UNAVAILABLE (both with the
    details the services' interceptor attaches), 'internal' is INTERNAL (a request the service fails on), 'slow'
    answers after SLOW_SECONDS (to trip the route timeout)."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def SearchCreator(
        self, request: creator_pb2.SearchCreatorRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.CreatorReport:
        return await self._report(request, self._recorder.record("SearchCreator", context), context)

    async def SearchCreatorJson(
        self, request: creator_pb2.SearchCreatorRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        report = await self._report(request, self._recorder.record("SearchCreatorJson", context), context)
        return httpbody_pb2.HttpBody(content_type="application/json", data=search_json(report))

    async def _report(
        self, request: creator_pb2.SearchCreatorRequest, metadata: dict[str, str], context: grpc.aio.ServicerContext
    ) -> creator_pb2.CreatorReport:
        if request.username == "missing":
            await context.abort_with_status(rich_status(CreatorNotFound("no Instagram account 'missing'")))
        if request.username == "unavailable":
            throttled = UpstreamThrottled("instagram throttled: retry after 60 s", retry_after=60)
            await context.abort_with_status(rich_status(throttled))
        if request.username == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return search_report(request, metadata.get("x-user-id", ""))

    async def ListUnlocked(
        self, request: creator_pb2.ListUnlockedRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListUnlockedResponse:
        await self._recorder.answer_http_status(self._recorder.record("ListUnlocked", context), context)
        response = creator_pb2.ListUnlockedResponse(next_page_token=f"after-{request.page_size}")
        response.creators.add(username="alice", followers_count=7)
        return response

    async def ListPosts(
        self, request: creator_pb2.ListPostsRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListPostsResponse:
        self._recorder.record("ListPosts", context)
        if request.username == "unavailable":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "database restarting")
        if request.username == "internal":
            await context.abort(grpc.StatusCode.INTERNAL, "this request broke the service")
        response = creator_pb2.ListPostsResponse(next_page_token=request.page_token)
        if request.username == "rich":
            response.posts.extend(rich_posts())
        else:
            response.posts.add(shortcode=f"{request.username}-1")
        return response

    async def GetHistory(
        self, request: creator_pb2.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.GetHistoryResponse:
        self._recorder.record("GetHistory", context)
        response = creator_pb2.GetHistoryResponse(username=request.username)
        for count in range(min(request.limit or 2, MAX_ITEMS)):
            response.snapshots.add(followers_count=count)
        return response

    async def TrackCreator(
        self, request: creator_pb2.TrackCreatorRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.TrackCreatorResponse:
        self._recorder.record("TrackCreator", context)
        return creator_pb2.TrackCreatorResponse(creator=creator_pb2.TrackedCreator(username=request.username))

    async def UntrackCreator(
        self, request: creator_pb2.UntrackCreatorRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.UntrackCreatorResponse:
        self._recorder.record("UntrackCreator", context)
        return creator_pb2.UntrackCreatorResponse(was_tracked=request.username == "alice")

    async def ListTracked(
        self, request: creator_pb2.ListTrackedRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListTrackedResponse:
        self._recorder.record("ListTracked", context)
        response = creator_pb2.ListTrackedResponse(next_page_token=f"after-{request.page_size}")
        response.creators.add(username="alice", followers_count=7)
        return response

    async def SimilarCreators(
        self, request: creator_pb2.SimilarCreatorsRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.SimilarCreatorsResponse:
        self._recorder.record("SimilarCreators", context)
        response = creator_pb2.SimilarCreatorsResponse()
        response.creators.add(username=f"like-{request.username}", similarity=0.5, shared_topics=["food"])
        return response

    async def Discover(
        self, request: creator_pb2.DiscoverRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.DiscoverResponse:
        self._recorder.record("Discover", context)
        response = creator_pb2.DiscoverResponse(next_page_token=f"after-{request.page_size}")
        creator = response.creators.add(username=request.query, score=0.25)
        creator.profile.followers_count = request.min_followers
        return response


class SystemTestBackend(creator_pb2_grpc.SystemServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def GetHealth(
        self, request: creator_pb2.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.GetHealthResponse:
        await self._recorder.answer_http_status(self._recorder.record("GetHealth", context), context)
        response = creator_pb2.GetHealthResponse(status=creator_pb2.HEALTH_STATUS_SERVING)
        response.components.add(name="database", status=creator_pb2.HEALTH_STATUS_SERVING)
        return response

    async def GetOpenApi(
        self, request: creator_pb2.GetOpenApiRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        self._recorder.record("GetOpenApi", context)
        return httpbody_pb2.HttpBody(content_type="application/json", data=load_document())


class CdnStatusTestBackend(cdn_pb2_grpc.CdnStatusServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def GetHealth(
        self, request: cdn_pb2.GetCdnHealthRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.CdnHealth:
        self._recorder.record("CdnGetHealth", context)
        return cdn_pb2.CdnHealth(status=cdn_pb2.COMPONENT_STATUS_OK)

    async def GetMetrics(
        self, request: cdn_pb2.GetCdnMetricsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.CdnMetrics:
        self._recorder.record("CdnGetMetrics", context)
        return cdn_pb2.CdnMetrics(jobs_done=3, uptime_seconds=1.5)

    async def GetQueueStatus(
        self, request: cdn_pb2.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.QueueStatus:
        self._recorder.record("CdnGetQueueStatus", context)
        status = cdn_pb2.QueueStatus(active_workers=2)
        status.counts.add(state=cdn_pb2.JOB_STATE_QUEUED, priority=cdn_pb2.PRIORITY_HIGH, count=4)
        return status

    async def GetStatistics(
        self, request: cdn_pb2.GetStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.Statistics:
        self._recorder.record("CdnGetStatistics", context)
        statistics = cdn_pb2.Statistics()
        for day in range(min(request.days or 7, MAX_ITEMS)):
            statistics.days.add(date=f"2026-01-{day + 1:02d}")
        return statistics


class CdnAdminTestBackend(cdn_pb2_grpc.CdnAdminServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def ListDeadJobs(
        self, request: cdn_pb2.ListDeadJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.ListDeadJobsResponse:
        self._recorder.record("CdnAdminListDeadJobs", context)
        response = cdn_pb2.ListDeadJobsResponse(total_size=1)
        response.jobs.add(job_id="7", source_url="https://x.cdninstagram.com/a.jpg", last_error="HTTP 404")
        return response

    async def RetryDeadJobs(
        self, request: cdn_pb2.RetryJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.RetryJobsResponse:
        self._recorder.record("CdnAdminRetryDeadJobs", context)
        return cdn_pb2.RetryJobsResponse(retried=len(request.job_ids))

    async def DiscardDeadJobs(
        self, request: cdn_pb2.DiscardJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.DiscardJobsResponse:
        self._recorder.record("CdnAdminDiscardDeadJobs", context)
        return cdn_pb2.DiscardJobsResponse(discarded=len(request.job_ids))


class InternalCdnTestBackend(cdn_pb2_grpc.CdnServiceServicer):
    """Internal: must never be reached through the gateway."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def ListDeadJobs(
        self, request: cdn_pb2.ListDeadJobsRequest, context: grpc.aio.ServicerContext
    ) -> cdn_pb2.ListDeadJobsResponse:
        self._recorder.record("CdnListDeadJobs", context)
        return cdn_pb2.ListDeadJobsResponse()


class InferenceTestBackend(inference_pb2_grpc.InferenceServiceServicer):
    """Internal: must never be reached through the gateway."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        self._recorder.record("ListModels", context)
        return inference_pb2.ListModelsResponse()


@dataclass
class RunningTestBackend:
    server: grpc.aio.Server
    port: int
    recorder: Recorder

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


async def start_test_backend(listen: str = "127.0.0.1:0") -> RunningTestBackend:
    """A grpc.aio server with every service above on an ephemeral loopback port."""
    recorder = Recorder()
    server = grpc.aio.server()
    creator_pb2_grpc.add_CreatorServiceServicer_to_server(CreatorTestBackend(recorder), server)
    creator_pb2_grpc.add_SystemServiceServicer_to_server(SystemTestBackend(recorder), server)
    cdn_pb2_grpc.add_CdnStatusServiceServicer_to_server(CdnStatusTestBackend(recorder), server)
    cdn_pb2_grpc.add_CdnAdminServiceServicer_to_server(CdnAdminTestBackend(recorder), server)
    cdn_pb2_grpc.add_CdnServiceServicer_to_server(InternalCdnTestBackend(recorder), server)
    inference_pb2_grpc.add_InferenceServiceServicer_to_server(InferenceTestBackend(recorder), server)
    port = server.add_insecure_port(listen)
    await server.start()
    return RunningTestBackend(server, port, recorder)


async def _serve(listen: str, port_file: Path | None) -> None:
    backend = await start_test_backend(listen)
    backend.recorder.record = lambda method, context: {}  # type: ignore[method-assign]  # no growth under load
    if port_file:
        await asyncio.to_thread(port_file.write_text, str(backend.port))
    await backend.server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="gateway test backend")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--port-file", type=Path)
    arguments = parser.parse_args()
    asyncio.run(_serve(arguments.listen, arguments.port_file))
