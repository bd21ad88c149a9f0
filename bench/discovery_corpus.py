"""Synthetic discovery corpus for the benchmark: creators with embeddings drawn around niche centres, loaded by COPY.

Each niche is a random unit direction in the caption encoder's space (384-d) with a few directions of its own (a random
INTRINSIC-dimensional subspace: its sub-topics and styles); a creator is its niche's centre plus a gaussian offset in
that subspace and a little isotropic noise, normalised. Sentence embeddings lie near such low-dimensional structure;
isotropic noise in all 384 dimensions instead makes every creator of a niche almost equally far from a query, which
no real corpus does and which no approximate index (nor the ranking itself) can order meaningfully. The
filter columns are drawn so that filters have varying selectivity: followers log-normal (median ~20k, 1k-20M),
engagement log-normal around 2 % (absent for a few), one or two languages (mostly English), one to three topics led by
the niche's. Rows carry only what discovery reads; the loader drops the HNSW index first and `build_index` rebuilds it
with the migration's definition, timed, which is how a bulk load is done in practice. `recall_at_k` compares the
index's answers with exact search (numpy brute force over the same float32 vectors).
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import numpy as np

from following.dbroles import EXTENSION_SCHEMA
from services.creator.embedding import DIMENSIONS
from services.inference.modelbuild.categories import LABELS

NICHES = 30
# Niches come in themes (fitness: running, lifting, yoga) and every caption shares some direction (sentence
# embeddings are not centred): niches are ~0.6 alike within a theme, ~0.25 across. Every creator leans some way
# towards a second niche (travel and food), by a Beta(1, LEAN) share: 0.2 on average, a tenth of them over 0.4.
THEMES = 6
LEAN = 4.0
# A niche's own directions, and the spread along them: a creator's cosine similarity to its niche's centre is ~0.7,
# to another niche's ~0; a little noise in every dimension on top.
INTRINSIC = 16
SPREAD = 0.25
NOISE = 0.15 / np.sqrt(DIMENSIONS)
# Languages and their shares among creators' first language; a fifth of creators write in a second one too.
LANGUAGE_SHARES = {"en": 0.55, "es": 0.12, "pt": 0.1, "fr": 0.06, "de": 0.05, "it": 0.04, "id": 0.04, "ja": 0.04}
SECOND_LANGUAGE_SHARE = 0.2
ABSENT_ENGAGEMENT_SHARE = 0.05
INDEX = "creators_embedding_hnsw"
# The migration's definition (services/creator/migrations/0006_discovery.sql): pgvector's defaults m=16,
# ef_construction=64.
CREATE_INDEX = f"CREATE INDEX {INDEX} ON creator.creators USING hnsw (embedding vector_cosine_ops)"
# The rows count as embedded (the empty biography's digest, embedding_updated_at set), so the service's embedder
# leaves the synthetic embeddings alone.
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
COLUMNS = (
    "id",
    "username",
    "instagram_id",
    "full_name",
    "followers",
    "source",
    "fetched_at",
    "post_limit",
    "analysis_pending",
    "media_pending",
    "dominant_category",
    "mean_engagement_rate",
    "embedding",
    "embedding_texts",
    "embedding_updated_at",
    "bio_embedded_md5",
    "languages",
    "topics",
)


@dataclass(frozen=True)
class Corpus:
    """n creators: row i has id i + 1 and username `bench_<i>`."""

    vectors: np.ndarray  # float32 (n, DIMENSIONS), unit rows
    niche: np.ndarray  # int (n,)
    followers: np.ndarray  # int64 (n,)
    engagement: np.ndarray  # float64 (n,), NaN where absent
    languages: list[list[str]]
    topics: list[list[str]]
    centres: np.ndarray  # float32 (NICHES, DIMENSIONS)
    bases: np.ndarray  # float32 (NICHES, INTRINSIC, DIMENSIONS)

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    @staticmethod
    def username(index: int) -> str:
        return f"bench_{index}"


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def around_centres(rng: np.random.Generator, centres: np.ndarray, bases: np.ndarray, niche: np.ndarray) -> np.ndarray:
    """One unit vector per entry of `niche`: its centre leaning some way towards a second niche's, an offset in its
    subspace and noise, normalised."""
    lean = rng.beta(1.0, LEAN, len(niche)).astype(np.float32)
    second = rng.integers(0, len(centres), len(niche))
    rows = (1 - lean)[:, None] * centres[niche] + lean[:, None] * centres[second]
    rows += rng.standard_normal((len(niche), centres.shape[1]), dtype=np.float32) * NOISE
    offsets = rng.standard_normal((len(niche), INTRINSIC), dtype=np.float32) * SPREAD
    for index in range(len(centres)):
        mine = niche == index
        rows[mine] += offsets[mine] @ bases[index]
    return _unit(rows)


def niche_centres(rng: np.random.Generator) -> np.ndarray:
    """Unit centres sharing a common direction and, by groups, a theme: niches are related, as topics are."""
    shared = _unit(rng.standard_normal(DIMENSIONS, dtype=np.float32))
    themes = _unit(rng.standard_normal((THEMES, DIMENSIONS), dtype=np.float32))
    own = _unit(rng.standard_normal((NICHES, DIMENSIONS), dtype=np.float32))
    return _unit(0.5 * shared + 0.6 * themes[np.arange(NICHES) % THEMES] + 0.6 * own)


def generate(size: int, seed: int = 18) -> Corpus:
    rng = np.random.default_rng(seed)
    centres = niche_centres(rng)
    bases = _unit(rng.standard_normal((NICHES, INTRINSIC, DIMENSIONS), dtype=np.float32))
    niche = rng.integers(0, NICHES, size)
    vectors = around_centres(rng, centres, bases, niche)
    followers = np.clip(np.exp(rng.normal(np.log(20_000), 1.5, size)), 1_000, 20_000_000).astype(np.int64)
    engagement = np.clip(np.exp(rng.normal(np.log(0.02), 0.7, size)), 0.0005, 0.5)
    engagement[rng.random(size) < ABSENT_ENGAGEMENT_SHARE] = np.nan
    codes = list(LANGUAGE_SHARES)
    shares = np.array(list(LANGUAGE_SHARES.values()))
    first = rng.choice(len(codes), size, p=shares / shares.sum())
    second = rng.choice(len(codes), size, p=shares / shares.sum())
    bilingual = rng.random(size) < SECOND_LANGUAGE_SHARE
    languages = [
        [codes[a]] + ([codes[b]] if both and b != a else [])
        for a, b, both in zip(first, second, bilingual, strict=True)
    ]
    # Each niche leads with one topic; creators add up to two more, drawn from all topics.
    lead = rng.integers(0, len(LABELS), NICHES)
    extra_count = rng.integers(0, 3, size)
    extras = rng.integers(0, len(LABELS), (size, 2))
    topics = []
    for index in range(size):
        mine = [LABELS[lead[niche[index]]]]
        for extra in extras[index, : extra_count[index]]:
            if LABELS[extra] not in mine:
                mine.append(LABELS[extra])
        topics.append(mine)
    return Corpus(vectors, niche, followers, engagement, languages, topics, centres, bases)


def queries(corpus: Corpus, count: int, seed: int = 1018) -> np.ndarray:
    """Query vectors like a topic query's embedding: fresh draws around random niche centres (not stored rows)."""
    rng = np.random.default_rng(seed)
    return around_centres(rng, corpus.centres, corpus.bases, rng.integers(0, NICHES, count))


