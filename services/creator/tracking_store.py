"""PostgreSQL adapter of tracking: each user's tracked creators, the shared refresh schedule, and the history reads.

`creator.tracking` has FORCE ROW LEVEL SECURITY on the transaction's `app.user_id` (see unlocks.py): no query here
filters by user. `creator.refresh_schedule` holds no user data; it counts each creator's trackers so that a creator
nobody tracks any more leaves the schedule. Claims use FOR UPDATE SKIP LOCKED and a lease on `next_refresh_at`, so
any number of replicas share the work without a leader and without refreshing a creator twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from following.errors import NotUnlocked
from services.creator.growth import Point
from services.creator.unlocks import UNLOCKED_CREATOR, as_user

TRACK = """
INSERT INTO creator.tracking (user_id, creator_id) VALUES (current_setting('app.user_id', true), $1)
ON CONFLICT (user_id, creator_id) DO NOTHING
RETURNING creator_id
"""

# A newly scheduled creator's first refresh falls anywhere within one interval, so that creators tracked together
# are refreshed apart.
SCHEDULE = """
INSERT INTO creator.refresh_schedule AS s (creator_id, trackers, next_refresh_at)
VALUES ($1, 1, clock_timestamp() + make_interval(secs => $2 * random()))
ON CONFLICT (creator_id) DO UPDATE SET trackers = s.trackers + 1
"""

UNTRACK = """
DELETE FROM creator.tracking t USING creator.creators c
 WHERE t.creator_id = c.id AND c.username = $1
RETURNING t.creator_id
"""

# Two statements: one statement cannot both update and delete the same row. The update's row lock is held to the end
# of the transaction, so a concurrent track waits and then inserts a fresh row.
UNSCHEDULE = """
UPDATE creator.refresh_schedule SET trackers = trackers - 1 WHERE creator_id = $1 RETURNING trackers
"""
DROP_UNTRACKED = "DELETE FROM creator.refresh_schedule WHERE creator_id = $1 AND trackers <= 0"

LIST_TRACKED = """
SELECT t.tracked_at, c.id, c.username, c.full_name, c.is_verified, c.followers, c.fetched_at,
       s.next_refresh_at, s.last_error,
       COALESCE((SELECT m.renditions -> -1 ->> 3 FROM creator.media m
                  WHERE m.source_url = c.avatar_url AND m.state = 2), c.avatar_url) AS avatar_url
  FROM creator.tracking t
  JOIN creator.creators c ON c.id = t.creator_id
  LEFT JOIN creator.refresh_schedule s ON s.creator_id = t.creator_id
 WHERE ($2::timestamptz IS NULL OR (t.tracked_at, t.creator_id) < ($2::timestamptz, $3::bigint))
   AND ($4::text IS NULL OR c.username = $4)
 ORDER BY t.tracked_at DESC, t.creator_id DESC
 LIMIT $1
"""

# Growth reads the newest GROWTH_DAYS of history (the 90-day window plus slack), bounded in rows.
GROWTH_DAYS = 100
GROWTH_POINTS = """
SELECT creator_id, captured_at, followers, posts_count, engagement_rate FROM (
    SELECT s.*, row_number() OVER (PARTITION BY s.creator_id ORDER BY s.captured_at DESC, s.id DESC) AS n
      FROM creator.profile_snapshots s
     WHERE s.creator_id = ANY($1::bigint[])
       AND s.captured_at >= (SELECT max(l.captured_at) FROM creator.profile_snapshots l
                              WHERE l.creator_id = s.creator_id) - make_interval(days => $2)) recent
 WHERE n <= $3
 ORDER BY creator_id, captured_at
"""
MAX_GROWTH_POINTS = 5000

SNAPSHOTS = """
SELECT captured_at, followers, following, posts_count, engagement_rate FROM creator.profile_snapshots
 WHERE creator_id = $1 ORDER BY captured_at DESC, id DESC LIMIT $2
