"""Discovery: SimilarCreators and Discover on a real PostgreSQL with pgvector, on creators whose embeddings the tests
set directly (owner connection) so that every similarity, and so every ranking, is known in advance."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
import grpc
import pytest
from creator.v1 import creator_pb2
from google.rpc import error_details_pb2, status_pb2

from scripts.pgcluster import free_port
from services.creator import discovery_store
from services.creator.embedding import DIMENSIONS
from services.creator.inference_client import InferenceClient
from tests.conftest import TestDatabase
from tests.creator.conftest import Creator, StartCreator, user_md

ANCHOR = "anchor.baker"


def axis(i: int) -> list[float]:
    vector = [0.0] * DIMENSIONS
    vector[i] = 1.0
    return vector


def towards_anchor(similarity: float, own_axis: int) -> list[float]:
    """A unit vector whose cosine similarity to the anchor's (axis 0) is `similarity`; each creator leans on an axis
    of its own, so creators are only as similar to each other as their shares of axis 0 make them."""
    vector = [0.0] * DIMENSIONS
    vector[0] = similarity
    vector[own_axis] = math.sqrt(1.0 - similarity * similarity)
    return vector


@dataclass
class Row:
    username: str
    embedding: list[float] | None
    followers: int = 1000
    topics: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["en"])
    rate: float | None = 0.05
    recent_post_ids: list[str] = field(default_factory=list)


INSERT = """
INSERT INTO creator.creators (username, instagram_id, full_name, source, fetched_at, post_limit, followers, topics,
                              languages, mean_engagement_rate, embedding, recent_post_ids, embedding_updated_at,
                              bio_embedded_md5)
VALUES ($1, $1, upper($1), 'sample', now(), 12, $2, $3, $4, $5, $6::text::vector, $7, now(), md5(''))
RETURNING id
"""
# The rows above count as computed (embedding_updated_at set, biography embedded), so the service's own creator
# embedder leaves the embeddings the tests set alone.


async def insert(conn: asyncpg.Connection, rows: Sequence[Row]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for row in rows:
        vector = discovery_store.vector_text(row.embedding) if row.embedding is not None else None
        ids[row.username] = await conn.fetchval(
            INSERT,
            row.username,
            row.followers,
            row.topics,
            row.languages,
            row.rate,
            vector,
            row.recent_post_ids,
        )
    return ids


@pytest.fixture
async def creator(start_creator: StartCreator) -> Creator:
    return await start_creator()


@pytest.fixture
async def owner(creator: Creator, database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """The creator schema's owner, after the service has migrated it."""
    conn = await asyncpg.connect(database.owner_dsn_for("creator"))
    try:
        yield conn
    finally:
        await conn.close()


# The anchor and twelve others at known similarities to it, with varied followers, topics, languages and rates.
SIMILARITIES = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
FIXTURE = [
    Row(ANCHOR, axis(0), followers=5000, topics=["food", "travel", "family"]),
    *(
        Row(
            f"near.{i:02d}",
            towards_anchor(s, i + 1),
            followers=1000 * (i + 1),
            topics=[["travel", "food"], ["Fitness & Health"], ["food"]][i % 3],
            languages=[["en"], ["de", "en"], ["es"]][i % 4 % 3],
            rate=None if i % 5 == 4 else 0.01 * (i + 1),
        )
        for i, s in enumerate(SIMILARITIES)
    ),
    Row("not.embedded", None, followers=2000, topics=["food"], recent_post_ids=["ne1"]),
]


@pytest.fixture
async def stored(owner: asyncpg.Connection) -> dict[str, int]:
    ids = await insert(owner, FIXTURE)
    await waiting_post(owner, ids["not.embedded"], "ne1")
    return ids


async def waiting_post(owner: asyncpg.Connection, creator_id: int, post: str) -> None:
    """A recent post whose caption still waits for its analysis (and so its embedding), not due for an hour so that
    the service's analysis worker leaves it waiting."""
    await owner.execute(
        """INSERT INTO creator.posts (instagram_id, creator_id, shortcode, type, taken_at, caption, comments,
                                      is_pinned, is_sponsored)
           VALUES ($1, $2, upper($1), 'image', now(), 'a caption', 0, false, false)""",
        post,
        creator_id,
    )
    await owner.execute(
        """INSERT INTO creator.post_analyses (post_id, creator_id, state, caption_md5, next_attempt_at)
           VALUES ($1, $2, 'pending', '', now() + interval '1 hour')""",
        post,
        creator_id,
    )