def vector_binary(vector: np.ndarray) -> bytes:
    """pgvector's binary input format: dimensions, an unused int16, then big-endian float32 values."""
    return struct.pack(">HH", len(vector), 0) + vector.astype(">f4").tobytes()


def vector_text(vector: np.ndarray | Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


async def connect(dsn: str) -> asyncpg.Connection:
    """A connection that resolves the creator's tables and pgvector's operators as the service's role does."""
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn, server_settings={"search_path": f"creator, {EXTENSION_SCHEMA}"}
    )
    await use_binary_vectors(conn)
    return conn


async def use_binary_vectors(conn: asyncpg.Connection) -> None:
    """Vectors cross this connection in pgvector's binary format (numpy arrays in, bytes out)."""
    await conn.set_type_codec(
        "vector",
        schema=EXTENSION_SCHEMA,
        encoder=vector_binary,
        decoder=lambda data: np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32),
        format="binary",
    )


def _records(corpus: Corpus) -> Iterator[tuple[object, ...]]:
    stamp = datetime.now(UTC)
    for i in range(corpus.size):
        rate = corpus.engagement[i]
        yield (
            i + 1,
            Corpus.username(i),
            str(10_000_000 + i),
            f"Bench Creator {i}",
            int(corpus.followers[i]),
            "bench",
            stamp,
            12,
            False,
            False,
            corpus.topics[i][0],
            None if np.isnan(rate) else float(rate),
            corpus.vectors[i],
            13,
            stamp,
            EMPTY_MD5,
            corpus.languages[i],
            corpus.topics[i],
        )


