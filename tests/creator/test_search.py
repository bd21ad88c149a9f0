"""The whole search flow against the sample upstream, real PostgreSQL and real inference and CDN services."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cdn.v1 import cdn_pb2
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from tests.creator.conftest import StartCdn, StartCreator, cdn_stub, eventually, user_md


async def test_a_fresh_search_returns_profile_posts_analysis_and_enqueues_media(
    start_creator: StartCreator, start_cdn: StartCdn, upstream: SampleAdmin
) -> None:
    cdn = await start_cdn()
    creator = await start_creator(CDN_ADDR=cdn.address)
    report = await creator.search("@Fit.Bayann")
    assert report.profile.username == "fit.bayann"
    assert report.profile.followers_count > 0
    assert len(report.recent_posts) == 12
    assert [p.taken_at.seconds for p in report.recent_posts] == sorted(
        (p.taken_at.seconds for p in report.recent_posts), reverse=True
    )
    assert report.analysis_state == creator_pb2.ANALYSIS_STATE_COMPLETE
    assert report.analytics.dominant_category
    assert -1 <= report.analytics.sentiment.mean_score <= 1
    assert report.analytics.engagement.posts_considered > 0
    captioned = [p for p in report.recent_posts if p.caption]
    assert captioned and all(p.analysis.analyzed and p.analysis.language for p in captioned)
    assert not report.freshness.from_cache and not report.freshness.stale
    assert report.unlocked_at.seconds > 0
    # Media: jobs exist at the CDN for the avatar and every post image; originals are served until mirrored.
    channel, stub = cdn_stub(cdn.address)
    urls = [report.profile.avatar.original_url] + [p.image.original_url for p in report.recent_posts]
    assets = await stub.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=urls), timeout=5)
    assert all(a.state != cdn_pb2.JOB_STATE_UNSPECIFIED for a in assets.assets)
    await channel.close()

    async def avatar_mirrored() -> bool:
        again = await creator.search("fit.bayann")
        return again.profile.avatar.state == creator_pb2.MEDIA_STATE_MIRRORED

    await eventually(avatar_mirrored, what="the avatar mirrored")
    mirrored = (await creator.search("fit.bayann")).profile.avatar
    assert mirrored.url != mirrored.original_url and mirrored.renditions


async def test_a_cached_search_does_not_ask_instagram_and_is_marked_from_cache(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    first = await creator.search("chef.marco")
    sent = await upstream.requests()
    second = await creator.search("chef.marco", user="bob")
    assert await upstream.requests() == sent
    assert second.freshness.from_cache
    assert second.profile == first.profile
    assert [p.instagram_id for p in second.recent_posts] == [p.instagram_id for p in first.recent_posts]
    assert second.freshness.fetched_at == first.freshness.fetched_at


async def test_refresh_fetches_again_and_adds_a_history_snapshot(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("wander.lena")
    refreshed = await creator.search("wander.lena", refresh=True)
    assert not refreshed.freshness.from_cache
    history = await creator.stub.GetHistory(
        creator_pb2.GetHistoryRequest(username="wander.lena"), metadata=user_md("alice"), timeout=5
    )
    assert len(history.snapshots) == 2
    assert history.snapshots[0].captured_at.ToDatetime() <= history.snapshots[1].captured_at.ToDatetime()


async def test_an_expired_report_is_fetched_again(start_creator: StartCreator, upstream: SampleAdmin) -> None:
    creator = await start_creator(CREATOR_CACHE_TTL_SECONDS="0")
    await creator.search("gg.kenji")
    again = await creator.search("gg.kenji")
    assert not again.freshness.from_cache
    assert await upstream.requests("profile") == 2


async def test_a_smaller_post_limit_is_cut_from_the_stored_report_and_a_larger_one_fetches(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("mama.noor")
    small = await creator.search("mama.noor", post_limit=5)
    assert small.freshness.from_cache and len(small.recent_posts) == 5
    assert small.analytics.engagement.posts_considered <= 5
    large = await creator.search("mama.noor", post_limit=20)
    assert not large.freshness.from_cache and len(large.recent_posts) == 20


async def test_concurrent_searches_of_one_username_share_one_upstream_fetch_across_replicas(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    replicas = [await start_creator(), await start_creator()]
    await upstream.add_fault("slow", delay_ms=300, match="techwithtariq")
    reports = await asyncio.gather(*(replicas[i % 2].search("techwithtariq", user=f"user{i}") for i in range(10)))
    assert await upstream.requests("profile") == 1
    assert len({r.freshness.fetched_at.seconds for r in reports}) == 1
    assert sum(not r.freshness.from_cache for r in reports) >= 1


async def test_unknown_private_and_empty_accounts(start_creator: StartCreator, upstream: SampleAdmin) -> None:
    creator = await start_creator()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await creator.search("no.such.creator")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    private = await creator.search("private.pia")
    assert private.profile.is_private and len(private.recent_posts) == 0
    assert private.analysis_state == creator_pb2.ANALYSIS_STATE_COMPLETE
    empty = await creator.search("empty.eddie")
    assert len(empty.recent_posts) == 0 and empty.analytics.engagement.posts_considered == 0


async def test_bad_input_is_invalid_argument_and_a_missing_identity_unauthenticated(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await creator.search("bad name!")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "only letters, digits" in (info.value.details() or "")
    for hostile in ("../../etc/passwd", "\x00", "üníçödé", "'; DROP TABLE creators;--", "a" * 10_000):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await creator.search(hostile)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (refused.value.details() or "").startswith("username: ")
    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await creator.search("fit.bayann", post_limit=51)
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await creator.stub.SearchCreator(creator_pb2.SearchCreatorRequest(username="fit.bayann"), timeout=5)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await upstream.requests() == 0
