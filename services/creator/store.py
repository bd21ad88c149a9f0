"""PostgreSQL adapter for creators, snapshots, posts and the rendered report (schema `creator`).

A fetch is saved in one transaction together with its pending analyses and its CDN outbox rows, so nothing a search
started can be lost by a crash. The rendered report (a serialised CreatorReport, built by reports.py) is what the
cached path returns. Reads return the typed records of records.py; this module builds no API message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.creator import captions
from services.creator.analytics import CaptionAnalysis
from services.creator.backlog import DueAnalysis
from services.creator.media import JobPlan
from services.creator.records import MediaInfo, RenderedReport, Rendition, StoredPost, StoredProfile
from services.creator.upstream import ProfileFetch

log = logging.getLogger(__name__)

PING = "SELECT 1"

OPEN_REPORT = "SELECT * FROM creator.open_report($1, $2)"

# Session advisory lock namespace of creator fetches ('crtr'); the second key is hashtext(username).
FETCH_LOCK_NAMESPACE = 0x63727472
TRY_LOCK_FETCH = "SELECT pg_try_advisory_lock($1::int, hashtext($2))"
UNLOCK_FETCH = "SELECT pg_advisory_unlock($1::int, hashtext($2))"

FRESHNESS = """
SELECT id AS creator_id, fetched_at, post_limit, cardinality(recent_post_ids) AS recent_posts, posts_count,
       report IS NOT NULL AS ready
  FROM creator.creators WHERE username = $1
"""

UPSERT_CREATOR = """
INSERT INTO creator.creators AS c (
    username, instagram_id, full_name, biography, external_url, bio_links, is_private, is_verified, is_business,
    category, followers, following, posts_count, avatar_url, source, fetched_at, recent_post_ids, post_limit)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, clock_timestamp(), $16, $17)
ON CONFLICT (username) DO UPDATE SET
    instagram_id = EXCLUDED.instagram_id, full_name = EXCLUDED.full_name, biography = EXCLUDED.biography,
    external_url = EXCLUDED.external_url, bio_links = EXCLUDED.bio_links, is_private = EXCLUDED.is_private,
    is_verified = EXCLUDED.is_verified, is_business = EXCLUDED.is_business, category = EXCLUDED.category,
    followers = EXCLUDED.followers, following = EXCLUDED.following, posts_count = EXCLUDED.posts_count,
    avatar_url = EXCLUDED.avatar_url, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at,
    recent_post_ids = EXCLUDED.recent_post_ids, post_limit = EXCLUDED.post_limit
RETURNING id, fetched_at, bio_embedded_md5 <> md5(biography) AS bio_due
"""

INSERT_SNAPSHOT = """
INSERT INTO creator.profile_snapshots (creator_id, captured_at, followers, following, posts_count)
VALUES ($1, $2, $3, $4, $5)
"""

UPSERT_POST = """
INSERT INTO creator.posts AS p (
    instagram_id, creator_id, shortcode, type, taken_at, caption, likes, comments, views, is_pinned, is_sponsored,
    sponsors, hashtags, mentions, tagged_users, location_name, image_url, carousel_urls)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (instagram_id) DO UPDATE SET
    creator_id = EXCLUDED.creator_id, shortcode = EXCLUDED.shortcode, type = EXCLUDED.type,
    taken_at = EXCLUDED.taken_at, caption = EXCLUDED.caption, likes = EXCLUDED.likes, comments = EXCLUDED.comments,
    views = EXCLUDED.views, is_pinned = EXCLUDED.is_pinned, is_sponsored = EXCLUDED.is_sponsored,
    sponsors = EXCLUDED.sponsors, hashtags = EXCLUDED.hashtags, mentions = EXCLUDED.mentions,
    tagged_users = EXCLUDED.tagged_users, location_name = EXCLUDED.location_name, image_url = EXCLUDED.image_url,
    carousel_urls = EXCLUDED.carousel_urls, updated_at = now()
"""

# A new caption, or a changed one, needs analysing; the search itself tries first, the completer after `lease`.
MARK_ANALYSIS_PENDING = """
INSERT INTO creator.post_analyses AS a (post_id, creator_id, state, caption_md5, next_attempt_at)
VALUES ($1, $2, 'pending', md5($3), now() + make_interval(secs => $4))
ON CONFLICT (post_id) DO UPDATE SET
    state = 'pending', caption_md5 = EXCLUDED.caption_md5, attempts = 0, last_error = '',
    next_attempt_at = EXCLUDED.next_attempt_at
WHERE a.caption_md5 <> EXCLUDED.caption_md5
"""

DROP_ANALYSES = "DELETE FROM creator.post_analyses WHERE post_id = ANY($1::text[])"

PENDING_OF_POSTS = """
SELECT a.post_id, p.caption FROM creator.post_analyses a JOIN creator.posts p ON p.instagram_id = a.post_id
 WHERE a.post_id = ANY($1::text[]) AND a.state = 'pending'