async def load(conn: asyncpg.Connection, corpus: Corpus) -> float:
    """Replaces the creators with the corpus by COPY (binary), the HNSW index dropped; returns the seconds taken."""
    started = time.perf_counter()
    await conn.execute(f"DROP INDEX IF EXISTS creator.{INDEX}")
    await conn.execute("TRUNCATE creator.creators CASCADE")
    await conn.copy_records_to_table("creators", schema_name="creator", columns=COLUMNS, records=_records(corpus))
    await conn.execute("SELECT setval(pg_get_serial_sequence('creator.creators', 'id'), $1)", corpus.size)
    return time.perf_counter() - started


async def build_index(conn: asyncpg.Connection, maintenance_work_mem: str = "1GB") -> tuple[float, int]:
    """Builds the HNSW index (the migration's definition), then ANALYZE; returns (seconds, index bytes)."""
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
        await conn.execute(CREATE_INDEX)
    elapsed = time.perf_counter() - started
    await conn.execute("ANALYZE creator.creators")
    size = await conn.fetchval(f"SELECT pg_relation_size('creator.{INDEX}')")
    return elapsed, int(size)


# The ranking statement the index answers (cosine distance, nearest first).
NEAREST = "SELECT id FROM creator.creators ORDER BY embedding <=> $1 LIMIT $2"


def exact_neighbours(corpus: Corpus, queries: np.ndarray, k: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Ids of each query's k rows of highest cosine similarity (rows and queries are unit vectors), among the rows
    `keep` passes (all when None), by brute force: one matrix product for every query, (len(queries), <= k)."""
    rows = np.arange(corpus.size) if keep is None else np.flatnonzero(keep)
    scores = queries @ corpus.vectors[rows].T
    take = min(k, len(rows))
    top = np.argpartition(-scores, take - 1, axis=1)[:, :take] if take else np.empty((len(queries), 0), dtype=int)
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return rows[np.take_along_axis(top, order, axis=1)] + 1


async def recall_at_k(
    conn: asyncpg.Connection, corpus: Corpus, query_vectors: np.ndarray, k: int, ef_search: int
) -> float:
    """Mean share of the exact k nearest that the index's k answers contain, at `hnsw.ef_search`."""
    found = 0
    exact = exact_neighbours(corpus, query_vectors, k)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        for query, wanted in zip(query_vectors, exact, strict=True):
            rows = await conn.fetch(NEAREST, query, k)
            found += len({row["id"] for row in rows} & set(wanted.tolist()))
    return found / (k * len(query_vectors))


async def uses_index(conn: asyncpg.Connection, query: np.ndarray, k: int) -> bool:
    """Whether the planner answers the ranking statement with the HNSW index."""
    plan = await conn.fetch("EXPLAIN " + NEAREST, query, k)
    return any(INDEX in row[0] for row in plan)


@dataclass(frozen=True)
class Filters:
    """A discovery request's exact filters (DiscoverRequest's), None or empty meaning no bound."""

    name: str
    min_followers: int | None = None
    max_followers: int | None = None
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    min_engagement_rate: float | None = None

    def mask(self, corpus: Corpus) -> np.ndarray:
        """Which creators pass (the exact answer's candidates)."""
        keep = np.ones(corpus.size, dtype=bool)
        if self.min_followers is not None:
            keep &= corpus.followers >= self.min_followers
        if self.max_followers is not None:
            keep &= corpus.followers <= self.max_followers
        if self.min_engagement_rate is not None:
            keep &= np.nan_to_num(corpus.engagement, nan=-1.0) >= self.min_engagement_rate
        if self.languages:
            wanted = set(self.languages)
            keep &= np.array([not wanted.isdisjoint(langs) for langs in corpus.languages])
        if self.categories:
            wanted = set(self.categories)
            keep &= np.array([not wanted.isdisjoint(topics) for topics in corpus.topics])
        return keep


NO_FILTER = Filters("no filter")
# Three selectivities: two thirds of the creators, a fifth, two percent.
FILTERS = (
    Filters("followers >= 10k", min_followers=10_000),
    Filters("10k-1M followers, en, engagement >= 2 %", 10_000, 1_000_000, ("en",), (), 0.02),
    Filters("Travel, es", languages=("es",), categories=("Travel",)),
)
