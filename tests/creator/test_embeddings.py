"""Embeddings in the creator service against real PostgreSQL and a real inference service: the inference client's
EmbedTexts call, each analysed caption's and biography's stored embedding, and each creator's embedding, languages
and topics kept to embedding.py's definitions as posts and biographies change, including rows stored before
embeddings existed."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import numpy as np
import pytest
from creator.v1 import creator_pb2

from following.migrations import discover, migrate
from scripts.pgcluster import free_port
from services.creator.embedding import CreatorEmbedding, creator_embedding, languages, topics
from services.creator.embedding_store import parse_vector, vector_text
from services.creator.inference_client import InferenceClient, InferenceUnavailable
from services.creator.server import MIGRATIONS
from tests.conftest import TestDatabase
from tests.creator.conftest import StartCreator, eventually


async def test_client_embed_texts_gives_a_unit_vector_per_text_and_none_for_letterless_ones(
    inference_addr: str,
) -> None:
    client = InferenceClient(inference_addr, deadline_s=30)
    try:
        texts = ["Sourdough with an open crumb", "🔥", *[f"caption number {i} about baking" for i in range(70)]]
        vectors = await client.embed_texts(texts)  # more than one call's worth of texts
    finally:
        await client.close()
    assert len(vectors) == len(texts)
    assert vectors[1] is None
    for vector in [vectors[0], *vectors[2:]]:
        assert vector is not None and len(vector) == 384
        assert abs(math.sqrt(sum(value * value for value in vector)) - 1.0) < 1e-4


async def test_client_embed_texts_maps_a_failed_call_to_inference_unavailable() -> None:
    client = InferenceClient(f"127.0.0.1:{free_port()}", deadline_s=1)
    try:
        with pytest.raises(InferenceUnavailable, match="EmbedTexts: UNAVAILABLE"):
            await client.embed_texts(["a caption"])
    finally:
        await client.close()


@pytest.fixture
async def db(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database.admin_dsn, server_settings={"search_path": "creator, extensions"})
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def embedder(inference_addr: str) -> AsyncIterator[InferenceClient]:
    client = InferenceClient(inference_addr, deadline_s=30)
    try:
        yield client
    finally:
        await client.close()


@dataclass(frozen=True)
class StoredEmbeddings:
    biography: str
    bio: list[float] | None
    creator: list[float] | None
    texts: int
    languages: list[str]
    topics: list[str]
    updated_at: datetime | None
    # The window's posts, newest first: (caption, analysis status or None when not done, language, category, vector).
    posts: list[tuple[str, str | None, str, str, list[float] | None]]


WINDOW_POSTS = """
SELECT p.caption, a.status, a.language, a.category, a.embedding::text AS embedding
  FROM creator.creators c JOIN creator.posts p ON p.instagram_id = ANY(c.recent_post_ids)
  LEFT JOIN creator.post_analyses a ON a.post_id = p.instagram_id AND a.state = 'done'
 WHERE c.username = $1
 ORDER BY p.taken_at DESC, p.instagram_id DESC LIMIT 12
"""


WINDOW_IDS = """
SELECT p.instagram_id FROM creator.creators c JOIN creator.posts p ON p.instagram_id = ANY(c.recent_post_ids)
 WHERE c.username = $1 AND p.caption <> '' ORDER BY p.taken_at DESC, p.instagram_id DESC LIMIT 1