def expected(keep: object = lambda row: True) -> list[str]:
    rows = [row for row in FIXTURE[1:] if row.embedding is not None and keep(row)]  # type: ignore[operator]
    return [row.username for row in sorted(rows, key=lambda row: -row.embedding[0])]  # type: ignore[index]


async def similar(creator: Creator, username: str, page_size: int = 0) -> creator_pb2.SimilarCreatorsResponse:
    response: creator_pb2.SimilarCreatorsResponse = await creator.stub.SimilarCreators(
        creator_pb2.SimilarCreatorsRequest(username=username, page_size=page_size),
        metadata=user_md("alice"),
        timeout=10,
    )
    return response


async def discover(creator: Creator, **fields: object) -> creator_pb2.DiscoverResponse:
    response: creator_pb2.DiscoverResponse = await creator.stub.Discover(
        creator_pb2.DiscoverRequest(**fields),  # type: ignore[arg-type]
        metadata=user_md("alice"),
        timeout=10,
    )
    return response


def reason(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)  # type: ignore[arg-type]
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


@pytest.mark.usefixtures("stored")
async def test_similar_lists_the_most_similar_first_without_the_creator_itself(creator: Creator) -> None:
    response = await similar(creator, "@Anchor.Baker", page_size=5)
    assert [c.username for c in response.creators] == expected()[:5]
    assert [round(c.similarity, 4) for c in response.creators] == SIMILARITIES[:5]
    first = response.creators[0]
    assert first.profile.full_name == "NEAR.00"
    assert first.profile.followers_count == 1000
    assert list(first.profile.topics) == ["travel", "food"]
    # In the looked-up creator's order (food, travel, family), not the other's.
    assert list(first.shared_topics) == ["food", "travel"]
    assert list(response.creators[1].shared_topics) == []
    everyone = await similar(creator, ANCHOR, page_size=50)
    assert [c.username for c in everyone.creators] == expected()
    assert ANCHOR not in [c.username for c in everyone.creators]
    assert "not.embedded" not in [c.username for c in everyone.creators]


@pytest.mark.usefixtures("stored")
async def test_a_query_naming_a_stored_creator_ranks_its_lookalikes(creator: Creator) -> None:
    for query in ("@anchor.baker", "anchor.baker", "  Anchor.Baker "):
        response = await discover(creator, query=query, page_size=3)
        assert response.lookalikes_of == ANCHOR
        assert [c.username for c in response.creators] == expected()[:3]
        assert [round(c.score, 4) for c in response.creators] == SIMILARITIES[:3]


@pytest.mark.usefixtures("stored")
async def test_discover_filters_are_exact(creator: Creator) -> None:
    cases: list[tuple[dict[str, object], object]] = [
        ({"min_followers": 3000, "max_followers": 8000}, lambda r: 3000 <= r.followers <= 8000),
        # Topics match whatever their case.
        ({"categories": ["fitness & health", "Travel"]}, lambda r: {"Fitness & Health", "travel"} & set(r.topics)),
        ({"languages": ["de"]}, lambda r: "de" in r.languages),
        # Creators without a rate are left out, not counted as zero.
        ({"min_engagement_rate": 0.0}, lambda r: r.rate is not None),
        ({"min_engagement_rate": 0.06}, lambda r: r.rate is not None and r.rate >= 0.06),
        (
            {"categories": ["food"], "languages": ["en"], "min_followers": 2000},
            lambda r: "food" in r.topics and "en" in r.languages and r.followers >= 2000,
        ),
        ({"categories": ["nothing.like.it"]}, lambda r: False),
    ]
    for filters, keep in cases:
        response = await discover(creator, query="@anchor.baker", page_size=50, **filters)
        assert [c.username for c in response.creators] == expected(keep), filters
        assert response.next_page_token == ""