"""

# One replica's claim, in one round trip: the turn, the room under the budget and the claim (migration 0009).
CLAIM_REFRESHES = "SELECT * FROM creator.claim_refreshes($1, $2, $3, $4, $5)"

NEXT_DUE_IN = """
SELECT extract(epoch FROM min(next_refresh_at) - clock_timestamp()) FROM creator.refresh_schedule
"""

# Due again one interval later (with jitter), and, in the same round trip, daily downsampling: snapshots older than
# 90 days keep only the last one of each UTC day.
REFRESHED = """
WITH done AS (
    UPDATE creator.refresh_schedule
       SET next_refresh_at = clock_timestamp() + make_interval(secs => $2 * (1 - $3 + 2 * $3 * random())),
           last_refreshed_at = clock_timestamp(), failures = 0, last_error = '', leased_until = NULL
     WHERE creator_id = ANY($1::bigint[]))
DELETE FROM creator.profile_snapshots s
 WHERE s.creator_id = ANY($1::bigint[]) AND s.captured_at < clock_timestamp() - interval '90 days'
   AND EXISTS (SELECT 1 FROM creator.profile_snapshots later
                WHERE later.creator_id = s.creator_id
                  AND (later.captured_at AT TIME ZONE 'UTC')::date = (s.captured_at AT TIME ZONE 'UTC')::date
                  AND (later.captured_at, later.id) > (s.captured_at, s.id))
"""

# Backoff: base * 2^failures (failures before this one), at most max, with jitter in [1/2, 1].
FAILED = """
UPDATE creator.refresh_schedule
   SET failures = failures + 1, last_error = $2, leased_until = NULL,
       next_refresh_at = clock_timestamp()
           + make_interval(secs => LEAST($4::float8, $3 * power(2, LEAST(failures, 30))) * (0.5 + random() / 2))
 WHERE creator_id = $1
"""

POSTPONE = """
UPDATE creator.refresh_schedule SET next_refresh_at = clock_timestamp() + make_interval(secs => $2), leased_until = NULL
 WHERE creator_id = ANY($1::bigint[])
"""

BUDGET_LEVEL = """
SELECT LEAST(capacity, tokens + extract(epoch FROM clock_timestamp() - updated_at) * refill_per_second), capacity
  FROM creator.request_budgets WHERE source = $1
"""


@dataclass(frozen=True, slots=True)
class TrackedRow:
    creator_id: int
    username: str
    full_name: str
    avatar_url: str
    is_verified: bool
    followers: int
    tracked_at: datetime
    fetched_at: datetime
    next_refresh_at: datetime | None
    last_error: str


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    captured_at: datetime
    followers: int
    following: int
    posts_count: int
    engagement_rate: float | None


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed refresh."""

    creator_id: int
    username: str
    post_limit: int
    failures: int


async def track(conn: asyncpg.Connection, user_id: str, username: str, interval_s: float) -> TrackedRow:
    """Tracks an unlocked creator for the user (NOT_UNLOCKED otherwise); tracking twice changes nothing."""
    async with as_user(conn, user_id):
        row = await conn.fetchrow(UNLOCKED_CREATOR, username)
        if row is None:
            raise NotUnlocked(f"you have not unlocked {username!r}: search the creator first, then track it")
        creator_id = int(row["id"])
        if await conn.fetchval(TRACK, creator_id) is not None:
            await conn.execute(SCHEDULE, creator_id, interval_s)
        rows = await conn.fetch(LIST_TRACKED, 1, None, None, username)
    return _tracked(rows[0])


async def untrack(conn: asyncpg.Connection, user_id: str, username: str) -> bool:
    """Stops tracking; the creator leaves the schedule when no user tracks it any more. False when not tracked."""
    async with as_user(conn, user_id):
        creator_id = await conn.fetchval(UNTRACK, username)
        if creator_id is None:
            return False
        left = await conn.fetchval(UNSCHEDULE, creator_id)
        if left is not None and left <= 0:
            await conn.execute(DROP_UNTRACKED, creator_id)
    return True