"""

ENQUEUE_OUTBOX = """
INSERT INTO creator.media_outbox AS o (creator_id, source_url, kind, priority, owner)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (source_url, kind) DO UPDATE SET priority = GREATEST(o.priority, EXCLUDED.priority), next_attempt_at = now()
"""

# The profile row with its follower history for the authenticity score's follower-jump signal: the newest snapshots of
# the last 90 days (at most one per refresh), oldest first. One statement, so a render costs no extra round trip.
LOAD_PROFILE = """
SELECT c.*, ARRAY(
    SELECT followers FROM (
        SELECT s.followers, s.captured_at, s.id FROM creator.profile_snapshots s
         WHERE s.creator_id = c.id AND s.captured_at >= clock_timestamp() - interval '90 days'
         ORDER BY s.captured_at DESC, s.id DESC LIMIT 200) newest
     ORDER BY captured_at, id) AS follower_history
  FROM creator.creators c WHERE c.id = $1
"""

# The images still unsettled (neither mirrored nor failed for good) of the most recently fetched creators whose
# report shows pending media: what the media settler asks the CDN about.
UNSETTLED_MEDIA = """
SELECT c.id AS creator_id, u.url
  FROM (SELECT id, avatar_url, recent_post_ids FROM creator.creators
         WHERE media_pending AND report IS NOT NULL AND fetched_at > now() - make_interval(secs => $2)
         ORDER BY fetched_at DESC LIMIT $1) c
  CROSS JOIN LATERAL (
      SELECT c.avatar_url AS url WHERE c.avatar_url <> ''
      UNION
      SELECT p.image_url FROM creator.posts p WHERE p.instagram_id = ANY(c.recent_post_ids) AND p.image_url <> ''
      UNION
      SELECT unnest(p.carousel_urls) FROM creator.posts p WHERE p.instagram_id = ANY(c.recent_post_ids)
  ) u
 WHERE NOT EXISTS (SELECT 1 FROM creator.media m WHERE m.source_url = u.url AND m.state IN (2, 3))
"""

LOAD_POSTS = """
SELECT p.*, a.state AS analysis_state, a.status, a.sentiment, a.sentiment_score, a.language, a.language_confidence,
       a.category, a.category_score, a.top_categories, a.sentiment_confidence, a.sentiment_skipped,
       a.category_skipped
  FROM creator.posts p LEFT JOIN creator.post_analyses a ON a.post_id = p.instagram_id
 WHERE p.instagram_id = ANY($1::text[])
"""

LOAD_MEDIA = "SELECT source_url, state, renditions FROM creator.media WHERE source_url = ANY($1::text[])"

SAVE_MEDIA = """
INSERT INTO creator.media (source_url, state, renditions, checked_at) VALUES ($1, $2, $3::jsonb, now())
ON CONFLICT (source_url) DO UPDATE SET state = EXCLUDED.state, renditions = EXCLUDED.renditions, checked_at = now()
"""

SAVE_REPORT = """
UPDATE creator.creators SET report = $2, analysis_pending = $3, media_pending = $4, dominant_category = $5,
       mean_engagement_rate = $6, engagement_posts_considered = $7, engagement_absent_reason = $8
 WHERE id = $1
