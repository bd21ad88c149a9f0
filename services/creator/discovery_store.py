"""PostgreSQL adapter of discovery: nearest stored creators by the cosine distance of their embeddings (pgvector), the
exact filters, and each listed creator's recent posts closest to the query.

Ranking is `ORDER BY embedding <=> query LIMIT k` on `creator.creators`, which the HNSW index
`creators_embedding_hnsw` answers. HNSW filters after the search: it finds at most `hnsw.ef_search` nearest rows and
the filters then drop some, so a selective filter can leave fewer than asked. Each ranking therefore runs in a
transaction that raises `hnsw.ef_search` for it (SET LOCAL) and, on pgvector >= 0.8, turns on its iterative scan
(`hnsw.iterative_scan`, which keeps searching until enough rows pass); when the index still returns fewer rows than
asked, the same ranking runs exactly over the rows that pass the filters. When few creators pass the filters
(ranks_exactly: the planner's estimate, then a capped count over the filters' indexes), the ranking is exact from the
start. For one path and one ef_search a ranking cut at any depth is a prefix of the deeper one, so pages ranked only
as far as they reach neither repeat nor skip a creator. Every statement runs on PostgreSQL 15 with pgvector 0.5;
vectors travel as text ('[0.1,...]').
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

# The most rows one ranking returns (Discover pages within them), and the search breadth for it: HNSW returns at most
# ef_search rows before filtering, so it must exceed what is asked with room for the rows the filters drop.
MAX_RANKED = 200
MIN_EF_SEARCH = 100
MAX_EF_SEARCH = 1000
MATCHING_POSTS = 3
ITERATIVE_SCAN_SINCE = (0, 8)
# Fewer creators than this passing the filters are ranked exactly: their distances are computed in a few ms (recall
# 1.0), where the index would scan far to find enough of them.
EXACT_BELOW = 4000
# Above this many rows passing by the planner's estimate, the filters are not counted: counting reads thousands of
# rows (tens of ms), and the index finds a page among so many quickly.
COUNT_BELOW_ESTIMATE = 4 * EXACT_BELOW
# hnsw.ef_search of every Discover page with the iterative scan: one setting for every page keeps pages prefixes of
# one ranking; the iterative scan searches on past it for deeper pages.
DISCOVER_EF_SEARCH = MIN_EF_SEARCH

# Public profile data only, the avatar as its CDN rendition once mirrored (as the other lists show it).
PROFILE_COLUMNS = """
c.id, c.username, c.full_name, c.is_verified, c.followers, c.dominant_category, c.mean_engagement_rate,
c.languages, c.topics,
COALESCE((SELECT m.renditions -> -1 ->> 3 FROM creator.media m
           WHERE m.source_url = c.avatar_url AND m.state = 2), c.avatar_url) AS avatar_url
"""

ANCHOR = """
SELECT c.id, c.embedding::text AS embedding, c.topics,
       c.embedding_updated_at IS NULL OR c.bio_embedded_md5 <> md5(c.biography)
       OR EXISTS (SELECT 1 FROM creator.post_analyses a
                   WHERE a.post_id = ANY(c.recent_post_ids) AND a.state = 'pending') AS pending
  FROM creator.creators c WHERE c.username = $1
"""

PGVECTOR_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"


def _filters(first: int) -> str:
    """The exact filters, their parameters numbered from `first`: the creator left out (or NULL), the followers range,
    topics (lower case; topics are labels like "Fitness & Health" and match whatever their case, through
    creator.lower_labels, which the GIN index of migration 0008 is on), languages, minimum rate."""
    n = [f"${first + i}" for i in range(6)]
    return f"""
c.embedding IS NOT NULL
AND ({n[0]}::bigint IS NULL OR c.id <> {n[0]})
AND ({n[1]}::bigint IS NULL OR c.followers >= {n[1]})
AND ({n[2]}::bigint IS NULL OR c.followers <= {n[2]})
AND (cardinality({n[3]}::text[]) = 0 OR creator.lower_labels(c.topics) && {n[3]}::text[])
AND (cardinality({n[4]}::text[]) = 0 OR c.languages && {n[4]}::text[])
AND ({n[5]}::float8 IS NULL OR c.mean_engagement_rate >= {n[5]})
"""


# $1 query vector, $2-$7 the filters, $8 the limit.
FILTERS = _filters(2)

# How many creators pass the filters, counted no further than $7: below EXACT_BELOW the ranking is exact. The
# filters' indexes (migration 0008) answer it with bitmap scans when few pass, and it stops early when many do.
ESTIMATE_PASSING = f"EXPLAIN (FORMAT JSON) SELECT 1 FROM creator.creators c WHERE {_filters(1)}"
COUNT_PASSING = f"SELECT count(*) FROM (SELECT 1 FROM creator.creators c WHERE {_filters(1)} LIMIT $7) s"

# Served by the HNSW index; the id breaks ties so that equal distances keep one order.
RANK_BY_INDEX = f"""
SELECT c.id, c.embedding <=> $1::text::vector AS distance
  FROM creator.creators c
 WHERE {FILTERS}
 ORDER BY c.embedding <=> $1::text::vector
 LIMIT $8
