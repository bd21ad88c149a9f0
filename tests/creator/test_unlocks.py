"""Unlocks and isolation: row-level security in PostgreSQL, the unlocked list, and reads that need an unlock."""

from __future__ import annotations

import asyncpg
import grpc
import pytest
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from tests.conftest import TestDatabase
from tests.creator.conftest import Creator, StartCreator, user_md


async def unlocked(
    creator: Creator, user: str, page_size: int = 0, token: str = ""
) -> creator_pb2.ListUnlockedResponse:
    request = creator_pb2.ListUnlockedRequest(page_size=page_size, page_token=token)
    response: creator_pb2.ListUnlockedResponse = await creator.stub.ListUnlocked(
        request, metadata=user_md(user), timeout=5
    )
    return response


async def test_a_query_without_any_user_filter_sees_only_the_callers_unlocks(
    start_creator: StartCreator, upstream: SampleAdmin, database: TestDatabase
) -> None:
    creator = await start_creator()
    await creator.search("fit.bayann", user="alice")
    await creator.search("chef.marco", user="alice")
    await creator.search("chef.marco", user="bob")
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        role = await conn.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
        forced = await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'creator.unlocks'::regclass")
        assert forced
        assert await conn.fetch("SELECT * FROM creator.unlocks") == []  # no caller set: nothing visible
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', 'alice', true)")
            rows = await conn.fetch("SELECT user_id FROM creator.unlocks")
            assert sorted(r["user_id"] for r in rows) == ["alice", "alice"]
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', 'bob', true)")
            assert [r["user_id"] for r in await conn.fetch("SELECT user_id FROM creator.unlocks")] == ["bob"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.user_id', 'bob', true)")
                await conn.execute(
                    "INSERT INTO creator.unlocks (user_id, creator_id) SELECT 'alice', id FROM creator.creators LIMIT 1"
                )
        assert (
            await conn.fetch("SELECT * FROM creator.unlocks") == []
        )  # set_config(..., true) ended with the transaction
    finally:
        await conn.close()


async def test_the_unlocked_list_is_the_callers_newest_first_in_pages(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    for username in ("fit.bayann", "chef.marco", "wander.lena"):
        await creator.search(username, user="alice")
    await creator.search("gg.kenji", user="bob")
    first = await unlocked(creator, "alice", page_size=2)
    assert [c.username for c in first.creators] == ["wander.lena", "chef.marco"]
    assert first.next_page_token
    second = await unlocked(creator, "alice", page_size=2, token=first.next_page_token)
    assert [c.username for c in second.creators] == ["fit.bayann"]
    assert second.next_page_token == ""
    summary = second.creators[0]
    assert summary.followers_count > 0 and summary.dominant_category and summary.mean_engagement_rate > 0
    assert summary.avatar_url.startswith("http")
    assert [c.username for c in (await unlocked(creator, "bob")).creators] == ["gg.kenji"]
    assert (await unlocked(creator, "carol")).creators == []
    # Searching again does not move a creator: the list is ordered by the first unlock.
    await creator.search("fit.bayann", user="alice")
    assert (await unlocked(creator, "alice")).creators[0].username == "wander.lena"


async def test_posts_and_history_need_the_caller_to_have_unlocked_the_creator(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("money.maya", user="alice")
    for call in (
        creator.stub.ListPosts(creator_pb2.ListPostsRequest(username="money.maya"), metadata=user_md("bob"), timeout=5),
        creator.stub.GetHistory(
            creator_pb2.GetHistoryRequest(username="money.maya"), metadata=user_md("bob"), timeout=5
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "search the creator first" in (info.value.details() or "")
    history = await creator.stub.GetHistory(
        creator_pb2.GetHistoryRequest(username="@Money.Maya"), metadata=user_md("alice"), timeout=5
    )
    assert len(history.snapshots) == 1 and history.snapshots[0].followers_count > 0


async def test_posts_are_listed_newest_first_in_pages_without_repeats(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    report = await creator.search("joao.viaja", user="alice")
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await creator.stub.ListPosts(
            creator_pb2.ListPostsRequest(username="joao.viaja", page_size=5, page_token=token),
            metadata=user_md("alice"),
            timeout=5,
        )
        seen.extend(post.instagram_id for post in page.posts)
        token = page.next_page_token
        if not token:
            break
    assert seen == [post.instagram_id for post in report.recent_posts]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await creator.stub.ListPosts(
            creator_pb2.ListPostsRequest(username="joao.viaja", page_token="garbage"),
            metadata=user_md("alice"),
            timeout=5,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_service_role_cannot_switch_row_level_security_off_to_read_another_users_unlocks(
    start_creator: StartCreator, upstream: SampleAdmin, database: TestDatabase
) -> None:
    creator = await start_creator()
    await creator.search("fit.bayann", user="alice")
    await creator.search("chef.marco", user="bob")
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        owner = await conn.fetchval("SELECT relowner::regrole::text FROM pg_class WHERE relname = 'unlocks'")
        assert owner == "creator_owner" and await conn.fetchval("SELECT current_user") == "creator_svc"
        for statement in (
            "ALTER TABLE creator.unlocks DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE creator.unlocks NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY unlocks_of_the_caller ON creator.unlocks",
            "CREATE POLICY everyone ON creator.unlocks USING (true)",
            "ALTER POLICY unlocks_of_the_caller ON creator.unlocks USING (true)",
            "ALTER TABLE creator.unlocks OWNER TO creator_svc",
            "SET ROLE creator_owner",
            "SET row_security = off; SELECT * FROM creator.unlocks",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', 'bob', true)")
            assert [r["user_id"] for r in await conn.fetch("SELECT user_id FROM creator.unlocks")] == ["bob"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE creator.unlocks")  # TRUNCATE ignores policies: not granted
    finally:
        await conn.close()
