"""Fairness between users: the per-user fetch quota (in PostgreSQL, shared by replicas) and the minimum refresh
interval, through real creator services, the sample upstream and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import asyncpg
import grpc
import pytest

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.creators import CREATORS
from tests.conftest import TestDatabase
from tests.creator.conftest import Creator, StartCreator

PUBLIC = [c.username for c in CREATORS if not c.private]


async def refused(creator: Creator, username: str, user: str, refresh: bool = True) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await creator.search(username, user=user, refresh=refresh)
    return info.value


async def test_a_user_past_the_fetch_quota_gets_resource_exhausted_with_retry_after_and_no_upstream_request(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_USER_FETCHES_PER_HOUR="3")
    for name in PUBLIC[:3]:
        await creator.search(name, user="hog", refresh=True)
    fetched = await upstream.requests("profile")
    error = await refused(creator, PUBLIC[3], "hog")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    hint = re.search(r"fetch quota spent.*retry after (\d+) s", error.details() or "")
    assert hint, error.details()
    assert 1100 < int(hint[1]) <= 1200, "one unit of 3 an hour comes back within 20 minutes"
    assert ("retry-after", hint[1]) in tuple(error.trailing_metadata() or ())
    assert await upstream.requests("profile") == fetched, "a refused search asks Instagram nothing"


async def test_stored_reports_still_answer_a_user_whose_quota_is_spent(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_USER_FETCHES_PER_HOUR="1")
    await creator.search(PUBLIC[0], user="hog")
    await creator.search(PUBLIC[1], user="bob")
    assert (await refused(creator, PUBLIC[2], "hog", refresh=False)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    stored = await creator.search(PUBLIC[1], user="hog")
    assert stored.freshness.from_cache and stored.profile.username == PUBLIC[1]


async def test_the_fetch_quota_holds_across_replicas(start_creator: StartCreator, upstream: SampleAdmin) -> None:
    one = await start_creator(CREATOR_USER_FETCHES_PER_HOUR="2")
    two = await start_creator(CREATOR_USER_FETCHES_PER_HOUR="2")
    await one.search(PUBLIC[0], user="hog", refresh=True)
    await two.search(PUBLIC[1], user="hog", refresh=True)
    assert (await refused(one, PUBLIC[2], "hog")).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await refused(two, PUBLIC[2], "hog")).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.slow
async def test_300_refreshes_from_one_user_cost_at_most_the_quota_and_another_user_still_fetches(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    """One user refreshes in a bounded loop, 8 at a time, with the shared budget sized like production (200 tokens)."""
    creator = await start_creator(
        CREATOR_UPSTREAM_BUDGET_CAPACITY="200",
        CREATOR_UPSTREAM_BUDGET_PER_MINUTE="18",
        CREATOR_INFERENCE_DEADLINE_S="0.2",
    )
    hog_names, other_name = PUBLIC[:-1], PUBLIC[-1]
    codes: Counter[str] = Counter()
    gate = asyncio.Semaphore(8)

    async def refresh(index: int) -> None:
        async with gate:
            try:
                await creator.search(hog_names[index % len(hog_names)], user="hog", refresh=True)
                codes["OK"] += 1
            except grpc.aio.AioRpcError as exc:
                codes[exc.code().name] += 1

    await asyncio.gather(*(refresh(index) for index in range(300)))
    assert codes["OK"] <= 60, codes
    assert codes["RESOURCE_EXHAUSTED"] >= 240, codes
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
    assert await upstream.requests("profile") <= 60
    first = await creator.search(other_name, user="bob")
    assert not first.freshness.from_cache and first.profile.username == other_name


async def test_a_refresh_within_the_minimum_interval_answers_the_stored_report_without_a_fetch(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_MIN_REFRESH_S="300", CREATOR_USER_FETCHES_PER_HOUR="1")
    first = await creator.search("chef.marco", user="carol")
    fetched = await upstream.requests("profile")
    again = await creator.search("chef.marco", user="carol", refresh=True)
    assert again.freshness.refresh_skipped and again.freshness.from_cache
    assert again.freshness.fetched_at == first.freshness.fetched_at
    assert await upstream.requests("profile") == fetched
    assert not first.freshness.refresh_skipped
    # Nothing was taken from the quota (1 an hour, spent on the first search): another user's stored report too.
    other = await creator.search("chef.marco", user="dan", refresh=True)
    assert other.freshness.refresh_skipped


async def test_a_refresh_after_the_minimum_interval_fetches_again(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_MIN_REFRESH_S="0.3")
    first = await creator.search("gg.kenji")
    report = await creator.search("gg.kenji", refresh=True)
    deadline = asyncio.get_running_loop().time() + 10
    while report.freshness.refresh_skipped and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        report = await creator.search("gg.kenji", refresh=True)
    assert not report.freshness.refresh_skipped and not report.freshness.from_cache
    assert report.freshness.fetched_at.ToDatetime() > first.freshness.fetched_at.ToDatetime()


async def test_a_refresh_whose_save_meets_a_deadlock_saves_again_instead_of_failing(
    start_creator: StartCreator, upstream: SampleAdmin, database: TestDatabase
) -> None:
    """Another transaction holds a post row the refresh will upsert, then asks for the creator row the refresh holds.
    The refresh waits first, so PostgreSQL's deadlock check picks it as the victim (as it picked background work's
    partner in refresh storms); the refresh must save again rather than answer INTERNAL."""
    creator = await start_creator()
    first = await creator.search("chef.marco")
    other = await asyncpg.connect(database.admin_dsn)
    try:
        async with other.transaction():
            await other.execute(
                "UPDATE creator.posts SET comments = comments WHERE instagram_id = $1",
                first.recent_posts[-1].instagram_id,
            )
            refresh = asyncio.create_task(creator.search("chef.marco", refresh=True))
            deadline = asyncio.get_running_loop().time() + 10
            # The refresh, and nothing else, waiting on this transaction's post row.
            while not await other.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            ):
                assert asyncio.get_running_loop().time() < deadline, "the refresh never waited for the post row"
                await asyncio.sleep(0.02)
            await other.execute("UPDATE creator.creators SET full_name = full_name WHERE username = 'chef.marco'")
        report = await refresh
    finally:
        await other.close()
    assert not report.freshness.from_cache
    assert report.freshness.fetched_at.ToDatetime() > first.freshness.fetched_at.ToDatetime()