async def list_tracked(
    conn: asyncpg.Connection, user_id: str, limit: int, after: tuple[datetime, int] | None
) -> list[TrackedRow]:
    async with as_user(conn, user_id):
        rows = await conn.fetch(LIST_TRACKED, limit, after[0] if after else None, after[1] if after else None, None)
    return [_tracked(row) for row in rows]


def _tracked(row: asyncpg.Record) -> TrackedRow:
    return TrackedRow(
        creator_id=row["id"],
        username=row["username"],
        full_name=row["full_name"],
        avatar_url=row["avatar_url"],
        is_verified=row["is_verified"],
        followers=row["followers"],
        tracked_at=row["tracked_at"],
        fetched_at=row["fetched_at"],
        next_refresh_at=row["next_refresh_at"],
        last_error=row["last_error"] or "",
    )


async def growth_points(conn: asyncpg.Connection, creator_ids: Sequence[int]) -> dict[int, list[Point]]:
    """The snapshots growth is computed from, oldest first, per creator."""
    rows = await conn.fetch(GROWTH_POINTS, list(creator_ids), GROWTH_DAYS, MAX_GROWTH_POINTS)
    points: dict[int, list[Point]] = {creator_id: [] for creator_id in creator_ids}
    for row in rows:
        points[row["creator_id"]].append(
            Point(row["captured_at"], row["followers"], row["posts_count"], row["engagement_rate"])
        )
    return points


async def snapshots(conn: asyncpg.Connection, creator_id: int, limit: int) -> list[SnapshotRow]:
    """The newest `limit` snapshots, oldest first."""
    rows = await conn.fetch(SNAPSHOTS, creator_id, limit)
    return [
        SnapshotRow(r["captured_at"], r["followers"], r["following"], r["posts_count"], r["engagement_rate"])
        for r in reversed(rows)
    ]


async def claim_refreshes(
    conn: asyncpg.Connection, source: str, batch: int, lease_s: float, reserve: float, requests_per_refresh: int
) -> tuple[int, list[Due]]:
    """(room, claimed): how many refreshes the budget above `reserve` x capacity allowed this replica now (less those
    in flight on every replica, at most `batch`), and the due creators it claimed, leased for `lease_s`."""
    rows = await conn.fetch(CLAIM_REFRESHES, source, batch, lease_s, reserve, requests_per_refresh)
    due = [Due(r["creator_id"], r["username"], r["post_limit"], r["failures"]) for r in rows if r["creator_id"]]
    return (int(rows[0]["room"]) if rows else 0), due


async def next_due_in(conn: asyncpg.Connection) -> float | None:
    """Seconds until the next refresh is due (negative: overdue); None when nothing is tracked."""
    value = await conn.fetchval(NEXT_DUE_IN)
    return None if value is None else float(value)


async def refreshed(conn: asyncpg.Connection, creator_ids: Sequence[int], interval_s: float, jitter: float) -> None:
    """Schedules the next refresh of each (its own jitter) and downsamples their old snapshots, in one statement."""
    if creator_ids:
        await conn.execute(REFRESHED, list(creator_ids), interval_s, jitter)


async def failed(conn: asyncpg.Connection, creator_id: int, error: str, backoff_s: float, max_s: float) -> None:
    await conn.execute(FAILED, creator_id, error[:500], backoff_s, max_s)


async def postpone(conn: asyncpg.Connection, creator_ids: Sequence[int], seconds: float) -> None:
    """Gives claims back without counting a failure (the budget was needed for user searches)."""
    await conn.execute(POSTPONE, list(creator_ids), seconds)


async def budget_level(conn: asyncpg.Connection, source: str) -> tuple[float, float] | None:
    """(tokens now, capacity) of the shared upstream budget, without taking any; None when it does not exist."""
    row = await conn.fetchrow(BUDGET_LEVEL, source)
    return None if row is None else (float(row[0]), float(row[1]))