@pytest.mark.usefixtures("stored")
async def test_discover_pages_have_no_duplicates_or_gaps_and_the_last_has_no_token(creator: Creator) -> None:
    pages: list[list[str]] = []
    token = ""
    while True:
        response = await discover(creator, query="@anchor.baker", page_size=5, page_token=token)
        pages.append([c.username for c in response.creators])
        token = response.next_page_token
        if not token:
            break
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [name for page in pages for name in page] == expected()
    first = await discover(creator, query="@anchor.baker", page_size=5)
    with pytest.raises(grpc.aio.AioRpcError) as other_query:
        await discover(creator, query="@anchor.baker", page_size=5, min_followers=1, page_token=first.next_page_token)
    assert other_query.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in (other_query.value.details() or "")


async def test_discover_pages_stop_at_the_best_200_matches(creator: Creator, owner: asyncpg.Connection) -> None:
    rows = [Row(ANCHOR, axis(0))]
    rows += [Row(f"many.{i:03d}", towards_anchor(0.99 - i * 0.004, 1 + i % 300)) for i in range(230)]
    await insert(owner, rows)
    seen: list[str] = []
    token = ""
    while True:
        response = await discover(creator, query="@anchor.baker", page_size=50, page_token=token)
        seen += [c.username for c in response.creators]
        token = response.next_page_token
        if not token:
            break
    assert seen == [f"many.{i:03d}" for i in range(discovery_store.MAX_RANKED)]


async def test_matching_posts_are_the_recent_captions_closest_to_the_query(
    creator: Creator, owner: asyncpg.Connection
) -> None:
    posts = [("p1", 0.2), ("p2", 0.9), ("p3", 0.5), ("p4", 0.7), ("old", 0.99), ("none", None)]
    ids = await insert(
        owner,
        [
            Row(ANCHOR, axis(0)),
            Row("poster", towards_anchor(0.8, 1), recent_post_ids=["p1", "p2", "p3", "p4", "none"]),
        ],
    )
    for n, (post, similarity) in enumerate(posts):
        await owner.execute(
            """INSERT INTO creator.posts (instagram_id, creator_id, shortcode, type, taken_at, caption, comments,
                                          is_pinned, is_sponsored)
               VALUES ($1, $2, 'S' || $1, 'image', now() - make_interval(days => $3), 'caption ' || $1, 0,
                       false, false)""",
            post,
            ids["poster"],
            n,
        )
        vector = discovery_store.vector_text(towards_anchor(similarity, 10 + n)) if similarity is not None else None
        await owner.execute(
            """INSERT INTO creator.post_analyses (post_id, creator_id, state, caption_md5, embedding)
               VALUES ($1, $2, 'done', '', $3::text::vector)""",
            post,
            ids["poster"],
            vector,
        )
    response = await discover(creator, query="@anchor.baker")
    [found] = response.creators
    assert [(p.shortcode, p.caption, round(p.similarity, 4)) for p in found.matching_posts] == [
        ("Sp2", "caption p2", 0.9),
        ("Sp4", "caption p4", 0.7),
        ("Sp3", "caption p3", 0.5),
    ]


@pytest.mark.usefixtures("stored")
async def test_a_creator_without_an_embedding_answers_embedding_pending(creator: Creator) -> None:
    for call in (similar(creator, "not.embedded"), discover(creator, query="@not.embedded")):
        with pytest.raises(grpc.aio.AioRpcError) as pending:
            await call
        assert pending.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(pending.value) == "EMBEDDING_PENDING"
        assert "not embedded yet" in (pending.value.details() or "")


async def test_a_creator_with_no_text_at_all_is_a_plain_failed_precondition_and_one_awaiting_analysis_is_pending(
    creator: Creator, owner: asyncpg.Connection
) -> None:
    ids = await insert(owner, [Row("silent.sid", None), Row("waiting.wes", None, recent_post_ids=["w1"])])
    # Both were computed from what they had; only the second still has a caption waiting for its analysis.
    await waiting_post(owner, ids["waiting.wes"], "w1")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await similar(creator, "silent.sid")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(refused.value) == "FAILED_PRECONDITION"
    assert "no biography or captions" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as pending:
        await similar(creator, "waiting.wes")
    assert reason(pending.value) == "EMBEDDING_PENDING"


