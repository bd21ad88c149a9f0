"""One behaviour, two adapters: every method of the `JobQueue` port, run against the PostgreSQL store on a fresh
database and against the in-memory queue, through the port alone (plus a way to move a job's history into the past)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from following.migrations import migrate_directory
from services.cdn.jobs import (
    Asset,
    ClaimedJob,
    JobQueue,
    JobState,
    Kind,
    NewJob,
    Outcome,
    Priority,
    StoredRendition,
)
from services.cdn.memory_queue import MemoryQueue
from services.cdn.store import JobStore
from tests.conftest import TestDatabase

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "cdn" / "migrations"
QUEUED, RUNNING, RETRYING, DONE, DEAD = JobState


@dataclass
class Adapter:
    queue: JobQueue
    #: Moves a job's failure time and its attempts `days` into the past (as if they happened then).
    backdate: Callable[[int, int], Awaitable[None]]


@pytest.fixture
async def postgres_adapter(database: TestDatabase) -> AsyncIterator[Adapter]:
    await migrate_directory(database.owner_dsn_for("cdn"), "cdn", MIGRATIONS)
    pool = await asyncpg.create_pool(database.dsn_for("cdn"), min_size=1, max_size=8)
    store = JobStore()
    store.attach(pool)

    async def backdate(job_id: int, days: int) -> None:
        past = timedelta(days=days)
        await pool.execute("UPDATE cdn.jobs SET failed_at = failed_at - $2::interval WHERE id = $1", job_id, past)
        await pool.execute(
            "UPDATE cdn.attempts SET finished_at = finished_at - $2::interval WHERE job_id = $1", job_id, past
        )

    yield Adapter(store, backdate)
    await pool.close()


@pytest.fixture
async def memory_adapter() -> Adapter:
    queue = MemoryQueue()

    async def backdate(job_id: int, days: int) -> None:
        job = queue.jobs[job_id]
        if job.failed_at is not None:
            job.failed_at -= timedelta(days=days)
        for attempt in queue.attempts:
            if attempt.job_id == job_id:
                attempt.finished_at -= timedelta(days=days)

    return Adapter(queue, backdate)


@pytest.fixture(params=["postgres", "memory"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    result: Adapter = request.getfixturevalue(f"{request.param}_adapter")
    return result


@pytest.fixture
def queue(adapter: Adapter) -> JobQueue:
    return adapter.queue


def job(name: str | int, priority: Priority = Priority.MEDIUM, kind: Kind = Kind.POST_IMAGE) -> NewJob:
    return NewJob(url(name), kind, priority, "test")


def url(name: str | int) -> str:
    return f"https://x.cdninstagram.com/{name}.jpg"


def name_of(claimed: ClaimedJob) -> str:
    return claimed.source_url.rsplit("/", 1)[-1].removesuffix(".jpg")


async def one(queue: JobQueue, name: str | int) -> Asset:
    (asset,) = await queue.assets([url(name)], 0)
    return asset


async def claim_one(queue: JobQueue, lease_seconds: float = 30.0) -> ClaimedJob:
    (claimed,) = await queue.claim(1, lease_seconds, "w")
    return claimed


async def until(condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 5.0) -> None:
    end = time.monotonic() + deadline_s
    while not await condition():
        assert time.monotonic() < end, f"not {what} within {deadline_s} s"
        await asyncio.sleep(0.01)


async def counts(queue: JobQueue) -> list[tuple[str, int, int, int]]:
    return [(c.state, c.priority, c.count, c.prefetched) for c in await queue.queue_counts()]


# enqueue


async def test_enqueue_creates_one_queued_job_per_url_and_kind(queue: JobQueue) -> None:
    results = await queue.enqueue([job("a"), job("a", kind=Kind.AVATAR), job("b")], 5)
    assert {(u.rsplit("/", 1)[-1], k, r.state, r.created) for (u, k), r in results.items()} == {
        ("a.jpg", Kind.POST_IMAGE, QUEUED, True),
        ("a.jpg", Kind.AVATAR, QUEUED, True),
        ("b.jpg", Kind.POST_IMAGE, QUEUED, True),
    }
    assert len({r.id for r in results.values()}) == 3
    assert [(a.kind, a.state) for a in await queue.assets([url("a")], 0)] == [
        (Kind.AVATAR, QUEUED),
        (Kind.POST_IMAGE, QUEUED),
    ]


async def test_enqueue_is_idempotent_and_only_ever_raises_the_priority(queue: JobQueue) -> None:
    (first,) = (await queue.enqueue([job("a", Priority.LOW)], 5)).values()
    (again,) = (await queue.enqueue([job("a", Priority.HIGH)], 5)).values()
    (lower,) = (await queue.enqueue([job("a", Priority.LOW)], 5)).values()
    assert (again.id, again.created, lower.id, lower.created) == (first.id, False, first.id, False)
    assert await counts(queue) == [(QUEUED, Priority.HIGH, 1, 0)]


async def test_enqueue_keeps_the_highest_priority_of_a_pair_within_one_call(queue: JobQueue) -> None:
    results = await queue.enqueue([job("a", Priority.LOW), job("a", Priority.CRITICAL), job("a", Priority.MEDIUM)], 5)
    assert [r.created for r in results.values()] == [True]
    assert await counts(queue) == [(QUEUED, Priority.CRITICAL, 1, 0)]


async def test_enqueue_of_a_finished_job_reports_its_state_and_creates_nothing(queue: JobQueue) -> None:
    await queue.enqueue([job("a")], 5)
    assert await queue.complete(await claim_one(queue), Outcome(), 1.0)
    (result,) = (await queue.enqueue([job("a")], 5)).values()
    assert (result.state, result.created) == (DONE, False)
    assert await queue.claim(5, 30, "w") == []


# claim, mark_started, heartbeat


async def test_claims_follow_priority_then_enqueue_order_and_spend_an_attempt(queue: JobQueue) -> None:
    for name, priority in [(1, Priority.LOW), (2, Priority.HIGH), (3, Priority.MEDIUM), (4, Priority.CRITICAL)]:
        await queue.enqueue([job(name, priority)], 5)
    await queue.enqueue([job(5, Priority.HIGH)], 5)
    first = await queue.claim(2, 30, "w")
    rest = await queue.claim(10, 30, "w")
    assert [name_of(j) for j in first] == ["4", "2"] and [name_of(j) for j in rest] == ["5", "3", "1"]
    assert {(j.attempts, j.max_attempts) for j in first + rest} == {(1, 5)}
    assert len({j.lease_token for j in first + rest}) == 5
    assert await queue.claim(1, 30, "w") == []


async def test_concurrent_claimers_never_get_the_same_job(queue: JobQueue) -> None:
    await queue.enqueue([job(n) for n in range(100)], 5)

    async def drain(worker: str) -> list[int]:
        ids: list[int] = []
        while batch := await queue.claim(7, 30, worker):
            ids += [j.id for j in batch]
        return ids

    results = await asyncio.gather(*(drain(f"w{i}") for i in range(4)))
    claimed = [i for ids in results for i in ids]
    assert len(claimed) == 100 and len(set(claimed)) == 100


async def test_claimed_jobs_past_starting_wait_prefetched_until_marked_started(queue: JobQueue) -> None:
    await queue.enqueue([job(n) for n in range(3)], 5)
    claimed = await queue.claim(3, 30, "w", starting=1)
    assert [j.started for j in claimed] == [True, False, False]
    assert await counts(queue) == [(RUNNING, Priority.MEDIUM, 3, 2)]
    assert await queue.mark_started([claimed[1].lease_token]) == 1
    assert await counts(queue) == [(RUNNING, Priority.MEDIUM, 3, 1)]
    assert await queue.mark_started([claimed[2].lease_token, "00000000-0000-0000-0000-000000000000"]) == 1
    assert await counts(queue) == [(RUNNING, Priority.MEDIUM, 3, 0)]


async def test_heartbeats_renew_only_live_leases_and_keep_them_from_the_rescuer(queue: JobQueue) -> None:
    await queue.enqueue([job(1), job(2)], 5)
    kept, lost = await queue.claim(2, 0.0, "w")
    assert await queue.heartbeat([kept.lease_token], 60) == 1
    await until(lambda: _rescued(queue, 1), "the unrenewed lease rescued")
    assert (await one(queue, name_of(kept))).state == RUNNING
    assert (await one(queue, name_of(lost))).state == QUEUED
    assert await queue.heartbeat([lost.lease_token], 60) == 0


async def _rescued(queue: JobQueue, expected: int) -> bool:
    return await queue.rescue() == expected


# complete, fail, defer, release


async def test_complete_stores_the_renditions_and_counts_a_processed_job(queue: JobQueue) -> None:
    await queue.enqueue([job("a")], 5)
    claimed = await claim_one(queue)
    renditions = [
        StoredRendition(640, 800, "webp", "k/640.webp", 300),
        StoredRendition(320, 400, "webp", "k/320.webp", 100),
        StoredRendition(320, 400, "jpeg", "k/320.jpeg", 200),
    ]
    assert await queue.complete(claimed, Outcome(renditions, bytes_in=1000), 12.0)
    asset = await one(queue, "a")
    assert (asset.state, asset.last_error) == (DONE, "")
    assert [(r.width, r.format, r.key, r.bytes) for r in asset.renditions] == [
        (320, "jpeg", "k/320.jpeg", 200),
        (320, "webp", "k/320.webp", 100),
        (640, "webp", "k/640.webp", 300),
    ]
    (today,) = await queue.statistics(1)
    assert (today.processed, today.failed, today.bytes_in, today.bytes_out) == (1, 0, 1000, 600)
    assert not await queue.complete(claimed, Outcome(), 1.0)


async def test_a_stale_lease_cannot_record_anything_for_a_rescued_and_reclaimed_job(queue: JobQueue) -> None:
    await queue.enqueue([job(1)], 5)
    crashed = await claim_one(queue, lease_seconds=0.0)
    await until(lambda: _rescued(queue, 1), "the expired lease rescued")
    alive = await claim_one(queue)
    assert (alive.id, alive.attempts) == (crashed.id, 2)
    assert not await queue.complete(crashed, Outcome(), 1.0)
    assert not await queue.fail(crashed, "x", dead=True, retry_in=0, processing_ms=1, bytes_in=0)
    assert not await queue.defer(crashed, datetime.now(UTC), "x")
    assert await queue.release([crashed.lease_token]) == 0
    assert (await one(queue, 1)).state == RUNNING
    assert await queue.complete(alive, Outcome(), 1.0)


async def test_a_failure_with_attempts_left_retries_after_its_backoff(queue: JobQueue) -> None:
    await queue.enqueue([job(1), job(2)], 5)
    later, soon = await queue.claim(2, 30, "w")
    assert await queue.fail(later, "HTTP 503", dead=False, retry_in=3600, processing_ms=5, bytes_in=7)
    assert await queue.fail(soon, "HTTP 502", dead=False, retry_in=0, processing_ms=5, bytes_in=0)
    assert [(a.state, a.last_error) for a in await queue.assets([url(1), url(2)], 0)] == [
        (RETRYING, "HTTP 503"),
        (RETRYING, "HTTP 502"),
    ]
    assert await queue.claim(2, 30, "w") == []
    assert await queue.promote() == 1
    again = await claim_one(queue)
    assert (again.id, again.attempts) == (soon.id, 2)
    (today,) = await queue.statistics(1)
    assert (today.processed, today.failed, today.bytes_in) == (0, 2, 7)


async def test_a_permanent_failure_goes_dead_with_its_error_cut_to_size(queue: JobQueue) -> None:
    await queue.enqueue([job(1)], 5)
    claimed = await claim_one(queue)
    assert await queue.fail(claimed, "x" * 3000, dead=True, retry_in=0, processing_ms=5, bytes_in=0)
    (dead,) = await queue.dead(10, None)
    assert (dead.id, dead.attempts) == (claimed.id, 1) and (await one(queue, 1)).state == DEAD
    assert dead.last_error == "x" * 2000 and dead.failed_at <= datetime.now(UTC)
    assert await queue.count_dead() == 1 and await queue.promote() == 0


async def test_deferring_gives_the_attempt_back_and_waits_until_run_at(queue: JobQueue) -> None:
    await queue.enqueue([job(1), job(2)], 5)
    past, future = await queue.claim(2, 30, "w")
    now = datetime.now(UTC)
    assert await queue.defer(past, now - timedelta(seconds=1), "breaker open")
    assert await queue.defer(future, now + timedelta(hours=1), "rate limited")
    assert (await one(queue, name_of(future))).last_error == "rate limited"
    assert await queue.promote() == 1
    again = await claim_one(queue)
    assert (again.id, again.attempts) == (past.id, 1)
    (today,) = await queue.statistics(1)
    assert (today.processed, today.failed) == (0, 0)


async def test_released_jobs_return_to_the_queue_at_once_with_the_attempt_given_back(queue: JobQueue) -> None:
    await queue.enqueue([job(1), job(2)], 5)
    claimed = await queue.claim(2, 30, "w")
    assert await queue.release([j.lease_token for j in claimed]) == 2
    again = await queue.claim(5, 30, "w")
    assert sorted((j.id, j.attempts) for j in again) == sorted((j.id, 1) for j in claimed)


# promote, rescue


async def test_promote_moves_at_most_limit_due_jobs(queue: JobQueue) -> None:
    await queue.enqueue([job(n) for n in range(3)], 5)
    for claimed in await queue.claim(3, 30, "w"):
        await queue.fail(claimed, "503", dead=False, retry_in=0, processing_ms=1, bytes_in=0)
    assert await queue.promote(limit=2) == 2
    assert await queue.promote() == 1


async def test_the_rescuer_requeues_an_expired_lease_and_buries_the_last_attempt(queue: JobQueue) -> None:
    await queue.enqueue([job("again")], 5)
    await queue.enqueue([job("last")], 1)
    await queue.claim(2, 0.0, "w7")
    await until(lambda: _rescued(queue, 2), "both expired leases rescued")
    again, last = await queue.assets([url("again")], 0), await queue.assets([url("last")], 0)
    assert [(a.state, a.last_error) for a in again + last] == [
        (QUEUED, "lease expired: worker w7 stopped heartbeating"),
        (DEAD, "lease expired: worker w7 stopped heartbeating"),
    ]
    (dead,) = await queue.dead(10, None)
    assert dead.source_url == url("last") and dead.attempts == 1
    assert (await claim_one(queue)).attempts == 2


# assets


async def test_assets_filter_by_kind_order_by_kind_and_skip_unknown_urls(queue: JobQueue) -> None:
    await queue.enqueue([job("a", kind=Kind.POST_IMAGE), job("a", kind=Kind.AVATAR), job("b")], 5)
    every = await queue.assets([url("a"), url("zz")], 0)
    assert [(a.source_url, a.kind) for a in every] == [(url("a"), Kind.AVATAR), (url("a"), Kind.POST_IMAGE)]
    posts = await queue.assets([url("a"), url("b")], int(Kind.POST_IMAGE))
    assert sorted(a.source_url for a in posts) == [url("a"), url("b")]
    assert {a.kind for a in posts} == {Kind.POST_IMAGE} and all(a.renditions == () for a in posts)


# dead letters


async def _bury(queue: JobQueue, names: list[str]) -> dict[str, int]:
    await queue.enqueue([job(name) for name in names], 5)
    ids = {}
    for claimed in await queue.claim(len(names), 30, "w"):
        await queue.fail(claimed, f"gone {name_of(claimed)}", dead=True, retry_in=0, processing_ms=1, bytes_in=0)
        ids[name_of(claimed)] = claimed.id
    return ids


async def test_dead_jobs_page_newest_failure_first(queue: JobQueue) -> None:
    ids = await _bury(queue, ["a", "b", "c"])
    await queue.enqueue([job("alive")], 5)
    listed = await queue.dead(10, None)
    assert [j.id for j in listed] == sorted(ids.values(), reverse=True)
    assert [j.last_error for j in listed] == ["gone c", "gone b", "gone a"]
    first = await queue.dead(2, None)
    rest = await queue.dead(2, (first[-1].failed_at, first[-1].id))
    assert [j.id for j in first + rest] == [j.id for j in listed]
    assert await queue.count_dead() == 3


async def test_retry_dead_requeues_the_named_dead_jobs_with_a_fresh_budget(queue: JobQueue) -> None:
    ids = await _bury(queue, ["a", "b", "c"])
    (alive,) = (await queue.enqueue([job("alive")], 5)).values()
    assert await queue.retry_dead([ids["a"], alive.id, 999_999], every=False) == 1
    assert (await one(queue, "a")).state == QUEUED
    assert await queue.retry_dead([], every=True) == 2
    assert await queue.count_dead() == 0
    assert {j.attempts for j in await queue.claim(10, 30, "w")} == {1}


async def test_retry_dead_exactly_changes_nothing_when_a_named_job_is_not_dead(queue: JobQueue) -> None:
    ids = await _bury(queue, ["a", "b"])
    missing = await queue.retry_dead_exactly([ids["a"], 999_999, 999_998, 999_999], every=False)
    assert (missing.changed, missing.missing) == (0, [999_998, 999_999])
    assert await queue.count_dead() == 2
    done = await queue.retry_dead_exactly([ids["a"]], every=False)
    assert (done.changed, done.missing) == (1, [])
    assert (await queue.retry_dead_exactly([], every=True)).changed == 1
    assert await queue.count_dead() == 0


async def test_discard_dead_deletes_all_or_nothing_and_a_later_enqueue_starts_afresh(queue: JobQueue) -> None:
    ids = await _bury(queue, ["a", "b", "c"])
    refused = await queue.discard_dead([ids["a"], 999_999], every=False)
    assert (refused.changed, refused.missing) == (0, [999_999]) and await queue.count_dead() == 3
    assert (await queue.discard_dead([ids["a"]], every=False)).changed == 1
    assert await queue.assets([url("a")], 0) == []
    (fresh,) = (await queue.enqueue([job("a")], 5)).values()
    assert fresh.created and fresh.id != ids["a"]
    assert (await queue.discard_dead([], every=True)).changed == 2
    assert await queue.count_dead() == 0
    (today,) = await queue.statistics(1)
    assert today.failed == 0  # their attempts went with them


# gauges


async def test_queue_counts_group_unfinished_and_dead_jobs_by_state_and_priority(queue: JobQueue) -> None:
    await _bury(queue, ["dead"])
    await queue.enqueue([job("done")], 5)
    await queue.complete(await claim_one(queue), Outcome(), 1.0)
    await queue.enqueue([job("retry", Priority.HIGH)], 5)
    await queue.fail(await claim_one(queue), "503", dead=False, retry_in=3600, processing_ms=1, bytes_in=0)
    await queue.enqueue([job("q1", Priority.LOW), job("q2", Priority.LOW), job("q3", Priority.CRITICAL)], 5)
    await queue.claim(1, 30, "w")
    assert await counts(queue) == [
        (DEAD, Priority.MEDIUM, 1, 0),
        (QUEUED, Priority.LOW, 2, 0),
        (RETRYING, Priority.HIGH, 1, 0),
        (RUNNING, Priority.CRITICAL, 1, 0),
    ]


async def test_oldest_queued_age_is_zero_without_queued_jobs_and_grows_while_one_waits(queue: JobQueue) -> None:
    assert await queue.oldest_queued_age() == 0
    await queue.enqueue([job(1)], 5)
    first = await queue.oldest_queued_age()
    await until(lambda: _older_than(queue, first), "the queued job older")
    assert 0 <= first < 5
    await claim_one(queue)
    assert await queue.oldest_queued_age() == 0


async def _older_than(queue: JobQueue, age: float) -> bool:
    return await queue.oldest_queued_age() > age


async def test_one_holder_at_a_time_has_the_gauge_lock(queue: JobQueue) -> None:
    await queue.enqueue([job(1)], 5)
    first = await queue.take_gauge_lock()
    assert first is not None and await queue.take_gauge_lock() is None
    assert [(c.state, c.count) for c in await first.queue_counts()] == [(QUEUED, 1)]
    assert 0 <= await first.oldest_queued_age() < 5
    await first.release()
    second = await queue.take_gauge_lock()
    assert second is not None
    await second.release()


# retention


async def test_retention_deletes_old_dead_jobs_and_attempts_oldest_first_in_batches(adapter: Adapter) -> None:
    queue = adapter.queue
    ids = await _bury(queue, ["old1", "old2", "old3", "new"])
    await queue.enqueue([job("done")], 5)
    done = await claim_one(queue)
    await queue.complete(done, Outcome(), 1.0)
    for name, days in [("old1", 40), ("old2", 35), ("old3", 32)]:
        await adapter.backdate(ids[name], days)
    await adapter.backdate(done.id, 50)
    assert await queue.purge_dead(30, 2) == 2
    assert sorted(j.source_url for j in await queue.dead(10, None)) == [url("new"), url("old3")]
    assert await queue.purge_dead(30, 2) == 1
    assert await queue.purge_dead(30, 2) == 0
    assert await queue.purge_attempts(30, 10) == 1  # the DONE job's; the dead ones' went with them
    assert (await one(queue, "done")).state == DONE
    (today,) = await queue.statistics(1)
    assert today.failed == 1  # the recent dead job's attempt stays


async def test_purge_attempts_is_bounded_by_its_batch(adapter: Adapter) -> None:
    queue = adapter.queue
    await queue.enqueue([job(n) for n in range(5)], 5)
    for claimed in await queue.claim(5, 30, "w"):
        await queue.complete(claimed, Outcome(), 1.0)
        await adapter.backdate(claimed.id, 31)
    assert [await queue.purge_attempts(30, 2) for _ in range(4)] == [2, 2, 1, 0]


# statistics, ping


async def test_statistics_cover_each_utc_day_with_counts_percentiles_and_bytes(adapter: Adapter) -> None:
    queue = adapter.queue
    await queue.enqueue([job(n) for n in range(5)], 5)
    claimed = await queue.claim(5, 30, "w")
    for j, ms in zip(claimed[:3], [10.0, 30.0, 20.0], strict=True):
        await queue.complete(j, Outcome([StoredRendition(1, 1, "webp", "k", 5)], bytes_in=100), ms)
    await queue.fail(claimed[3], "503", dead=False, retry_in=60, processing_ms=500, bytes_in=3)
    await queue.complete(claimed[4], Outcome(bytes_in=1), 1000.0)
    await adapter.backdate(claimed[4].id, 1)
    days = await queue.statistics(3)
    today = datetime.now(UTC).date()
    assert [d.date for d in days] == [str(today - timedelta(days=n)) for n in (2, 1, 0)]
    before, yesterday, now = days
    assert (before.processed, before.failed, before.p50_ms, before.bytes_in) == (0, 0, 0, 0)
    assert (yesterday.processed, yesterday.p50_ms, yesterday.p95_ms, yesterday.bytes_in) == (1, 1000, 1000, 1)
    assert (now.processed, now.failed, now.bytes_in, now.bytes_out) == (3, 1, 303, 15)
    assert now.p50_ms == pytest.approx(20.0) and now.p95_ms == pytest.approx(29.0)
    assert await queue.statistics(0) == []


async def test_ping_answers_while_the_queue_is_reachable(queue: JobQueue) -> None:
    await queue.ping()