"""


async def stored(db: asyncpg.Connection, username: str) -> StoredEmbeddings:
    row = await db.fetchrow(
        "SELECT biography, bio_embedding::text AS bio, embedding::text AS creator, embedding_texts, languages, topics,"
        " embedding_updated_at FROM creator.creators WHERE username = $1",
        username,
    )
    posts = [
        (r["caption"] or "", r["status"], r["language"] or "", r["category"] or "", parse_vector(r["embedding"]))
        for r in await db.fetch(WINDOW_POSTS, username)
    ]
    return StoredEmbeddings(
        row["biography"],
        parse_vector(row["bio"]),
        parse_vector(row["creator"]),
        row["embedding_texts"],
        list(row["languages"]),
        list(row["topics"]),
        row["embedding_updated_at"],
        posts,
    )


def expected_of(found: StoredEmbeddings) -> tuple[CreatorEmbedding, list[str], list[str]]:
    """What embedding.py defines for the stored rows: embedding, languages, topics."""
    analysed = [post for post in found.posts if post[1] == "analyzed"]
    return (
        creator_embedding(found.bio, [post[4] for post in analysed]),
        languages([post[2] for post in analysed]),
        topics([post[3] for post in analysed]),
    )


def assert_follows_the_definition(found: StoredEmbeddings) -> None:
    computed, expected_languages, expected_topics = expected_of(found)
    assert computed.vector is not None and found.creator is not None
    np.testing.assert_allclose(np.array(found.creator), computed.vector, atol=1e-6)
    assert found.texts == computed.texts
    assert found.languages == expected_languages and found.topics == expected_topics


def same(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    return a is not None and b is not None and bool(np.allclose(np.array(a), np.array(b), atol=1e-6))


async def test_after_a_search_every_caption_and_the_bio_are_embedded_and_the_creator_embedding_is_their_mean(
    start_creator: StartCreator, db: asyncpg.Connection, embedder: InferenceClient
) -> None:
    creator = await start_creator()
    report = await creator.search("chef.marco")
    assert report.analysis_state == creator_pb2.ANALYSIS_STATE_COMPLETE
    found = await stored(db, "chef.marco")
    captioned = [post for post in found.posts if post[0].strip()]
    assert captioned and all(post[1] is not None for post in captioned)
    for caption, status, _, _, vector in captioned:
        if status == "analyzed":
            (alone,) = await embedder.embed_texts([caption])
            assert same(vector, alone), caption  # the caption's own embedding, as EmbedTexts gives it
        else:
            assert vector is None
    (bio,) = await embedder.embed_texts([found.biography])
    assert same(found.bio, bio)
    assert_follows_the_definition(found)
    assert found.texts == 1 + sum(1 for post in captioned if post[1] == "analyzed")
    assert found.languages == ["en"] and found.topics and found.topics[0] == "Food & Drink"
    assert found.updated_at is not None


async def test_captions_the_heads_skip_as_another_language_still_embed_and_give_languages_but_no_topic(
    start_creator: StartCreator, db: asyncpg.Connection
) -> None:
    creator = await start_creator()
    await creator.search("cocina.sofia")
    found = await stored(db, "cocina.sofia")
    skipped = [post for post in found.posts if post[1] == "analyzed" and not post[3]]
    assert skipped and all(post[4] is not None for post in skipped)
    assert_follows_the_definition(found)
    assert "es" in found.languages
    assert found.topics == topics([post[3] for post in found.posts if post[1] == "analyzed"])


async def test_a_fetch_with_other_recent_posts_moves_the_creator_embedding_to_them(
    start_creator: StartCreator, db: asyncpg.Connection
) -> None:
    creator = await start_creator()
    await creator.search("wander.lena", post_limit=4)
    before = await stored(db, "wander.lena")
    assert len(before.posts) == 4
    assert_follows_the_definition(before)
    await creator.search("wander.lena", post_limit=12)  # a larger window: fetched again
    after = await stored(db, "wander.lena")
    assert len(after.posts) == 12
    assert not same(after.creator, before.creator)
    assert after.updated_at is not None and before.updated_at is not None and after.updated_at > before.updated_at
    assert_follows_the_definition(after)


async def test_an_edited_caption_is_embedded_again_and_moves_the_creator_embedding(
    start_creator: StartCreator, db: asyncpg.Connection, embedder: InferenceClient
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco")
    first = await stored(db, "chef.marco")
    newest = await db.fetchval(WINDOW_IDS, "chef.marco")
    old = "Ranked match tonight, streaming the new shooter at 9"
    (old_vector,) = await embedder.embed_texts([old])
    # As if the caption had read `old` at the last fetch (and been analysed so): the next fetch reads the real one.
    await db.execute("UPDATE creator.posts SET caption = $2 WHERE instagram_id = $1", newest, old)
    await db.execute(
        "UPDATE creator.post_analyses SET caption_md5 = md5($2), embedding = $3::text::vector WHERE post_id = $1",
        newest,
        old,
        vector_text(old_vector),
    )
    await db.execute(  # and the creator's embedding computed then (a marker here)
        "UPDATE creator.creators SET embedding = $2::text::vector WHERE username = $1",
        "chef.marco",
        vector_text(old_vector),
    )
    await creator.search("chef.marco", refresh=True)
    again = await stored(db, "chef.marco")
    assert [post[0] for post in again.posts] == [post[0] for post in first.posts]
    assert same(again.creator, first.creator)
    assert_follows_the_definition(again)


async def test_a_biography_is_embedded_again_when_it_changes_and_only_then(
    start_creator: StartCreator, db: asyncpg.Connection, embedder: InferenceClient
) -> None:
    creator = await start_creator()
    await creator.search("techwithtariq")
    first = await stored(db, "techwithtariq")
    (other,) = await embedder.embed_texts(["Sourdough bread and slow weekend baking"])
    assert other is not None
    # As if the last fetch had read another biography (and embedded it): the next fetch reads the real one again.
    await db.execute(
        "UPDATE creator.creators SET biography = $2, bio_embedding = $3::text::vector, bio_embedded_md5 = md5($2)"
        " WHERE username = $1",
        "techwithtariq",
        "Sourdough bread and slow weekend baking",
        vector_text(other),
    )
    await creator.search("techwithtariq", refresh=True)
    changed = await stored(db, "techwithtariq")
    assert changed.biography == first.biography and same(changed.bio, first.bio)
    assert_follows_the_definition(changed)
    # Unchanged biography: a refresh does not embed it again (a marker vector in its place survives).
    await db.execute(
        "UPDATE creator.creators SET bio_embedding = $2::text::vector WHERE username = $1",
        "techwithtariq",
        vector_text(other),
    )
    await creator.search("techwithtariq", refresh=True)
    kept = await stored(db, "techwithtariq")
    assert same(kept.bio, other)
    assert_follows_the_definition(kept)


async def test_a_creator_without_text_has_no_embedding(start_creator: StartCreator, db: asyncpg.Connection) -> None:
    creator = await start_creator()
    await creator.search("empty.eddie")
    found = await stored(db, "empty.eddie")
    assert found.posts == [] and found.texts == 1 and same(found.creator, found.bio)  # the biography alone
    await db.execute("UPDATE creator.creators SET biography = '🌿 ✨' WHERE username = 'empty.eddie'")

    async def recomputed() -> StoredEmbeddings | None:
        now = await stored(db, "empty.eddie")
        return now if now.texts == 0 else None

    result = await eventually(recomputed, what="the creator embedder's pass over the letterless biography")
    assert isinstance(result, StoredEmbeddings)
    assert result.bio is None and result.creator is None and result.languages == [] and result.topics == []


async def test_analyses_stored_before_embeddings_get_them_from_the_migration_without_a_search(
    start_creator: StartCreator, database: TestDatabase, db: asyncpg.Connection
) -> None:
    creator = await start_creator()
    await creator.search("wander.lena")
    # The rows as the service stored them before embeddings existed, and the schema before migration 0007.
    await creator.stop()
    await db.execute("UPDATE creator.post_analyses SET embedding = NULL")
    await db.execute(
        "UPDATE creator.creators SET bio_embedding = NULL, bio_embedded_md5 = '', embedding = NULL,"
        " embedding_texts = 0, embedding_updated_at = NULL, languages = '{}', topics = '{}'"
    )
    await db.execute("DROP INDEX creator.creators_embedding_due")
    await db.execute("DELETE FROM creator.schema_migrations WHERE version = 7")
    owner = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        applied = await migrate(owner, "creator", discover(MIGRATIONS))
    finally:
        await owner.close()
    assert applied == ["0007_embeddings.sql"]
    assert await db.fetchval("SELECT count(*) FROM creator.post_analyses WHERE state = 'pending'") > 0
    await start_creator()

    async def backfilled() -> StoredEmbeddings | None:
        now = await stored(db, "wander.lena")
        analysed = [post for post in now.posts if post[1] == "analyzed"]
        done = analysed and all(post[4] is not None for post in analysed) and now.bio is not None
        return now if done and now.texts == 1 + len(analysed) else None

    result = await eventually(backfilled, what="the backfilled caption, biography and creator embeddings")
    assert isinstance(result, StoredEmbeddings)
    assert_follows_the_definition(result)
    assert await db.fetchval("SELECT count(*) FROM creator.post_analyses WHERE state = 'pending'") == 0
