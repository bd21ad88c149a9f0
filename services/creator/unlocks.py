"""What a user may read: their unlocked creators, and the posts and history of those creators only.

Isolation is PostgreSQL's job: `creator.unlocks` has FORCE ROW LEVEL SECURITY with a policy on the transaction's
`app.user_id` (set with set_config(..., true), i.e. SET LOCAL). No query here filters by user; the policy does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from following.errors import NotUnlocked
from services.creator import store
from services.creator.records import StoredPost

SET_USER = "SELECT set_config('app.user_id', $1, true)"

LIST_UNLOCKED = """
SELECT u.unlocked_at, c.id, c.username, c.full_name, c.is_verified, c.followers, c.dominant_category,
       c.mean_engagement_rate, c.engagement_posts_considered, c.engagement_absent_reason, c.fetched_at,
       COALESCE((SELECT m.renditions -> -1 ->> 3 FROM creator.media m
                  WHERE m.source_url = c.avatar_url AND m.state = 2), c.avatar_url) AS avatar_url
  FROM creator.unlocks u JOIN creator.creators c ON c.id = u.creator_id
 WHERE $2::timestamptz IS NULL OR (u.unlocked_at, u.creator_id) < ($2::timestamptz, $3::bigint)
 ORDER BY u.unlocked_at DESC, u.creator_id DESC
 LIMIT $1
"""

UNLOCKED_CREATOR = """
SELECT c.id, c.followers FROM creator.creators c JOIN creator.unlocks u ON u.creator_id = c.id WHERE c.username = $1
"""

PAGE_OF_POST_IDS = """
SELECT instagram_id FROM creator.posts
 WHERE creator_id = $1 AND ($3::timestamptz IS NULL OR (taken_at, instagram_id) < ($3::timestamptz, $4::text))
 ORDER BY taken_at DESC, instagram_id DESC
 LIMIT $2
"""

SNAPSHOTS = """
SELECT captured_at, followers, following, posts_count FROM creator.profile_snapshots
 WHERE creator_id = $1 ORDER BY captured_at DESC, id DESC LIMIT $2
"""


@dataclass(frozen=True, slots=True)
class UnlockedRow:
    creator_id: int
    username: str
    full_name: str
    avatar_url: str
    is_verified: bool
    followers: int
    dominant_category: str
    mean_engagement_rate: float | None  # None when no post qualifies (engagement_absent_reason says why)
    unlocked_at: datetime
    fetched_at: datetime
    engagement_posts_considered: int = 0
    engagement_absent_reason: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    captured_at: datetime
    followers: int
    following: int
    posts_count: int


@asynccontextmanager
async def as_user(conn: asyncpg.Connection, user_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction in which row-level security sees `user_id` as the caller."""
    async with conn.transaction():
        await conn.execute(SET_USER, user_id)
        yield conn


async def list_unlocked(
    conn: asyncpg.Connection, user_id: str, limit: int, after: tuple[datetime, int] | None
) -> list[UnlockedRow]:
    async with as_user(conn, user_id):
        rows = await conn.fetch(LIST_UNLOCKED, limit, after[0] if after else None, after[1] if after else None)
    return [
        UnlockedRow(
            creator_id=row["id"],
            username=row["username"],
            full_name=row["full_name"],
            avatar_url=row["avatar_url"],
            is_verified=row["is_verified"],
            followers=row["followers"],
            dominant_category=row["dominant_category"],
            mean_engagement_rate=row["mean_engagement_rate"],
            unlocked_at=row["unlocked_at"],
            fetched_at=row["fetched_at"],
            engagement_posts_considered=row["engagement_posts_considered"],
            engagement_absent_reason=row["engagement_absent_reason"],
        )
        for row in rows
    ]


async def require_unlock(conn: asyncpg.Connection, user_id: str, username: str) -> tuple[int, int]:
    """(creator id, followers) of a creator the user unlocked; PERMISSION_DENIED otherwise."""
    async with as_user(conn, user_id):
        row = await conn.fetchrow(UNLOCKED_CREATOR, username)
    if row is None:
        raise NotUnlocked(f"you have not unlocked {username!r}: search the creator first")
    return int(row["id"]), int(row["followers"])


async def page_of_posts(
    conn: asyncpg.Connection, creator_id: int, followers: int, limit: int, after: tuple[datetime, str] | None
) -> list[StoredPost]:
    ids = await conn.fetch(
        PAGE_OF_POST_IDS, creator_id, limit, after[0] if after else None, after[1] if after else None
    )
    posts = await store.load_posts(conn, [row["instagram_id"] for row in ids], followers)
    return sorted(posts, key=lambda p: (p.taken_at, p.instagram_id), reverse=True)


async def snapshots(conn: asyncpg.Connection, creator_id: int, limit: int) -> list[Snapshot]:
    rows = await conn.fetch(SNAPSHOTS, creator_id, limit)
    return [Snapshot(r["captured_at"], r["followers"], r["following"], r["posts_count"]) for r in reversed(rows)]
