"""Tracking, the parts a caller and an operator rely on beyond isolation and the scheduler's fairness: the tracked list
pages by cursor, tracking answers NOT_UNLOCKED as its reason, creators tracked together are refreshed spread over the
interval, and a scheduled refresh takes the search's fetch path (changed captions analysed, images queued for the
CDN, one snapshot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from creator.v1 import creator_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.conftest import TestDatabase
from tests.creator.conftest import Creator, StartCreator, eventually, user_md

NAMES = ("chef.marco", "wander.lena", "glow.yuna", "gg.kenji", "mama.noor", "beats.theo")


async def search_and_track(creator: Creator, names: tuple[str, ...], user: str = "alice") -> None:
    for name in names:
        await creator.search(name, user=user)
        await creator.stub.TrackCreator(
            creator_pb2.TrackCreatorRequest(username=name), metadata=user_md(user), timeout=10
        )


async def page(creator: Creator, size: int, token: str = "") -> creator_pb2.ListTrackedResponse:
    response: creator_pb2.ListTrackedResponse = await creator.stub.ListTracked(
        creator_pb2.ListTrackedRequest(page_size=size, page_token=token), metadata=user_md("alice"), timeout=10
    )
    return response


def reasons(error: grpc.aio.AioRpcError) -> list[str]:
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    found = []
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found.append(info.reason)
    return found


async def test_the_tracked_list_pages_by_cursor_newest_first_with_summary_refresh_time_and_growth(
    start_creator: StartCreator,
) -> None:
    creator = await start_creator()
    await search_and_track(creator, NAMES[:3])

    first = await page(creator, 2)
    assert first.next_page_token
    second = await page(creator, 2, first.next_page_token)
    assert not second.next_page_token
    listed = [c.username for c in [*first.creators, *second.creators]]
    assert listed == list(reversed(NAMES[:3]))  # most recently tracked first, each once
    for item in [*first.creators, *second.creators]:
        assert item.full_name and item.followers_count > 0
        assert item.HasField("last_refreshed_at") and item.HasField("next_refresh_at")
        assert [w.days for w in item.growth.windows] == [7, 30, 90]
        assert item.growth.snapshots_considered >= 1
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await page(creator, 2, "not-a-token")
    assert foreign.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_tracking_a_creator_never_searched_answers_not_unlocked_as_its_reason(
    start_creator: StartCreator,
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", user="alice")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await creator.stub.TrackCreator(
            creator_pb2.TrackCreatorRequest(username="chef.marco"), metadata=user_md("bob"), timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reasons(refused.value) == ["NOT_UNLOCKED"]


async def test_creators_tracked_together_are_first_refreshed_spread_over_the_interval(
    start_creator: StartCreator,
) -> None:
    interval = 86_400.0
    creator = await start_creator(CREATOR_TRACK_INTERVAL_S=str(interval), CREATOR_TRACK_JITTER="0")
    before = datetime.now(UTC)
    await search_and_track(creator, NAMES)
    after = datetime.now(UTC)
    due = sorted(c.next_refresh_at.ToDatetime(tzinfo=UTC) for c in (await page(creator, 100)).creators)
    assert len(due) == len(NAMES)
    assert all(before < at <= after + timedelta(seconds=interval) for at in due), due
    # Six uniform draws over a day all fall within one hour with a probability under 1e-6; the same moment for all
    # (no spread) or a fixed offset would fail this every time.
    assert due[-1] - due[0] > timedelta(hours=1), due


async def test_a_scheduled_refresh_analyses_changed_captions_and_queues_images_like_a_search(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator(CREATOR_TRACK_INTERVAL_S="1", CREATOR_TRACK_POLL_S="0.05", CREATOR_TRACK_JITTER="0")
    await creator.search("chef.marco", user="alice")
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        creator_id = await owner.fetchval("SELECT id FROM creator.creators WHERE username = 'chef.marco'")
        snapshots = await owner.fetchval(
            "SELECT count(*) FROM creator.profile_snapshots WHERE creator_id = $1", creator_id
        )
        # As if every caption had changed since the search and no image had been queued: only a fetch that stores the
        # posts (a search, or here the scheduler's refresh) marks captions for analysis and queues images.
        marked = await owner.execute(
            "UPDATE creator.post_analyses SET caption_md5 = 'changed' WHERE creator_id = $1", creator_id
        )
        assert marked != "UPDATE 0"
        await owner.execute("DELETE FROM creator.media_outbox WHERE creator_id = $1", creator_id)
        await creator.stub.TrackCreator(
            creator_pb2.TrackCreatorRequest(username="chef.marco"), metadata=user_md("alice"), timeout=10
        )

        async def refreshed_like_a_search() -> bool:
            stale = await owner.fetchval(
                """SELECT count(*) FROM creator.post_analyses a JOIN creator.posts p ON p.instagram_id = a.post_id
                    WHERE a.creator_id = $1 AND (a.state <> 'done' OR a.caption_md5 <> md5(p.caption))""",
                creator_id,
            )
            # The tests' CDN address answers nothing, so the queued images stay in the outbox (postponed).
            queued = await owner.fetchval("SELECT count(*) FROM creator.media_outbox WHERE creator_id = $1", creator_id)
            stored = await owner.fetchval(
                "SELECT count(*) FROM creator.profile_snapshots WHERE creator_id = $1", creator_id
            )
            return stale == 0 and queued > 0 and stored > snapshots

        await eventually(refreshed_like_a_search, what="a scheduled refresh analysing and queueing like a search")
    finally:
        await owner.close()


async def test_history_answers_each_growth_window_once_the_stored_history_covers_it(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", user="alice")
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        await owner.execute(
            """
            INSERT INTO creator.profile_snapshots (creator_id, captured_at, followers, following, posts_count)
            SELECT c.id, now() - make_interval(days => d), f, 1, p
              FROM creator.creators c, (VALUES (8, 800000, 970), (31, 780000, 960), (95, 700000, 940)) AS old(d, f, p)
             WHERE c.username = 'chef.marco'
            """
        )
    finally:
        await owner.close()
    response = await creator.stub.GetHistory(
        creator_pb2.GetHistoryRequest(username="chef.marco"), metadata=user_md("alice"), timeout=10
    )
    newest = response.snapshots[-1].followers_count
    growth = response.growth
    windows = {w.days: w for w in growth.windows}
    # Each window starts at the snapshot closest to its start among those at least 0.9 x the window old.
    for days, start in ((7, 800_000), (30, 780_000), (90, 700_000)):
        assert windows[days].absent_reason == ""
        assert windows[days].followers_gained == newest - start
        assert windows[days].growth_rate == pytest.approx((newest - start) / start)
    assert growth.avg_daily_gain == pytest.approx((newest - 700_000) / 95, rel=0.01)
    assert growth.HasField("posting_cadence_change") and growth.posting_cadence_absent_reason == ""
    assert growth.snapshots_considered == 4