"""


@dataclass(frozen=True, slots=True)
class OpenedReport:
    creator_id: int
    report: bytes
    fetched_at: datetime
    post_limit: int
    recent_posts: int
    posts_count: int
    analysis_pending: bool
    media_pending: bool
    unlocked_at: datetime


@dataclass(frozen=True, slots=True)
class Freshness:
    creator_id: int
    fetched_at: datetime
    post_limit: int
    recent_posts: int
    posts_count: int
    ready: bool


@dataclass(frozen=True, slots=True)
class SavedFetch:
    creator_id: int
    fetched_at: datetime
    # The captions still waiting for their analysis.
    pending: list[DueAnalysis]
    # The biography is not embedded as it now reads.
    bio_due: bool = False


SAVE_ATTEMPTS = 3


def covers(post_limit: int, recent_posts: int, posts_count: int, wanted: int) -> bool:
    """Whether a stored fetch holds the `wanted` most recent posts (or every post the account has)."""
    return post_limit >= wanted or recent_posts >= min(wanted, posts_count)


async def open_report(conn: asyncpg.Connection, user_id: str, username: str) -> OpenedReport | None:
    """The rendered report of a creator, unlocking it for the user; None when nothing is stored."""
    row = await conn.fetchrow(OPEN_REPORT, user_id, username)
    return None if row is None else OpenedReport(**dict(row))


async def freshness(conn: asyncpg.Connection, username: str) -> Freshness | None:
    row = await conn.fetchrow(FRESHNESS, username)
    return None if row is None else Freshness(**{k: row[k] for k in Freshness.__slots__})


async def ping(conn: asyncpg.Connection) -> None:
    """One round trip: the database answers on this connection."""
    await conn.fetchval(PING)


async def try_lock_fetch(conn: asyncpg.Connection, username: str) -> bool:
    """Takes the cross-replica fetch lock of `username` on this session, if no other session holds it."""
    return bool(await conn.fetchval(TRY_LOCK_FETCH, FETCH_LOCK_NAMESPACE, username))


async def unlock_fetch(conn: asyncpg.Connection, username: str) -> None:
    await conn.execute(UNLOCK_FETCH, FETCH_LOCK_NAMESPACE, username)


async def save_fetch(
    conn: asyncpg.Connection, fetch: ProfileFetch, post_limit: int, jobs: Sequence[JobPlan], analysis_lease_s: float
) -> SavedFetch:
    """Stores a fetch: profile, snapshot, posts, pending analyses and CDN outbox rows, in one transaction."""
    for attempt in range(SAVE_ATTEMPTS):
        try:
            return await _save_fetch_once(conn, fetch, post_limit, jobs, analysis_lease_s)
        except asyncpg.DeadlockDetectedError:
            # The background components settle analysis and outbox rows without waiting for the ones a refresh holds
            # (backlog.py), so they cannot deadlock with this transaction; should another writer ever do so,
            # PostgreSQL rolled this transaction back whole, and it can simply run again.
            if attempt == SAVE_ATTEMPTS - 1:
                raise
            log.info("saving a fetch met a deadlock; saving again", extra={"username": fetch.profile.username})
    raise AssertionError("unreachable")


async def _save_fetch_once(
    conn: asyncpg.Connection, fetch: ProfileFetch, post_limit: int, jobs: Sequence[JobPlan], analysis_lease_s: float
) -> SavedFetch:
    profile = fetch.profile
    async with conn.transaction():
        row = await conn.fetchrow(
            UPSERT_CREATOR,
            profile.username,
            profile.instagram_id,
            profile.full_name,
            profile.biography,
            profile.external_url or "",
            list(profile.bio_links),
            profile.is_private,
            profile.is_verified,
            profile.is_business,
            profile.category or "",
            profile.followers,
            profile.following,
            profile.posts_count,
            profile.avatar_url or "",
            fetch.source,
            [post.instagram_id for post in fetch.posts],
            post_limit,
        )
        creator_id: int = row["id"]
        fetched_at: datetime = row["fetched_at"]
        bio_due: bool = row["bio_due"]
        await conn.execute(
            INSERT_SNAPSHOT, creator_id, fetched_at, profile.followers, profile.following, profile.posts_count
        )
        if fetch.posts:
            await conn.executemany(
                UPSERT_POST,
                [
                    (
                        post.instagram_id,
                        creator_id,
                        post.shortcode,
                        post.type.value,
                        post.taken_at,
                        post.caption,
                        post.likes,
                        post.comments,
                        post.views,
                        post.is_pinned,
                        captions.is_sponsored(post.caption, post.sponsors),
                        list(post.sponsors),
                        captions.hashtags(post.caption),
                        captions.mentions(post.caption),
                        list(post.tagged_users),
                        post.location.name if post.location else "",
                        post.image_url or "",
                        [item.image_url for item in post.carousel if item.image_url],
                    )
                    for post in fetch.posts
                ],
            )
        captioned = [post for post in fetch.posts if post.caption and post.caption.strip()]
        if captioned:
            await conn.executemany(
                MARK_ANALYSIS_PENDING,
                [(post.instagram_id, creator_id, post.caption, analysis_lease_s) for post in captioned],
            )
        silent = [post.instagram_id for post in fetch.posts if not (post.caption and post.caption.strip())]
        if silent:
            await conn.execute(DROP_ANALYSES, silent)
        if jobs:
            await conn.executemany(
                ENQUEUE_OUTBOX, [(creator_id, job.source_url, job.kind, job.priority, job.owner) for job in jobs]
            )
        pending = await conn.fetch(PENDING_OF_POSTS, [post.instagram_id for post in captioned])
    due = [DueAnalysis(r["post_id"], creator_id, r["caption"]) for r in pending]
    return SavedFetch(creator_id, fetched_at, due, bio_due)


async def unsettled_media(conn: asyncpg.Connection, creators: int, window_s: float) -> dict[int, list[str]]:
    """Creator id -> its report's image URLs the CDN has not settled, for recently fetched creators."""
    found: dict[int, list[str]] = {}
    for row in await conn.fetch(UNSETTLED_MEDIA, creators, window_s):
        found.setdefault(int(row["creator_id"]), []).append(str(row["url"]))
    return found