@pytest.mark.usefixtures("stored")
async def test_an_unknown_creator_is_not_found(creator: Creator) -> None:
    for call in (similar(creator, "nobody.stored"), discover(creator, query="@nobody.stored")):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert "search it first" in (missing.value.details() or "")


@pytest.mark.usefixtures("stored")
async def test_bad_arguments_are_refused_with_a_message_naming_the_field(creator: Creator) -> None:
    cases: list[tuple[object, str]] = [
        (similar(creator, "two..dots"), "username"),
        (similar(creator, ANCHOR, page_size=51), "page_size"),
        (discover(creator, query="   "), "query"),
        (discover(creator, query="x" * 201), "query"),
        (discover(creator, query="@anchor.baker", page_size=51), "page_size"),
        (discover(creator, query="@anchor.baker", min_followers=10, max_followers=5), "min_followers"),
        (discover(creator, query="@anchor.baker", min_followers=-1), "min_followers"),
        (discover(creator, query="@anchor.baker", min_engagement_rate=-0.1), "min_engagement_rate"),
        (discover(creator, query="@anchor.baker", min_engagement_rate=math.nan), "min_engagement_rate"),
        (discover(creator, query="@anchor.baker", categories=[""]), "categories"),
        (discover(creator, query="@anchor.baker", languages=["x"] * 21), "languages"),
        (discover(creator, query="@anchor.baker", page_token="not-a-token"), "page_token"),
        (discover(creator, query="@two..dots"), "username"),
    ]
    for call, field_name in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call  # type: ignore[misc]
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field_name
        assert field_name in (refused.value.details() or ""), refused.value.details()


