"""Settling the backlog never waits for a row a refresh is saving, so a refresh and the background components cannot
deadlock (real PostgreSQL, the store's own statements).

A refresh saves a creator in one transaction (store.save_fetch): its analyses and outbox rows are upserted one by one.
Meanwhile the analysis completer or the outbox relay may settle rows of the same creator that they claimed earlier.
A settle statement that waited for the refresh's rows while holding the ones it had already written made a cycle;
PostgreSQL broke it by aborting one side, and a search answered INTERNAL when its save lost three times.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.creator import backlog, store
from services.creator.analytics import CaptionAnalysis
from services.creator.media import plan_jobs
from services.creator.records import MediaInfo
from services.creator.server import MIGRATIONS
from services.creator.upstream.records import Post, PostType, Profile, ProfileFetch
from tests.conftest import TestDatabase

# Long enough for a statement that waits on a lock to be caught waiting; a settle that skips returns in milliseconds.
WAITS_S = 2.0

FETCH = ProfileFetch(
    Profile("9001", "lock.test", "Lock Test", "", None, (), False, False, False, None, 1000, 10, 3, "http://a/avatar"),
    tuple(
        Post(
            f"90{n}",
            f"s{n}",
            PostType.IMAGE,
            datetime(2026, 11, n + 1, tzinfo=UTC),
            f"caption {n}",
            10,
            1,
            None,
            False,
            (),
            (),
            None,
            f"http://a/post{n}.jpg",
        )
        for n in range(3)
    ),
    source="sample",
)


@pytest.fixture
async def pool(database: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    await migrate_directory(database.owner_dsn_for("creator"), "creator", MIGRATIONS)
    made = await asyncpg.create_pool(database.dsn_for("creator"), min_size=2, max_size=3)
    yield made
    await made.close()


async def saved(pool: asyncpg.Pool) -> store.SavedFetch:
    async with pool.acquire() as conn:
        return await store.save_fetch(conn, FETCH, 3, plan_jobs(FETCH), analysis_lease_s=0)


async def test_settling_outbox_rows_skips_the_one_a_refresh_is_saving_and_the_refresh_saves(
    pool: asyncpg.Pool,
) -> None:
    creator = (await saved(pool)).creator_id
    async with pool.acquire() as relay, pool.acquire() as refresh:
        claimed = await backlog.claim_outbox(relay, 10, 0)
        assert len(claimed) == 4, claimed
        last, first = claimed[-1], claimed[0]
        saving = refresh.transaction()
        await saving.start()
        await refresh.execute(store.ENQUEUE_OUTBOX, creator, last.job.source_url, last.job.kind, 1, last.job.owner)
        await asyncio.wait_for(backlog.postpone_outbox(relay, [c.id for c in claimed], "cdn down", 60), WAITS_S)
        await asyncio.wait_for(backlog.delete_outbox(relay, [first.id]), WAITS_S)
        # The refresh goes on with a row the settle already wrote: it must not wait on a settle that waits on it.
        await asyncio.wait_for(
            refresh.execute(store.ENQUEUE_OUTBOX, creator, claimed[1].job.source_url, claimed[1].job.kind, 1, "x"),
            WAITS_S,
        )
        await saving.commit()
        rows = {r["id"]: r for r in await relay.fetch("SELECT id, last_error FROM creator.media_outbox")}
    assert first.id not in rows, "the row the CDN took is deleted"
    assert rows[last.id]["last_error"] == "", "the row the refresh re-armed is left to the refresh"
    assert rows[claimed[2].id]["last_error"] == "cdn down"


async def test_settling_analyses_skips_the_one_a_refresh_is_saving_and_the_refresh_saves(pool: asyncpg.Pool) -> None:
    fetched = await saved(pool)
    assert len(fetched.pending) == 3
    async with pool.acquire() as completer, pool.acquire() as refresh:
        due = await backlog.claim_analyses(completer, 10, 0)
        assert len(due) == 3
        ids = sorted(item.post_id for item in due)
        captions = {item.post_id: item.caption for item in due}
        saving = refresh.transaction()
        await saving.start()
        # The caption is unchanged, so the refresh writes nothing to the row; its upsert still locks it.
        await refresh.execute(store.MARK_ANALYSIS_PENDING, ids[-1], fetched.creator_id, captions[ids[-1]], 0)
        await asyncio.wait_for(backlog.postpone_analyses(completer, ids, "inference down", 60), WAITS_S)
        result = CaptionAnalysis("analyzed", "positive", 0.8, "en", 0.99, "food", 0.7, sentiment_confidence=0.9)
        done = [(pid, captions[pid], result) for pid in ids]
        await asyncio.wait_for(backlog.complete_analyses(completer, done, skip_locked=True), WAITS_S)
        await asyncio.wait_for(
            refresh.execute(store.MARK_ANALYSIS_PENDING, ids[0], fetched.creator_id, "caption 0 edited", 0), WAITS_S
        )
        await saving.commit()
        found = await completer.fetch("SELECT post_id, state, last_error FROM creator.post_analyses")
        rows = {r["post_id"]: r for r in found}
    # ids[0] was completed, then re-armed by the refresh with a new caption; ids[1] was the completer's alone; ids[-1]
    # was the refresh's all along: left pending, untouched, for the refresh to analyse.
    assert [rows[pid]["state"] for pid in ids] == ["pending", "done", "pending"]
    assert rows[ids[-1]]["last_error"] == "", "the row the refresh was saving is left to the refresh"


async def test_media_rows_are_saved_in_url_order_so_two_writers_cannot_deadlock(pool: asyncpg.Pool) -> None:
    urls = [f"http://a/m{n}.jpg" for n in range(6)]
    infos = [MediaInfo(url, 2, ()) for url in urls]

    async def writer(conn: asyncpg.Connection, order: list[MediaInfo]) -> None:
        for _ in range(30):
            await store.save_media(conn, order)

    async with pool.acquire() as one, pool.acquire() as two:
        await asyncio.wait_for(asyncio.gather(writer(one, infos), writer(two, infos[::-1])), 30)
        assert await one.fetchval("SELECT count(*) FROM creator.media") == len(urls)
