"""Tracking: per-user lists under row-level security, and the scheduler that refreshes tracked creators on its own
(across replicas without double work, yielding the budget to user searches, backing off per creator)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict

import asyncpg
import grpc
import pytest
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from tests.conftest import TestDatabase
from tests.creator.conftest import Creator, StartCreator, eventually, user_md

FAST = {"CREATOR_TRACK_INTERVAL_S": "1", "CREATOR_TRACK_POLL_S": "0.05", "CREATOR_TRACK_JITTER": "0"}


async def track(creator: Creator, username: str, user: str) -> creator_pb2.TrackCreatorResponse:
    response: creator_pb2.TrackCreatorResponse = await creator.stub.TrackCreator(
        creator_pb2.TrackCreatorRequest(username=username), metadata=user_md(user), timeout=10
    )
    return response


async def tracked(creator: Creator, user: str) -> list[str]:
    response = await creator.stub.ListTracked(creator_pb2.ListTrackedRequest(), metadata=user_md(user), timeout=10)
    return [c.username for c in response.creators]


async def history(creator: Creator, username: str, user: str = "alice") -> creator_pb2.GetHistoryResponse:
    response: creator_pb2.GetHistoryResponse = await creator.stub.GetHistory(
        creator_pb2.GetHistoryRequest(username=username, limit=1000), metadata=user_md(user), timeout=10
    )
    return response


async def test_tracking_needs_an_unlock_and_each_user_sees_only_their_own_list(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", user="alice")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await track(creator, "chef.marco", "bob")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "search the creator first" in (refused.value.details() or "")

    answer = await track(creator, "chef.marco", "alice")
    assert answer.creator.username == "chef.marco"
    assert answer.creator.HasField("next_refresh_at")
    assert await tracked(creator, "alice") == ["chef.marco"]
    assert await tracked(creator, "bob") == []
    # Isolation is the database's: without a caller the runtime role sees no tracking row at all.
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        assert await conn.fetch("SELECT * FROM creator.tracking") == []
        forced = await conn.fetchval(
            "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'creator.tracking'::regclass"
        )
        assert forced
    finally:
        await conn.close()


async def test_a_creator_leaves_the_schedule_when_its_last_tracker_untracks_it(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator()
    for user in ("alice", "bob"):
        await creator.search("chef.marco", user=user)
        await track(creator, "chef.marco", user)
    await track(creator, "chef.marco", "alice")  # twice changes nothing
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        assert await owner.fetchval("SELECT trackers FROM creator.refresh_schedule") == 2
        untracked = await creator.stub.UntrackCreator(
            creator_pb2.UntrackCreatorRequest(username="chef.marco"), metadata=user_md("alice")
        )
        assert untracked.was_tracked
        assert await owner.fetchval("SELECT trackers FROM creator.refresh_schedule") == 1
        assert await tracked(creator, "bob") == ["chef.marco"]
        await creator.stub.UntrackCreator(
            creator_pb2.UntrackCreatorRequest(username="chef.marco"), metadata=user_md("bob")
        )
        assert await owner.fetchval("SELECT count(*) FROM creator.refresh_schedule") == 0
        again = await creator.stub.UntrackCreator(
            creator_pb2.UntrackCreatorRequest(username="chef.marco"), metadata=user_md("bob")
        )
        assert not again.was_tracked
    finally:
        await owner.close()


async def test_a_tracked_creator_gains_snapshots_with_no_further_request_and_after_a_restart(
    start_creator: StartCreator,
) -> None:
    creator = await start_creator(**FAST)
    await creator.search("wander.lena", user="alice")
    await track(creator, "wander.lena", "alice")

    async def snapshots_at_least(n: int) -> bool:
        return len((await history(creator, "wander.lena")).snapshots) >= n

    await eventually(lambda: snapshots_at_least(3), what="three snapshots from scheduled refreshes")
    response = await history(creator, "wander.lena")
    assert response.growth.snapshots_considered >= 3
    assert [w.days for w in response.growth.windows] == [7, 30, 90]
    assert all(
        w.absent_reason == "history_too_short" and not w.HasField("followers_gained") for w in response.growth.windows
    )
    # Every snapshot carries its fetch's engagement rate once that fetch's report is rendered; only a refresh in
    # flight (snapshot stored, report not yet saved) may lack it.
    rated = [s.HasField("engagement_rate") for s in response.snapshots]
    assert sum(rated) >= len(rated) - 1, rated
    assert all(rated[:-1]), rated
    assert response.growth.HasField("engagement_rate_change")

    await creator.stop()
    replica = await start_creator(**FAST)
    creator = replica
    count = len((await history(replica, "wander.lena")).snapshots)
    await eventually(lambda: snapshots_at_least(count + 2), what="refreshes after a restart")


async def test_two_replicas_never_refresh_the_same_creator_twice(start_creator: StartCreator) -> None:
    interval = 2.0
    settings = {**FAST, "CREATOR_TRACK_INTERVAL_S": str(interval), "CREATOR_TRACK_BATCH": "2"}
    first = await start_creator(**settings)
    second = await start_creator(**settings)
    names = ("fit.bayann", "chef.marco", "wander.lena", "glow.yuna", "gg.kenji", "milo.the.pup")
    calls: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for label, replica in (("first", first), ("second", second)):
        search = replica.app.search
        assert search is not None
        original = search.refresh_tracked

        async def recorded(username: str, post_limit: int, _label: str = label, _original=original) -> str:  # type: ignore[no-untyped-def]
            calls[username].append((_label, time.monotonic()))
            return await _original(username, post_limit)

        search.refresh_tracked = recorded  # type: ignore[method-assign]
    for name in names:
        await first.search(name, user="alice")
        await track(first, name, "alice")

    async def rounds() -> bool:
        return all(len(calls[name]) >= 3 for name in names)

    await eventually(rounds, deadline_s=40, what="three scheduled refreshes of every creator")
    for name in names:
        moments = [at for _, at in calls[name]]
        gaps = [b - a for a, b in itertools.pairwise(moments)]
        assert min(gaps) >= interval * 0.8, (name, calls[name])
    assert {label for entries in calls.values() for label, _ in entries} == {"first", "second"}


async def test_replicas_together_claim_no_more_refreshes_than_the_budget_holds_above_its_reserve(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    # Capacity 20 with a reserve of half: 10 tokens stay for user searches. The bucket is set to 14 below, room for
    # two refreshes of two requests each, and it barely refills.
    settings = {
        **FAST,
        "CREATOR_TRACK_BUDGET_RESERVE": "0.5",
        "CREATOR_UPSTREAM_BUDGET_CAPACITY": "20",
        "CREATOR_UPSTREAM_BUDGET_PER_MINUTE": "0.01",
    }
    first = await start_creator(**settings)
    second = await start_creator(**settings)
    release = asyncio.Event()
    held: list[str] = []
    for replica in (first, second):
        search = replica.app.search
        assert search is not None
        original = search.refresh_tracked

        async def slow(username: str, post_limit: int, _original=original) -> str:  # type: ignore[no-untyped-def]
            held.append(username)
            await release.wait()  # the refresh's requests leave the budget only after this
            return await _original(username, post_limit)

        search.refresh_tracked = slow  # type: ignore[method-assign]
    names = ("fit.bayann", "chef.marco", "wander.lena", "glow.yuna")
    for name in names:
        await first.search(name, user="alice")
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        await owner.execute("UPDATE creator.request_budgets SET tokens = 0, updated_at = now()")  # nothing claimed yet
        for name in names:
            await track(first, name, "alice")
        assert not held
        await owner.execute("UPDATE creator.request_budgets SET tokens = 14, updated_at = now()")
        await owner.execute("UPDATE creator.refresh_schedule SET next_refresh_at = now() - interval '1 hour'")

        async def two_claimed() -> bool:
            return len(held) >= 2

        await eventually(two_claimed, deadline_s=10, what="two refreshes claimed")
        # Both replicas poll every 50 ms: about 20 passes each while the two claims are in flight and the bucket
        # still reads 14. Each pass must count the claims in flight, whichever replica holds them.
        await asyncio.sleep(1.0)
        assert len(held) == 2, held
        release.set()

        async def settled() -> bool:
            return not await owner.fetchval(
                "SELECT count(*) FROM creator.refresh_schedule WHERE leased_until IS NOT NULL"
            )

        # Released, the refreshes spend their requests (a sample refresh may take fewer than the two counted, which
        # leaves room for more); whatever the replicas claim from there, the reserve is never touched.
        await eventually(settled, deadline_s=20, what="the refreshes stored")
        assert await owner.fetchval("SELECT tokens FROM creator.request_budgets") >= 10 - 0.01
    finally:
        release.set()
        await owner.close()


async def test_refreshes_wait_while_the_budget_is_at_the_reserve_kept_for_user_searches(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator(
        **FAST,
        CREATOR_TRACK_BUDGET_RESERVE="0.9",
        CREATOR_UPSTREAM_BUDGET_CAPACITY="20",
        CREATOR_UPSTREAM_BUDGET_PER_MINUTE="0.01",
    )
    await creator.search("chef.marco", user="alice")  # the budget is now below 90 % of its capacity
    await track(creator, "chef.marco", "alice")
    scheduler = creator.app.scheduler
    assert scheduler is not None
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        await owner.execute("UPDATE creator.refresh_schedule SET next_refresh_at = now() - interval '1 hour'")
        before = await owner.fetchval("SELECT count(*) FROM creator.profile_snapshots")
        await scheduler.run_pass()
        assert await owner.fetchval("SELECT next_refresh_at < now() FROM creator.refresh_schedule")  # not claimed
        assert await owner.fetchval("SELECT count(*) FROM creator.profile_snapshots") == before
        # A user's search still fetches from the reserve.
        report = await creator.search("chef.marco", user="alice", refresh=True)
        assert not report.freshness.from_cache
    finally:
        await owner.close()


async def test_a_failing_creator_backs_off_while_the_others_are_refreshed(
    start_creator: StartCreator, database: TestDatabase, upstream: SampleAdmin
) -> None:
    creator = await start_creator(**FAST, CREATOR_TRACK_BACKOFF_S="30")
    for name in ("chef.marco", "wander.lena"):
        await creator.search(name, user="alice")
        await track(creator, name, "alice")
    await upstream.add_fault("5xx", match="chef.marco")

    async def backed_off() -> asyncpg.Record | None:
        response = await creator.stub.ListTracked(creator_pb2.ListTrackedRequest(), metadata=user_md("alice"))
        marco = next(c for c in response.creators if c.username == "chef.marco")
        return marco if marco.last_refresh_error else None

    marco = await eventually(backed_off, what="a refresh error on the failing creator")
    delay = marco.next_refresh_at.ToDatetime().timestamp() - time.time()  # type: ignore[attr-defined]
    assert delay > 10  # backed off (30 s base with jitter), not due again after the 1 s interval
    lena = len((await history(creator, "wander.lena")).snapshots)

    async def others_refreshed() -> bool:
        return len((await history(creator, "wander.lena")).snapshots) >= lena + 2

    await eventually(others_refreshed, what="the healthy creator refreshed meanwhile")


async def test_a_refresh_downsamples_history_older_than_ninety_days_to_one_snapshot_a_day(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator(**FAST)
    await creator.search("chef.marco", user="alice")
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        await owner.execute(
            """
            INSERT INTO creator.profile_snapshots (creator_id, captured_at, followers, following, posts_count)
            SELECT c.id, date_trunc('day', now()) - make_interval(days => d) + make_interval(hours => h), 100 + h, 1, 1
              FROM creator.creators c, (VALUES (100), (95), (50)) AS days(d), generate_series(1, 3) AS h
            """
        )
        await track(creator, "chef.marco", "alice")

        async def old_days() -> list[tuple[int, int]] | None:
            rows = await owner.fetch(
                """SELECT (now()::date - captured_at::date) AS age, max(followers) AS kept, count(*) AS n
                     FROM creator.profile_snapshots WHERE captured_at < now() - interval '40 days'
                    GROUP BY 1 ORDER BY 1"""
            )
            shape = [(r["age"], r["n"]) for r in rows]
            return shape if shape[0][1] == 3 and shape[1][1] == 1 else None

        shape = await eventually(old_days, what="snapshots over 90 days old downsampled by a refresh")
        assert shape == [(50, 3), (95, 1), (100, 1)]
        kept = await owner.fetch(
            "SELECT followers FROM creator.profile_snapshots WHERE captured_at < now() - interval '90 days'"
        )
        assert {r["followers"] for r in kept} == {103}  # the last snapshot of each day
    finally:
        await owner.close()


async def test_the_service_role_cannot_switch_row_level_security_off_to_read_another_users_tracking(
    start_creator: StartCreator, database: TestDatabase
) -> None:
    creator = await start_creator()
    for user in ("alice", "bob"):
        await creator.search("chef.marco", user=user)
        await track(creator, "chef.marco", user)
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        assert await conn.fetchval("SELECT relowner::regrole::text FROM pg_class WHERE relname = 'tracking'") == (
            "creator_owner"
        )
        for statement in (
            "ALTER TABLE creator.tracking DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE creator.tracking NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY tracking_of_the_caller ON creator.tracking",
            "CREATE POLICY everyone ON creator.tracking USING (true)",
            "SET row_security = off; SELECT * FROM creator.tracking",
            "TRUNCATE creator.tracking",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', 'bob', true)")
            assert [r["user_id"] for r in await conn.fetch("SELECT user_id FROM creator.tracking")] == ["bob"]
            await conn.execute("DELETE FROM creator.tracking")  # only bob's row is in reach
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', 'alice', true)")
            assert [r["user_id"] for r in await conn.fetch("SELECT user_id FROM creator.tracking")] == ["alice"]
    finally:
        await conn.close()
