"""The durable backlog: captions waiting for their analysis and CDN jobs waiting to be enqueued (the outbox).

Both are claimed with a lease (`next_attempt_at` pushed forward, FOR UPDATE SKIP LOCKED), so replicas never work on
the same row at once and a crashed worker's rows come back when the lease ends. A failure backs off exponentially.

The background components' settling (complete, postpone, delete) never waits for a row lock either: a row locked by
someone else is being rewritten by a refresh that is saving the same creator (store.save_fetch upserts its analyses
and outbox rows in one transaction), and that refresh supersedes the settlement: it re-arms the row, and the row is
claimed again. A multi-row settle that waited instead would hold the rows it had already updated while the refresh
waited for them: a deadlock, and PostgreSQL would abort one side of it (the search, when its save ran out of
attempts). A search completing the analyses it saved itself may wait (`skip_locked=False`, one statement per row
instead of two): it holds its creator's fetch lock, so no save of that creator runs, and the settles it can wait for
never wait themselves, so no cycle can form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.creator.analytics import CaptionAnalysis
from services.creator.embedding_store import vector_text
from services.creator.media import JobPlan

CLAIM_ANALYSES = """
UPDATE creator.post_analyses a SET attempts = a.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
  FROM creator.posts p
 WHERE p.instagram_id = a.post_id
   AND a.post_id IN (SELECT post_id FROM creator.post_analyses
                      WHERE state = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING a.post_id, a.creator_id, p.caption
"""

COMPLETE_ANALYSIS_SET = """
UPDATE creator.post_analyses SET state = 'done', last_error = '', status = $3, sentiment = $4, sentiment_score = $5,
       language = $6, language_confidence = $7, category = $8, category_score = $9, top_categories = $10::jsonb,
       sentiment_confidence = $11, sentiment_skipped = $12, category_skipped = $13, embedding = $14::text::vector,
       analysed_at = now()
"""
COMPLETE_ANALYSIS = COMPLETE_ANALYSIS_SET + " WHERE post_id = $1 AND caption_md5 = md5($2)"
COMPLETE_ANALYSIS_UNLESS_LOCKED = (
    COMPLETE_ANALYSIS_SET
    + """
 WHERE post_id = (SELECT post_id FROM creator.post_analyses
                   WHERE post_id = $1 AND caption_md5 = md5($2) FOR UPDATE SKIP LOCKED)
"""
)

POSTPONE_ANALYSES = """
UPDATE creator.post_analyses SET last_error = $2,
       next_attempt_at = now() + make_interval(secs => LEAST($3::float8, power(2, LEAST(attempts, 20)) * 0.5))
 WHERE post_id IN (SELECT post_id FROM creator.post_analyses
                    WHERE post_id = ANY($1::text[]) AND state = 'pending' FOR UPDATE SKIP LOCKED)
"""

CLAIM_OUTBOX = """
UPDATE creator.media_outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
 WHERE o.id IN (SELECT id FROM creator.media_outbox
                 WHERE next_attempt_at <= now() AND ($3::bigint IS NULL OR creator_id = $3)
                 ORDER BY priority DESC, id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING o.id, o.source_url, o.kind, o.priority, o.owner
"""

DELETE_OUTBOX = """
DELETE FROM creator.media_outbox
 WHERE id IN (SELECT id FROM creator.media_outbox WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED)
"""

POSTPONE_OUTBOX = """
UPDATE creator.media_outbox SET last_error = $2,
       next_attempt_at = now() + make_interval(secs => LEAST($3::float8, power(2, LEAST(attempts, 20)) * 0.5))
 WHERE id IN (SELECT id FROM creator.media_outbox WHERE id = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED)
"""

BACKLOG_SIZES = """
SELECT (SELECT count(*) FROM creator.post_analyses WHERE state = 'pending') AS analyses,
       (SELECT count(*) FROM creator.media_outbox) AS outbox
"""


@dataclass(frozen=True, slots=True)
class DueAnalysis:
    post_id: str
    creator_id: int
    caption: str


@dataclass(frozen=True, slots=True)
class OutboxJob:
    id: int
    job: JobPlan


async def claim_analyses(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[DueAnalysis]:
    rows = await conn.fetch(CLAIM_ANALYSES, limit, lease_s)
    return [DueAnalysis(row["post_id"], row["creator_id"], row["caption"] or "") for row in rows]


async def complete_analyses(
    conn: asyncpg.Connection, done: Sequence[tuple[str, str, CaptionAnalysis]], *, skip_locked: bool
) -> None:
    """Saves results, each only if the caption it was computed from is still the post's caption; with `skip_locked`,
    only to rows no one else holds (see the module's docstring for who may wait)."""
    if not done:
        return
    await conn.executemany(
        COMPLETE_ANALYSIS_UNLESS_LOCKED if skip_locked else COMPLETE_ANALYSIS,
        [
            (
                post_id,
                caption,
                a.status,
                a.sentiment,
                a.sentiment_score,
                a.language,
                a.language_confidence,
                a.category,
                a.category_score,
                json.dumps([[label, score] for label, score in a.top_categories]),
                a.sentiment_confidence,
                a.sentiment_skipped,
                a.category_skipped,
                vector_text(a.embedding),
            )
            for post_id, caption, a in done
        ],
    )


async def postpone_analyses(conn: asyncpg.Connection, post_ids: Sequence[str], error: str, max_delay_s: float) -> None:
    await conn.execute(POSTPONE_ANALYSES, list(post_ids), error[:500], max_delay_s)


async def claim_outbox(
    conn: asyncpg.Connection, limit: int, lease_s: float, creator_id: int | None = None
) -> list[OutboxJob]:
    rows = await conn.fetch(CLAIM_OUTBOX, limit, lease_s, creator_id)
    return [
        OutboxJob(row["id"], JobPlan(row["source_url"], row["kind"], row["priority"], row["owner"])) for row in rows
    ]


async def delete_outbox(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute(DELETE_OUTBOX, list(ids))


async def postpone_outbox(conn: asyncpg.Connection, ids: Sequence[int], error: str, max_delay_s: float) -> None:
    await conn.execute(POSTPONE_OUTBOX, list(ids), error[:500], max_delay_s)


async def sizes(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(BACKLOG_SIZES)
    return int(row["analyses"]), int(row["outbox"])
