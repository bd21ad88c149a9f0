"""PostgreSQL adapter for embeddings (schema `creator`, pgvector): the creators whose biography or embedding is due,
the texts a creator's embedding is computed from, and where biography and creator embeddings are saved.

Vectors cross this boundary as lists of floats and travel to and from PostgreSQL as pgvector's text form
(`[0.1,-0.2,...]`, cast with `::text::vector`), which needs no codec on the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.creator.embedding import CreatorEmbedding

# The creators_embedding_due index (migration 0007) holds exactly these rows.
DUE_CREATORS = """
SELECT id, biography, bio_embedded_md5 <> md5(biography) AS bio_due
  FROM creator.creators
 WHERE bio_embedded_md5 <> md5(biography) OR embedding_updated_at IS NULL
 ORDER BY id LIMIT $1
"""

# Saved only if the biography is still the one embedded; a change meanwhile leaves the row due.
SAVE_BIO_EMBEDDING = """
UPDATE creator.creators SET bio_embedding = $2::text::vector, bio_embedded_md5 = md5($3)
 WHERE id = $1 AND biography = $3
"""

# The biography's embedding and the completed analyses of the `$2` newest posts of the latest fetch (the report's
# summary window, ordered as reports.newest_first orders them); a creator without such posts gives one row of NULLs.
CREATOR_TEXTS = """
SELECT c.bio_embedding::text AS bio, a.status, a.language, a.category, a.embedding::text AS embedding
  FROM creator.creators c
  LEFT JOIN LATERAL (
      SELECT p.instagram_id FROM creator.posts p
       WHERE p.instagram_id = ANY(c.recent_post_ids)
       ORDER BY p.taken_at DESC, p.instagram_id DESC LIMIT $2) p ON true
  LEFT JOIN creator.post_analyses a ON a.post_id = p.instagram_id AND a.state = 'done'
 WHERE c.id = $1
"""

SAVE_CREATOR_EMBEDDING = """
UPDATE creator.creators SET embedding = $2::text::vector, embedding_texts = $3, languages = $4, topics = $5,
       embedding_updated_at = clock_timestamp()
 WHERE id = $1
"""


@dataclass(frozen=True, slots=True)
class DueCreator:
    creator_id: int
    biography: str
    bio_due: bool  # the biography needs embedding (else only the creator's embedding was never computed)


@dataclass(frozen=True, slots=True)
class AnalysedCaption:
    status: str  # "analyzed" or "no_text"
    language: str
    category: str  # "" when the category model skipped the caption
    embedding: list[float] | None


@dataclass(frozen=True, slots=True)
class CreatorTexts:
    bio: list[float] | None
    captions: list[AnalysedCaption]  # the window's posts with a completed analysis


def vector_text(values: Sequence[float] | None) -> str | None:
    """pgvector's text form of `values` (float32 precision, exactly round-tripped); None (NULL) when empty."""
    if values is None or len(values) == 0:
        return None
    return "[" + ",".join(format(float(value), ".9g") for value in values) + "]"


def parse_vector(text: str | None) -> list[float] | None:
    if not text:
        return None
    return [float(value) for value in text.strip("[]").split(",")]


async def due_creators(conn: asyncpg.Connection, limit: int) -> list[DueCreator]:
    rows = await conn.fetch(DUE_CREATORS, limit)
    return [DueCreator(row["id"], row["biography"], row["bio_due"]) for row in rows]


async def save_bio_embedding(
    conn: asyncpg.Connection, creator_id: int, biography: str, vector: Sequence[float] | None
) -> None:
    await conn.execute(SAVE_BIO_EMBEDDING, creator_id, vector_text(vector), biography)


async def creator_texts(conn: asyncpg.Connection, creator_id: int, window: int) -> CreatorTexts | None:
    """What the creator's embedding is computed from; None when the creator is not stored."""
    rows = await conn.fetch(CREATOR_TEXTS, creator_id, window)
    if not rows:
        return None
    captions = [
        AnalysedCaption(row["status"], row["language"], row["category"], parse_vector(row["embedding"]))
        for row in rows
        if row["status"] is not None
    ]
    return CreatorTexts(parse_vector(rows[0]["bio"]), captions)


async def save_creator_embedding(
    conn: asyncpg.Connection,
    creator_id: int,
    computed: CreatorEmbedding,
    languages: Sequence[str],
    topics: Sequence[str],
) -> None:
    vector = None if computed.vector is None else computed.vector.tolist()
    await conn.execute(
        SAVE_CREATOR_EMBEDDING, creator_id, vector_text(vector), computed.texts, list(languages), list(topics)
    )