"""

# The exact ranking: the filters first (a materialised CTE, so the planner cannot turn it back into the index scan),
# then the distance of each row that passed.
RANK_EXACTLY = f"""
WITH passed AS MATERIALIZED (
    SELECT c.id, c.embedding FROM creator.creators c WHERE {FILTERS}
)
SELECT id, embedding <=> $1::text::vector AS distance FROM passed
 ORDER BY distance, id
 LIMIT $8
"""

INDEX_SCAN = "SELECT set_config('hnsw.ef_search', $1, true), set_config('enable_sort', 'off', true)"
# Custom plans for the count and the exact ranking, so that an empty filter folds away and the planner sees the
# filters' indexes (a generic plan cannot use them).
CUSTOM_PLANS = "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"
EXACT_SCAN = "SELECT set_config('enable_sort', 'on', true), set_config('plan_cache_mode', 'force_custom_plan', true)"
INDEX_SCAN_ITERATIVE = INDEX_SCAN + ", set_config('hnsw.iterative_scan', 'strict_order', true)"

PROFILES = f"SELECT {PROFILE_COLUMNS} FROM creator.creators c WHERE c.id = ANY($1::bigint[])"

# Among each creator's posts of its latest fetch, those whose caption embedding is closest to the query.
CLOSEST_POSTS = """
SELECT c.id AS creator_id, m.shortcode, m.caption, m.distance
  FROM creator.creators c
 CROSS JOIN LATERAL (
    SELECT p.shortcode, COALESCE(p.caption, '') AS caption, a.embedding <=> $1::text::vector AS distance
      FROM creator.posts p
      JOIN creator.post_analyses a ON a.post_id = p.instagram_id
     WHERE p.instagram_id = ANY(c.recent_post_ids) AND a.embedding IS NOT NULL
     ORDER BY distance, p.taken_at DESC, p.instagram_id
     LIMIT $3) m
 WHERE c.id = ANY($2::bigint[])
 ORDER BY c.id, m.distance, m.shortcode
"""


@dataclass(frozen=True, slots=True)
class Filters:
    """Exact conditions a listed creator meets; None and empty mean no condition."""

    min_followers: int | None = None
    max_followers: int | None = None
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_engagement_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A stored creator looked up by username: its embedding (as pgvector text; None while its biography or captions
    wait for their embeddings, `pending`, or for good when it has no text at all) and topics."""

    creator_id: int
    embedding: str | None
    pending: bool
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ranked:
    creator_id: int
    similarity: float


@dataclass(frozen=True, slots=True)
class Profile:
    creator_id: int
    username: str
    full_name: str
    avatar_url: str
    is_verified: bool
    followers: int
    dominant_category: str
    mean_engagement_rate: float | None
    languages: tuple[str, ...]
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClosePost:
    shortcode: str
    caption: str
    similarity: float


def vector_text(values: Sequence[float]) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{value:.8g}" for value in values) + "]"


def similarity(distance: float) -> float:
    """Cosine similarity from pgvector's cosine distance, kept in [-1, 1] against rounding."""
    return max(-1.0, min(1.0, 1.0 - distance))


async def anchor(conn: asyncpg.Connection, username: str) -> Anchor | None:
    row = await conn.fetchrow(ANCHOR, username)
    if row is None:
        return None
    return Anchor(row["id"], row["embedding"], row["pending"], tuple(row["topics"]))


async def iterative_scan_available(conn: asyncpg.Connection) -> bool:
    """Whether the installed pgvector has `hnsw.iterative_scan` (0.8 and later)."""
    version = await conn.fetchval(PGVECTOR_VERSION)
    if version is None:
        return False
    numbers = tuple(int(part) if part.isdigit() else 0 for part in str(version).split(".")[:2])
    return numbers >= ITERATIVE_SCAN_SINCE


def ef_search(limit: int) -> int:
    return max(MIN_EF_SEARCH, min(MAX_EF_SEARCH, 2 * limit))


