"""Vetting through the creator service: the report's authenticity block flags engagement pods at once and a
bought-followers spike as soon as the tracked history shows it; every signal is explained."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from tests.creator.conftest import StartCreator, eventually, user_md

FAST = {"CREATOR_TRACK_INTERVAL_S": "0.5", "CREATOR_TRACK_POLL_S": "0.05", "CREATOR_TRACK_JITTER": "0"}


@pytest.fixture
async def clock(upstream: SampleAdmin) -> AsyncIterator[SampleAdmin]:
    """The shared sample upstream's simulated clock, put back where it was afterwards."""
    start = await upstream.clock()
    yield upstream
    await upstream.advance_clock(start - await upstream.clock())


def signal(report: creator_pb2.CreatorReport, name: str) -> creator_pb2.AuthenticitySignal:
    return next(s for s in report.authenticity.signals if s.name == name)


async def test_engagement_pods_lower_the_score_with_the_signals_that_show_them(start_creator: StartCreator) -> None:
    creator = await start_creator()
    report = await creator.search("pod.pauline")
    assert report.authenticity.HasField("score")
    assert report.authenticity.band != "high"
    assert signal(report, "engagement_variation").contribution < 0
    assert signal(report, "comments_to_likes").contribution < 0
    assert all(s.explanation for s in report.authenticity.signals)
    organic = await creator.search("chef.marco")
    assert organic.authenticity.score > report.authenticity.score


async def test_a_bought_follower_spike_in_the_tracked_history_marks_the_creator_low(
    start_creator: StartCreator, clock: SampleAdmin
) -> None:
    creator = await start_creator(**FAST)
    first = await creator.search("boost.brandon")
    assert signal(first, "follower_jumps").absent_reason == "history_too_short"
    await creator.stub.TrackCreator(
        creator_pb2.TrackCreatorRequest(username="boost.brandon"), metadata=user_md("alice")
    )

    async def history() -> creator_pb2.GetHistoryResponse:
        request = creator_pb2.GetHistoryRequest(username="boost.brandon", limit=1000)
        response: creator_pb2.GetHistoryResponse = await creator.stub.GetHistory(request, metadata=user_md("alice"))
        return response

    async def snapshots(n: int) -> bool:
        return len((await history()).snapshots) >= n

    await eventually(lambda: snapshots(3), what="three snapshots before the spike")
    await clock.advance_clock(3)

    async def spiked() -> bool:
        counts = [s.followers_count for s in (await history()).snapshots]
        return counts[-1] - counts[0] > 130_000

    await eventually(spiked, what="the spike in the tracked history")

    async def flagged() -> creator_pb2.CreatorReport | None:
        report = await creator.search("boost.brandon")
        return report if signal(report, "follower_jumps").contribution < 0 else None

    report = await eventually(flagged, what="the follower_jumps signal")
    assert isinstance(report, creator_pb2.CreatorReport)
    assert report.authenticity.score < 50
    assert report.authenticity.band == "low"
    assert signal(report, "engagement_rate_vs_tier").contribution < 0  # the bought audience does not engage
