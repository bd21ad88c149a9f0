"""Failure modes of a search: upstream throttled or down (stale-if-error, UNAVAILABLE with a hint), the shared request
budget, inference down (analysis pending, completed in the background and across a restart), CDN down (outbox)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import grpc
import pytest
from cdn.v1 import cdn_pb2
from creator.v1 import creator_pb2
from inference.v1 import inference_pb2, inference_pb2_grpc

from fakes.instagram.admin import SampleAdmin
from scripts.pgcluster import free_port
from tests.conftest import TestDatabase
from tests.creator.conftest import StartCdn, StartCreator, cdn_stub, eventually


async def test_a_failing_upstream_serves_the_stored_report_marked_stale(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    first = await creator.search("style.amara")
    await upstream.add_fault("5xx", status=503)
    stale = await creator.search("style.amara", refresh=True)
    assert stale.freshness.stale and stale.freshness.from_cache
    assert "503" in stale.freshness.stale_reason
    assert stale.freshness.fetched_at == first.freshness.fetched_at
    assert stale.freshness.age_seconds >= 0


async def test_a_throttled_upstream_with_nothing_stored_is_unavailable_with_a_retry_hint(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await upstream.add_fault("429", retry_after="120")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await creator.search("beats.theo")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry after 120 s" in (info.value.details() or "")
    assert ("retry-after", "120") in tuple(info.value.trailing_metadata() or ())


async def test_the_request_budget_is_shared_by_every_replica(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    budget = {"CREATOR_UPSTREAM_BUDGET_CAPACITY": "1", "CREATOR_UPSTREAM_BUDGET_PER_MINUTE": "0.5"}
    first, second = await start_creator(**budget), await start_creator(**budget)
    await first.search("fit.bayann")  # one request: the profile answer embeds the first 12 posts
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await second.search("glow.yuna")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "request budget" in (info.value.details() or "")
    assert await upstream.requests("profile") == 1


async def test_inference_down_answers_pending_and_a_restarted_replica_completes_the_analysis(
    start_creator: StartCreator, upstream: SampleAdmin, database: TestDatabase
) -> None:
    down = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{free_port()}")
    pending = await down.search("cocina.sofia")
    assert pending.analysis_state == creator_pb2.ANALYSIS_STATE_PENDING
    assert pending.analytics.dominant_category == "" and not pending.analytics.languages
    assert all(not post.analysis.analyzed for post in pending.recent_posts)
    assert pending.analytics.engagement.posts_considered > 0
    await down.stop()

    conn = await asyncpg.connect(database.admin_dsn)
    try:
        waiting = await conn.fetchval("SELECT count(*) FROM creator.post_analyses WHERE state = 'pending'")
    finally:
        await conn.close()
    assert waiting > 0

    restarted = await start_creator()

    async def completed() -> creator_pb2.CreatorReport | None:
        report = await restarted.search("cocina.sofia")
        return report if report.analysis_state == creator_pb2.ANALYSIS_STATE_COMPLETE else None

    report = await eventually(completed, what="the analysis completed")
    assert isinstance(report, creator_pb2.CreatorReport)
    # The default category model reads English only: Spanish captions are left out and counted, not guessed.
    coverage = report.analytics.category_coverage
    assert report.analytics.dominant_category == "" and coverage.absent_reason == "no_posts_considered"
    assert "unsupported_language" in [left.reason for left in coverage.left_out]
    assert "es" in [language.label for language in report.analytics.languages]
    assert await upstream.requests("profile") == 1


async def test_media_jobs_survive_a_cdn_outage_in_the_outbox(
    start_creator: StartCreator, start_cdn: StartCdn, upstream: SampleAdmin, database: TestDatabase
) -> None:
    cdn_address = f"127.0.0.1:{free_port()}"
    creator = await start_creator(CDN_ADDR=cdn_address)
    report = await creator.search("milo.the.pup")
    assert report.profile.avatar.state == creator_pb2.MEDIA_STATE_PENDING
    assert report.profile.avatar.url == report.profile.avatar.original_url
    conn = await asyncpg.connect(database.admin_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM creator.media_outbox") > 0
        await start_cdn(cdn_address)

        async def outbox_empty() -> bool:
            return await conn.fetchval("SELECT count(*) FROM creator.media_outbox") == 0

        await eventually(outbox_empty, what="the outbox relayed")
    finally:
        await conn.close()
    channel, stub = cdn_stub(cdn_address)
    try:
        assets = await stub.GetAssets(
            cdn_pb2.GetAssetsRequest(source_urls=[report.profile.avatar.original_url]), timeout=5
        )
    finally:
        await channel.close()
    assert assets.assets[0].state != cdn_pb2.JOB_STATE_UNSPECIFIED


class SlowInference(inference_pb2_grpc.InferenceServiceServicer):
    """A test-only inference server that answers after the creator's deadline has passed."""

    async def AnalyzeTexts(
        self, request: inference_pb2.AnalyzeTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.AnalyzeTextsResponse:
        await asyncio.sleep(2)
        return inference_pb2.AnalyzeTextsResponse()


async def test_slow_inference_is_cut_at_the_deadline_and_the_analysis_left_pending(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    server = grpc.aio.server()
    inference_pb2_grpc.add_InferenceServiceServicer_to_server(SlowInference(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        creator = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{port}", CREATOR_INFERENCE_DEADLINE_S="0.2")
        started = time.perf_counter()
        report = await creator.search("jonas.laeuft")
        assert time.perf_counter() - started < 1.5
        assert report.analysis_state == creator_pb2.ANALYSIS_STATE_PENDING
        assert len(report.recent_posts) == 12
        await creator.stop()
    finally:
        await server.stop(0)