async def load_media(conn: asyncpg.Connection, urls: Sequence[str]) -> dict[str, MediaInfo]:
    rows = await conn.fetch(LOAD_MEDIA, list(urls))
    return {row["source_url"]: _media(row) for row in rows}


async def save_media(conn: asyncpg.Connection, infos: Sequence[MediaInfo]) -> None:
    """Stores what the CDN said of each image. The rows are written in URL order (executemany is one transaction):
    the media settler, the media refresh and a search may save overlapping images at once, and writers that lock
    rows in one order cannot deadlock."""
    ordered = {info.source_url: info for info in sorted(infos, key=lambda info: info.source_url)}
    if ordered:
        await conn.executemany(
            SAVE_MEDIA,
            [
                (
                    info.source_url,
                    info.state,
                    json.dumps([[r.width, r.height, r.format, r.url] for r in info.renditions]),
                )
                for info in ordered.values()
            ],
        )


async def load_posts(conn: asyncpg.Connection, post_ids: Sequence[str], followers: int) -> list[StoredPost]:
    rows = await conn.fetch(LOAD_POSTS, list(post_ids))
    return [stored_post(row, followers) for row in rows]


@dataclass(frozen=True, slots=True)
class ReportRecords:
    """What a creator's report is rendered from: the profile, the posts of its latest fetch (in no particular order)
    and its follower counts of the last 90 days, oldest first."""

    profile: StoredProfile
    posts: list[StoredPost]
    follower_history: list[int]


async def load_report_records(conn: asyncpg.Connection, creator_id: int) -> ReportRecords:
    row = await conn.fetchrow(LOAD_PROFILE, creator_id)
    profile = stored_profile(row)
    posts = await load_posts(conn, row["recent_post_ids"], profile.followers)
    return ReportRecords(profile, posts, [int(f) for f in row["follower_history"]])


async def save_report(conn: asyncpg.Connection, creator_id: int, rendered: RenderedReport) -> None:
    """Stores a rendered report and the figures the unlocked list shows on its creator's row."""
    await conn.execute(
        SAVE_REPORT,
        creator_id,
        rendered.report,
        rendered.analysis_pending,
        rendered.media_pending,
        rendered.dominant_category,
        rendered.mean_engagement_rate,
        rendered.engagement_posts_considered,
        rendered.engagement_absent_reason,
    )


def stored_profile(row: asyncpg.Record) -> StoredProfile:
    return StoredProfile(
        creator_id=row["id"],
        instagram_id=row["instagram_id"],
        username=row["username"],
        full_name=row["full_name"],
        biography=row["biography"],
        external_url=row["external_url"],
        bio_links=tuple(row["bio_links"]),
        is_private=row["is_private"],
        is_verified=row["is_verified"],
        is_business=row["is_business"],
        category=row["category"],
        followers=row["followers"],
        following=row["following"],
        posts_count=row["posts_count"],
        avatar_url=row["avatar_url"],
        fetched_at=row["fetched_at"],
    )


def stored_post(row: asyncpg.Record, followers: int) -> StoredPost:
    analysis = None
    if row["analysis_state"] == "done":
        analysis = CaptionAnalysis(
            status=row["status"],
            sentiment=row["sentiment"],
            sentiment_score=row["sentiment_score"],
            language=row["language"],
            language_confidence=row["language_confidence"],
            category=row["category"],
            category_score=row["category_score"],
            top_categories=tuple((str(label), float(score)) for label, score in json.loads(row["top_categories"])),
            sentiment_confidence=row["sentiment_confidence"],
            sentiment_skipped=row["sentiment_skipped"],
            category_skipped=row["category_skipped"],
        )
    return StoredPost(
        instagram_id=row["instagram_id"],
        shortcode=row["shortcode"],
        type=row["type"],
        taken_at=row["taken_at"],
        caption=row["caption"],
        likes=row["likes"],
        comments=row["comments"],
        views=row["views"],
        is_pinned=row["is_pinned"],
        is_sponsored=row["is_sponsored"],
        hashtags=tuple(row["hashtags"]),
        mentions=tuple(row["mentions"]),
        tagged_users=tuple(row["tagged_users"]),
        location_name=row["location_name"],
        image_url=row["image_url"],
        carousel_urls=tuple(row["carousel_urls"]),
        analysis=analysis,
        followers=followers,
    )


def _media(row: asyncpg.Record) -> MediaInfo:
    renditions = tuple(Rendition(int(w), int(h), str(f), str(u)) for w, h, f, u in json.loads(row["renditions"]))
    return MediaInfo(row["source_url"], row["state"], renditions)