async def passing_fewer_than(conn: asyncpg.Connection, filters: Filters, exclude: int | None, bound: int) -> bool:
    """Whether fewer than `bound` creators with an embedding pass `filters` (without `exclude`)."""
    async with conn.transaction(readonly=True):
        return await _passing_fewer_than(conn, _filter_args(filters, exclude), bound)


async def _passing_fewer_than(conn: asyncpg.Connection, filter_args: Sequence[object], bound: int) -> bool:
    await conn.execute(CUSTOM_PLANS)
    return int(await conn.fetchval(COUNT_PASSING, *filter_args, bound)) < bound


async def ranks_exactly(conn: asyncpg.Connection, filters: Filters, exclude: int | None) -> bool:
    """Whether the ranking for `filters` should be exact: fewer than EXACT_BELOW creators pass them. Counted only when
    the planner's estimate is not far above that (a count of many rows costs more than the index search)."""
    if filters == Filters():
        return False
    filter_args = _filter_args(filters, exclude)
    async with conn.transaction(readonly=True):
        await conn.execute(CUSTOM_PLANS)
        plan = json.loads(await conn.fetchval(ESTIMATE_PASSING, *filter_args))
        if plan[0]["Plan"]["Plan Rows"] >= COUNT_BELOW_ESTIMATE:
            return False
        return await _passing_fewer_than(conn, filter_args, EXACT_BELOW)


def _filter_args(filters: Filters, exclude: int | None) -> tuple[object, ...]:
    return (
        exclude,
        filters.min_followers,
        filters.max_followers,
        list(filters.topics),
        list(filters.languages),
        filters.min_engagement_rate,
    )


async def rank(
    conn: asyncpg.Connection,
    query: str,
    limit: int,
    filters: Filters,
    exclude: int | None,
    iterative_scan: bool,
    ef: int | None = None,
    exact: bool | None = None,
) -> list[Ranked]:
    """The `limit` creators with an embedding nearest to `query` (pgvector text) that pass `filters`, nearest first,
    without `exclude`: exactly when `exact` (decided by ranks_exactly when None), else by the HNSW index at
    hnsw.ef_search `ef` (default for `limit`).

    For one `ef` and one path, rankings of the same request on the same data at any `limit` are prefixes of one
    another: the index scan visits the graph in one order for one ef_search (and the iterative scan goes on in one
    order), LIMIT only stops it earlier; the exact order is total (distance, then id)."""
    if exact is None:
        exact = await ranks_exactly(conn, filters, exclude)
    args = (query, *_filter_args(filters, exclude), limit)
    async with conn.transaction(readonly=True):
        # SET LOCAL takes no parameters; set_config(..., true) is its parameterised form.
        if exact:
            await conn.execute(CUSTOM_PLANS)
            rows = await conn.fetch(RANK_EXACTLY, *args)
        else:
            # The index scan for every limit (enable_sort off): a sort over the filtered rows would rank exactly at
            # one limit and approximately at another, and pages cut from both would repeat or skip creators.
            await conn.execute(INDEX_SCAN_ITERATIVE if iterative_scan else INDEX_SCAN, str(ef or ef_search(limit)))
            rows = await conn.fetch(RANK_BY_INDEX, *args)
            if len(rows) < limit:
                await conn.execute(EXACT_SCAN)
                rows = await conn.fetch(RANK_EXACTLY, *args)
    return [Ranked(row["id"], similarity(row["distance"])) for row in rows]


async def profiles(conn: asyncpg.Connection, creator_ids: Sequence[int]) -> dict[int, Profile]:
    rows = await conn.fetch(PROFILES, list(creator_ids))
    return {
        row["id"]: Profile(
            creator_id=row["id"],
            username=row["username"],
            full_name=row["full_name"],
            avatar_url=row["avatar_url"],
            is_verified=row["is_verified"],
            followers=row["followers"],
            dominant_category=row["dominant_category"],
            mean_engagement_rate=row["mean_engagement_rate"],
            languages=tuple(row["languages"]),
            topics=tuple(row["topics"]),
        )
        for row in rows
    }


async def closest_posts(conn: asyncpg.Connection, query: str, creator_ids: Sequence[int]) -> dict[int, list[ClosePost]]:
    """Up to MATCHING_POSTS recent posts per creator whose caption embedding is closest to `query`, closest first."""
    found: dict[int, list[ClosePost]] = {creator_id: [] for creator_id in creator_ids}
    for row in await conn.fetch(CLOSEST_POSTS, query, list(creator_ids), MATCHING_POSTS):
        found[row["creator_id"]].append(ClosePost(row["shortcode"], row["caption"], similarity(row["distance"])))
    return found
