"""The creator's figures at the service: hidden likes, pinned sponsored posts, the unlocked list's window, confidence
and skipped readings from an inference backend that fills them (a test server), and images that settle in the stored
report without another search."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import grpc
from cdn.v1 import cdn_pb2
from creator.v1 import creator_pb2, creator_pb2_grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from fakes.instagram.admin import SampleAdmin
from scripts.pgcluster import free_port
from tests.conftest import TestDatabase
from tests.creator.conftest import StartCdn, StartCreator, cdn_stub, user_md


async def list_unlocked(
    stub: creator_pb2_grpc.CreatorServiceStub, user: str = "alice"
) -> dict[str, creator_pb2.UnlockedCreator]:
    request = creator_pb2.ListUnlockedRequest(page_size=100)
    reply = await stub.ListUnlocked(request, metadata=user_md(user), timeout=10)
    return {row.username: row for row in reply.creators}


async def test_hidden_likes_give_absent_engagement_with_a_reason_in_the_report_and_the_unlocked_list(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    report = await creator.search("hidden.hana")
    engagement = report.analytics.engagement
    assert all(post.likes_hidden for post in report.recent_posts)
    assert not engagement.HasField("mean_rate") and not engagement.HasField("avg_likes")
    assert engagement.absent_reason == "likes_hidden" and engagement.posts_considered == 0
    assert not any(post.HasField("engagement_rate") for post in report.recent_posts)
    row = (await list_unlocked(creator.stub))["hidden.hana"]
    assert not row.HasField("mean_engagement_rate")
    assert row.engagement_absent_reason == "likes_hidden"


async def test_the_sponsored_summary_counts_every_flagged_post_of_the_answer_pinned_included(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    for name in ("style.amara", "fit.bayann"):
        report = await creator.search(name)
        flagged = sum(post.is_sponsored for post in report.recent_posts)
        sponsored = report.analytics.sponsored
        assert sponsored.sponsored_posts == flagged, name
        assert sponsored.sponsored_posts + sponsored.organic_posts == len(report.recent_posts), name


async def test_the_unlocked_list_shows_the_default_reports_engagement_over_the_same_window(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", post_limit=40)
    report = await creator.search("chef.marco")
    assert len(report.recent_posts) == 12
    row = (await list_unlocked(creator.stub))["chef.marco"]
    assert row.mean_engagement_rate == report.analytics.engagement.mean_rate
    assert row.engagement_posts_considered == report.analytics.engagement.posts_considered
    assert row.dominant_category == report.analytics.dominant_category


def fake_reading(index: int) -> inference_pb2.TextAnalysis:
    """Every third text: confident positive English; unsure English; Spanish the sentiment model does not read."""
    kind = index % 3
    probabilities = {0: (0.02, 0.08, 0.90), 1: (0.25, 0.30, 0.45), 2: (0.0, 0.0, 0.0)}[kind]
    negative, neutral, positive = probabilities
    skipped = "unsupported_language" if kind == 2 else ""
    return inference_pb2.TextAnalysis(
        status=inference_pb2.TEXT_STATUS_ANALYZED,
        sentiment=inference_pb2.SentimentResult(
            label=inference_pb2.SENTIMENT_LABEL_UNSPECIFIED if skipped else inference_pb2.SENTIMENT_LABEL_POSITIVE,
            score=positive - negative,
            probabilities=[]
            if skipped
            else [
                inference_pb2.LabelScore(label="negative", score=negative),
                inference_pb2.LabelScore(label="neutral", score=neutral),
                inference_pb2.LabelScore(label="positive", score=positive),
            ],
            confidence=0.0 if skipped else max(probabilities),
            skipped_reason=skipped,
        ),
        language=inference_pb2.LanguageResult(code="es" if skipped else "en", confidence=0.98),
        category=inference_pb2.CategoryResult(
            label="" if skipped else "Food & Cooking", score=0.0 if skipped else 0.7, skipped_reason=skipped
        ),
    )


class ConfidenceInference(inference_pb2_grpc.InferenceServiceServicer):
    """An inference backend that fills confidence, skipped_reason and the models' languages."""

    async def AnalyzeTexts(
        self, request: inference_pb2.AnalyzeTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.AnalyzeTextsResponse:
        return inference_pb2.AnalyzeTextsResponse(results=[fake_reading(i) for i in range(len(request.texts))])

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        return inference_pb2.ListModelsResponse(
            models=[
                inference_pb2.ModelInfo(task=inference_pb2.TASK_SENTIMENT, name="sentiment", languages=["en"]),
                inference_pb2.ModelInfo(task=inference_pb2.TASK_LANGUAGE, name="language"),
                inference_pb2.ModelInfo(task=inference_pb2.TASK_CATEGORY, name="category", languages=["en"]),
            ]
        )


async def test_unsure_and_unsupported_readings_are_marked_left_out_of_summaries_and_counted(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    server = grpc.aio.server()
    inference_pb2_grpc.add_InferenceServiceServicer_to_server(ConfidenceInference(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        creator = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{port}")
        report = await creator.search("chef.marco")
    finally:
        await server.stop(0)
    counted = [p for p in report.recent_posts if not p.is_pinned and p.analysis.analyzed]
    low = [p for p in counted if p.analysis.sentiment_low_confidence]
    skipped = [p for p in counted if p.analysis.sentiment_skipped_reason == "unsupported_language"]
    assert low and skipped
    assert all(p.analysis.sentiment == creator_pb2.SENTIMENT_UNSPECIFIED for p in skipped)
    assert all(0 < p.analysis.sentiment_confidence < 0.5 for p in low)
    summary = report.analytics.sentiment
    left_out = {x.reason: x.count for x in summary.coverage.left_out}
    assert left_out["low_confidence"] == len(low)
    assert left_out["unsupported_language"] == len(skipped)
    assert summary.coverage.posts_considered == len(counted) - len(low) - len(skipped)
    assert summary.positive + summary.neutral + summary.negative == summary.coverage.posts_considered
    assert summary.mean_score > 0.8
    category_left_out = {x.reason: x.count for x in report.analytics.category_coverage.left_out}
    assert category_left_out["unsupported_language"] == len(skipped)
    assert {m.task: list(m.languages) for m in report.models} == {
        "sentiment": ["en"],
        "language": [],
        "category": ["en"],
    }


async def test_images_settle_in_the_stored_report_within_3_s_of_the_cdn_without_another_search(
    start_creator: StartCreator, start_cdn: StartCdn, upstream: SampleAdmin, database: TestDatabase
) -> None:
    cdn_address = f"127.0.0.1:{free_port()}"
    creator = await start_creator(CDN_ADDR=cdn_address)
    first = await creator.search("milo.the.pup")
    urls = [first.profile.avatar.original_url] + [p.image.original_url for p in first.recent_posts if p.image.url]
    assert first.profile.avatar.state == creator_pb2.MEDIA_STATE_PENDING
    await start_cdn(cdn_address)
    channel, stub = cdn_stub(cdn_address)
    conn = await asyncpg.connect(database.admin_dsn)
    cdn_done_at = report_done_at = 0.0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not report_done_at:
            now = time.monotonic()
            if not cdn_done_at:
                assets = await stub.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=urls), timeout=5)
                if len(assets.assets) == len(urls) and all(a.state == cdn_pb2.JOB_STATE_DONE for a in assets.assets):
                    cdn_done_at = now
            stored = creator_pb2.CreatorReport.FromString(
                await conn.fetchval("SELECT report FROM creator.creators WHERE username = 'milo.the.pup'")
            )
            media = [stored.profile.avatar] + [p.image for p in stored.recent_posts if p.image.url]
            if all(m.state == creator_pb2.MEDIA_STATE_MIRRORED for m in media):
                report_done_at = now
            await asyncio.sleep(0.1)  # the poll interval
    finally:
        await conn.close()
        await channel.close()
    assert cdn_done_at and report_done_at, "the CDN finished and the stored report followed"
    assert report_done_at - cdn_done_at <= 3.0
    row = (await list_unlocked(creator.stub))["milo.the.pup"]
    assert row.avatar_url != first.profile.avatar.original_url