@pytest.mark.usefixtures("stored")
async def test_discovery_needs_a_caller(creator: Creator) -> None:
    for call in (
        creator.stub.SimilarCreators(creator_pb2.SimilarCreatorsRequest(username=ANCHOR), timeout=10),
        creator.stub.Discover(creator_pb2.DiscoverRequest(query="@anchor.baker"), timeout=10),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def scattered(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    vectors = []
    for _ in range(n):
        raw = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
        raw[0] += 6.0  # all fairly close to the anchor (axis 0)
        norm = math.sqrt(sum(x * x for x in raw))
        vectors.append([x / norm for x in raw])
    return vectors


CROWD = 3000


@pytest.fixture
async def crowd(owner: asyncpg.Connection) -> None:
    """3,000 creators near the anchor in English (enough rows for the planner to prefer the index) and five far from it
    in Icelandic: a filter on Icelandic passes none of the rows an index search of the anchor's neighbourhood finds
    first. The index is rebuilt from its own definition after the load, which is faster than growing it row by row."""
    rows = [Row(ANCHOR, axis(0))]
    rows += [Row(f"crowd.{i:04d}", v) for i, v in enumerate(scattered(CROWD, 7))]
    rows += [Row(f"far.{i}", towards_anchor(-0.5 + 0.1 * i, 300 + i), languages=["is"]) for i in range(5)]
    definition = await owner.fetchval("SELECT pg_get_indexdef('creator.creators_embedding_hnsw'::regclass)")
    await owner.execute("DROP INDEX creator.creators_embedding_hnsw")
    await owner.executemany(
        """INSERT INTO creator.creators (username, instagram_id, source, fetched_at, post_limit, languages, embedding,
                                         embedding_updated_at, bio_embedded_md5)
           VALUES ($1, $1, 'sample', now(), 12, $2, $3::text::vector, now(), md5(''))""",
        [(r.username, r.languages, discovery_store.vector_text(r.embedding or [])) for r in rows],
    )
    await owner.execute(definition)
    await owner.execute("ANALYZE creator.creators")


@pytest.mark.usefixtures("crowd")
async def test_the_ranking_uses_the_hnsw_index(owner: asyncpg.Connection) -> None:
    args: tuple[object, ...] = (discovery_store.vector_text(axis(0)), None, None, None, [], [], None, 10)
    async with owner.transaction():
        await owner.execute("SET LOCAL search_path TO creator, extensions")
        plan = "\n".join(row[0] for row in await owner.fetch(f"EXPLAIN {discovery_store.RANK_BY_INDEX}", *args))
    assert "Index Scan using creators_embedding_hnsw" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.usefixtures("crowd")
async def test_a_selective_filter_still_gets_every_match_without_an_iterative_scan(
    owner: asyncpg.Connection, database: TestDatabase
) -> None:
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        for iterative in (False, True):
            ranked = await discovery_store.rank(
                conn,
                discovery_store.vector_text(axis(0)),
                discovery_store.MAX_RANKED,
                discovery_store.Filters(languages=("is",)),
                None,
                iterative_scan=iterative,
            )
            names = await conn.fetch(
                "SELECT username FROM creator.creators WHERE id = ANY($1::bigint[])", [r.creator_id for r in ranked]
            )
            assert len(ranked) == 5
            assert sorted(row[0] for row in names) == [f"far.{i}" for i in range(5)]
            assert [round(r.similarity, 4) for r in ranked] == [-0.1, -0.2, -0.3, -0.4, -0.5]
    finally:
        await conn.close()


@pytest.mark.usefixtures("creator")
async def test_the_local_pgvector_is_recognised_as_offering_the_iterative_scan(database: TestDatabase) -> None:
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        assert await discovery_store.iterative_scan_available(conn)
    finally:
        await conn.close()


async def test_a_query_in_words_ranks_creators_by_meaning_with_its_closest_posts(
    creator: Creator, owner: asyncpg.Connection, inference_addr: str
) -> None:
    texts = {
        "sourdough.sam": "Home baking: sourdough loaves, starters and crusty bread from my kitchen",
        "trail.tim": "Mountain trail running, ultramarathons and alpine races",
        "code.cara": "Python programming tutorials and software engineering tips",
    }
    client = InferenceClient(inference_addr, 30.0)
    try:
        vectors = await client.embed_texts(list(texts.values()))
    finally:
        await client.close()
    await insert(owner, [Row(name, vector) for name, vector in zip(texts, vectors, strict=True)])
    response = await discover(creator, query="baking bread with a sourdough starter")
    assert response.lookalikes_of == ""
    assert response.creators[0].username == "sourdough.sam"
    scores = [c.score for c in response.creators]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.5 > scores[-1]
    with pytest.raises(grpc.aio.AioRpcError) as wordless:
        await discover(creator, query="!!! ???")
    assert wordless.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_query_in_words_is_unavailable_while_inference_is_down(start_creator: StartCreator) -> None:
    creator = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{free_port()}", CREATOR_INFERENCE_DEADLINE_S="1")
    with pytest.raises(grpc.aio.AioRpcError) as down:
        await discover(creator, query="home baking")
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry" in (down.value.details() or "")


async def ranked_names(conn: asyncpg.Connection, ranked: Sequence[discovery_store.Ranked]) -> list[str]:
    rows = await conn.fetch(
        "SELECT id, username FROM creator.creators WHERE id = ANY($1::bigint[])", [r.creator_id for r in ranked]
    )
    names = {row["id"]: row["username"] for row in rows}
    return [names[r.creator_id] for r in ranked]


@pytest.mark.usefixtures("crowd")
async def test_a_ranking_cut_at_any_page_is_a_prefix_of_the_full_ranking(database: TestDatabase) -> None:
    conn = await asyncpg.connect(database.dsn_for("creator"))
    query = discovery_store.vector_text(scattered(1, 11)[0])
    try:
        for filters, exact in ((discovery_store.Filters(), False), (discovery_store.Filters(languages=("en",)), True)):
            assert await discovery_store.ranks_exactly(conn, filters, None) == exact
            ef = discovery_store.DISCOVER_EF_SEARCH
            full = await discovery_store.rank(conn, query, discovery_store.MAX_RANKED, filters, None, True, ef)
            assert len(full) == discovery_store.MAX_RANKED
            for limit in (1, 6, 11, 51, 101, 199):
                cut = await discovery_store.rank(conn, query, limit, filters, None, True, ef)
                assert cut == full[:limit], (filters, limit)
    finally:
        await conn.close()


@pytest.mark.usefixtures("crowd")
async def test_discover_pages_ranked_page_by_page_concatenate_to_one_ranking(
    creator: Creator, database: TestDatabase
) -> None:
    seen: list[str] = []
    token = ""
    while True:
        response = await discover(creator, query="@anchor.baker", page_size=7, page_token=token)
        seen += [c.username for c in response.creators]
        token = response.next_page_token
        if not token:
            break
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        anchor = await discovery_store.anchor(conn, ANCHOR)
        assert anchor is not None and anchor.embedding is not None
        full = await discovery_store.rank(
            conn,
            anchor.embedding,
            discovery_store.MAX_RANKED,
            discovery_store.Filters(),
            anchor.creator_id,
            True,
            discovery_store.DISCOVER_EF_SEARCH,
        )
        assert seen == await ranked_names(conn, full)
    finally:
        await conn.close()


@pytest.mark.usefixtures("crowd")
async def test_a_selective_filter_is_ranked_exactly_and_completely(database: TestDatabase) -> None:
    """Every 20th crowd creator in German: 150 pass, fewer than EXACT_BELOW, so the answer is the exact order of all
    of them, topics matched whatever their case."""
    conn = await asyncpg.connect(database.dsn_for("creator"))
    query = scattered(1, 13)[0]
    try:
        await conn.execute(
            """UPDATE creator.creators SET languages = '{de}', topics = '{"Fitness & Health"}'
                WHERE username LIKE 'crowd.%' AND substr(username, 7)::int % 20 = 0"""
        )
        filters = discovery_store.Filters(languages=("de",), topics=("fitness & health",))
        assert await discovery_store.passing_fewer_than(conn, filters, None, discovery_store.EXACT_BELOW)
        ranked = await discovery_store.rank(conn, discovery_store.vector_text(query), 200, filters, None, True)
        rows = await conn.fetch(
            "SELECT username, embedding <=> $1::text::vector AS d FROM creator.creators WHERE 'de' = ANY(languages)",
            discovery_store.vector_text(query),
        )
        exact = [row["username"] for row in sorted(rows, key=lambda row: (row["d"], row["username"]))]
        assert len(exact) == CROWD // 20
        assert await ranked_names(conn, ranked) == exact
    finally:
        await conn.close()


@pytest.mark.usefixtures("crowd")
async def test_the_filters_count_uses_their_indexes_topics_in_lower_case(owner: asyncpg.Connection) -> None:
    await owner.execute("ANALYZE creator.creators")
    plans: dict[str, str] = {}
    cases = {
        "creators_topics_lower": (None, None, None, ["fitness & health"], [], None),
        "creators_languages": (None, None, None, [], ["is"], None),
        "creators_followers": (None, 10_000_000, None, [], [], None),
        "creators_mean_engagement_rate": (None, None, None, [], [], 0.9),
    }
    async with owner.transaction():
        await owner.execute("SET LOCAL search_path TO creator, extensions")
        await owner.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        for index, filters in cases.items():
            rows = await owner.fetch(f"EXPLAIN {discovery_store.COUNT_PASSING}", *filters, discovery_store.EXACT_BELOW)
            plans[index] = "\n".join(row[0] for row in rows)
    for index, plan in plans.items():
        assert index in plan, plan


@pytest.mark.usefixtures("crowd")
async def test_later_pages_keep_the_path_the_first_page_chose_when_the_data_no_longer_would(
    creator: Creator, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page of an English-only search ranks exactly (3,000 pass); the later pages keep to that ranking even
    once a fresh request would take the index (here: the bound lowered under it)."""
    seen: list[str] = []
    token = ""
    while True:
        response = await discover(creator, query="@anchor.baker", page_size=25, languages=["en"], page_token=token)
        seen += [c.username for c in response.creators]
        token = response.next_page_token
        monkeypatch.setattr(discovery_store, "EXACT_BELOW", 10)
        if not token:
            break
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        anchor = await discovery_store.anchor(conn, ANCHOR)
        assert anchor is not None and anchor.embedding is not None
        filters = discovery_store.Filters(languages=("en",))
        exact = await discovery_store.rank(
            conn, anchor.embedding, discovery_store.MAX_RANKED, filters, anchor.creator_id, True, exact=True
        )
        by_index = await discovery_store.rank(
            conn, anchor.embedding, discovery_store.MAX_RANKED, filters, anchor.creator_id, True, 100, exact=False
        )
        assert exact != by_index  # else this test could not tell the paths apart
        assert seen == await ranked_names(conn, exact)
    finally:
        await conn.close()
