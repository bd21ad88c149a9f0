"""Discovery benchmark: 100,000 stored creators on pgvector; HNSW build, recall against exact search, and latency.

A private stack on loopback (PostgreSQL with pgvector, inference, creator) from `scripts.stack`. The creator schema is
migrated, then a synthetic corpus (bench/discovery_corpus.py: embeddings around niche centres, realistic filter
columns) is loaded by binary COPY and the migration's HNSW index rebuilt on it, timed. Then, with bounded loops:
recall@10 of the index against numpy brute force over query vectors drawn like topic queries, at the store's
ef_search for a page (EF_SEARCH) and at pgvector's default; the store's own ranking (discovery_store.rank: what
SimilarCreators and Discover run) straight at PostgreSQL, one client, for a page of lookalikes and for Discover's 200
best without and with filters of three selectivities, with how full and how exact its answers are; and
SimilarCreators and Discover (by username, and by text through the real inference service) at the creator's gRPC
port (no gateway), one client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import numpy as np
from creator.v1 import creator_pb2, creator_pb2_grpc

from bench import discovery_corpus as corpus_
from bench.stats import percentile
from following.dbroles import owner_role_name
from following.migrations import migrate_directory
from scripts.stack import Stack, private_stack
from services.creator import discovery_store
from services.creator.handlers import CreatorServicer

CREATORS = 100_000
RECALL_QUERIES = 200
K = 10
# hnsw.ef_search of a page of K lookalikes (the store's setting, the verdict's), and others reported beside it.
EF_SEARCH = discovery_store.ef_search(K)
EF_SEARCH_TRIED = (40,)
TARGET_RECALL = 0.95
SQL_QUERIES = 200
DISCOVER_SQL_QUERIES = 50
SERVICE_WARMUP = 20
SERVICE_REQUESTS = 200
TEXT_REQUESTS = 100
TARGET_P50_MS = 20.0
TARGET_P99_MS = 50.0
# The planner's memory for the index build; the build spills to disk (much slower) when the graph does not fit.
BUILD_MEMORY = "1GB"
# Room for the table (~180 MB) and the index (~200 MB) in PostgreSQL's cache, as a production server would size it.
SHARED_BUFFERS = "768MB"
MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "creator" / "migrations"
USER = (("x-user-id", "bench"),)
TEXT_QUERIES = (
    "home baking and sourdough",
    "budget travel in South-East Asia",
    "strength training for beginners",
    "vegan meal prep",
    "street photography in black and white",
    "indie game development",
    "personal finance and investing",
    "skincare routine for sensitive skin",
    "trail running and ultramarathons",
    "parenting toddlers",
)


@dataclass
class Latency:
    """One measured row: samples in seconds, and optionally how full and how right the answers were."""

    label: str
    samples: list[float] = field(default_factory=list)
    returned: int = 0
    wanted: int = 0
    found: int = 0

    def p50_ms(self) -> float:
        return percentile(self.samples, 50) * 1000

    def p99_ms(self) -> float:
        return percentile(self.samples, 99) * 1000


@dataclass
class Figures:
    creators: int = 0
    load_s: float = 0.0
    build_s: float = 0.0
    index_bytes: int = 0
    table_bytes: int = 0
    pgvector: str = ""
    recall: dict[int, float] = field(default_factory=dict)
    selectivity: dict[str, float] = field(default_factory=dict)
    sql: list[Latency] = field(default_factory=list)
    service: list[Latency] = field(default_factory=list)
    service_missing: str = ""


async def prepare(stack: Stack, corpus: corpus_.Corpus, figures: Figures) -> None:
    """Migrates the creator schema, loads the corpus and builds the index."""
    await migrate_directory(stack.pg.dsn("following", owner_role_name("creator")), "creator", MIGRATIONS)
    conn = await corpus_.connect(stack.pg.dsn("following"))
    try:
        figures.pgvector = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        figures.load_s = await corpus_.load(conn, corpus)
        figures.build_s, figures.index_bytes = await corpus_.build_index(conn, BUILD_MEMORY)
        figures.table_bytes = await conn.fetchval("SELECT pg_table_size('creator.creators')")
    finally:
        await conn.close()


def _store_filters(filters: corpus_.Filters) -> discovery_store.Filters:
    return discovery_store.Filters(
        filters.min_followers,
        filters.max_followers,
        tuple(topic.lower() for topic in filters.categories),  # the store matches topics in lower case
        filters.languages,
        filters.min_engagement_rate,
    )


async def store_rankings(
    conn: asyncpg.Connection,
    corpus: corpus_.Corpus,
    queries: np.ndarray,
    limit: int,
    filters: corpus_.Filters,
    iterative: bool,
    ef: int | None = None,
) -> Latency:
    """The store's ranking (what SimilarCreators and Discover run) for each query, timed and checked against exact."""
    ranked_as = f"rank {limit}" if ef is None else f"rank {limit} (Discover's first page)"
    label = f"{ranked_as}, {filters.name}: ef_search {ef or discovery_store.ef_search(limit)}"
    row = Latency(label + (", iterative scan" if iterative else ""))
    wanted = _store_filters(filters)
    exact_ids = corpus_.exact_neighbours(corpus, queries, limit, filters.mask(corpus))
    for query, exact in zip(queries, exact_ids, strict=True):
        text = corpus_.vector_text(query)
        started = time.perf_counter()
        ranked = await discovery_store.rank(conn, text, limit, wanted, None, iterative, ef)
        row.samples.append(time.perf_counter() - started)
        row.returned += len(ranked)
        row.wanted += len(exact)
        row.found += len({r.creator_id for r in ranked} & set(exact.tolist()))
    return row


async def measure_sql(dsn: str, corpus: corpus_.Corpus, figures: Figures) -> None:
    conn = await corpus_.connect(dsn)
    try:
        queries = corpus_.queries(corpus, RECALL_QUERIES)
        if not await corpus_.uses_index(conn, queries[0], K):
            raise RuntimeError("the ranking statement does not use the HNSW index")
        for ef in sorted({*EF_SEARCH_TRIED, EF_SEARCH}):
            figures.recall[ef] = await corpus_.recall_at_k(conn, corpus, queries, K, ef)
        iterative = await discovery_store.iterative_scan_available(conn)
        figures.sql.append(await store_rankings(conn, corpus, queries[:SQL_QUERIES], K, corpus_.NO_FILTER, iterative))
        for filters in (corpus_.NO_FILTER, *corpus_.FILTERS):
            figures.selectivity[filters.name] = float(filters.mask(corpus).mean())
            figures.sql.append(
                await store_rankings(
                    conn, corpus, queries[:DISCOVER_SQL_QUERIES], discovery_store.MAX_RANKED, filters, iterative
                )
            )
            first_page = K + 1  # a page and one more, whether a next page exists
            figures.sql.append(
                await store_rankings(
                    conn,
                    corpus,
                    queries[:DISCOVER_SQL_QUERIES],
                    first_page,
                    filters,
                    iterative,
                    discovery_store.DISCOVER_EF_SEARCH,
                )
            )
    finally:
        await conn.close()


async def _timed(row: Latency, call: Callable[[], Awaitable[object]], count: int) -> None:
    for _ in range(SERVICE_WARMUP):
        await call()
    for _ in range(count):
        started = time.perf_counter()
        await call()
        row.samples.append(time.perf_counter() - started)


async def measure_service(address: str, corpus: corpus_.Corpus, figures: Figures) -> None:
    rng = np.random.default_rng(7)
    names = [corpus_.Corpus.username(int(i)) for i in rng.integers(0, corpus.size, SERVICE_REQUESTS + SERVICE_WARMUP)]
    medium = corpus_.FILTERS[1]
    filter_fields: dict[str, object] = {
        "min_followers": medium.min_followers,
        "max_followers": medium.max_followers,
        "languages": list(medium.languages),
        "min_engagement_rate": medium.min_engagement_rate,
    }
    async with grpc.aio.insecure_channel(address) as channel:
        stub = creator_pb2_grpc.CreatorServiceStub(channel)
        turn = iter(range(10**9))

        def name() -> str:
            return names[next(turn) % len(names)]

        async def similar() -> None:
            answer = await stub.SimilarCreators(
                creator_pb2.SimilarCreatorsRequest(username=name(), page_size=K), metadata=USER, timeout=10
            )
            if len(answer.creators) != K:
                raise RuntimeError(f"SimilarCreators answered {len(answer.creators)} creators, not {K}")

        async def discover(fields: dict[str, object], query: Callable[[], str]) -> None:
            request = creator_pb2.DiscoverRequest(query=query(), page_size=K, **fields)  # type: ignore[arg-type]
            answer = await stub.Discover(request, metadata=USER, timeout=10)
            if not answer.creators:
                raise RuntimeError(f"Discover answered no creators for {request.query!r}")

        texts = iter(range(10**9))

        def text() -> str:
            # A text never asked before for each request: the creator caches a query's embedding (for its later
            # pages), which the row of repeated queries measures.
            turn = next(texts)
            return f"{TEXT_QUERIES[turn % len(TEXT_QUERIES)]} {turn}"

        def repeated_text() -> str:
            return TEXT_QUERIES[next(texts) % len(TEXT_QUERIES)]

        rows = (
            (Latency(f"SimilarCreators, page of {K}"), similar, SERVICE_REQUESTS),
            (Latency(f"Discover by username, page of {K}, no filter"), lambda: discover({}, name), SERVICE_REQUESTS),
            (
                Latency(f"Discover by username, page of {K}, {medium.name}"),
                lambda: discover(filter_fields, name),
                SERVICE_REQUESTS,
            ),
            (
                Latency(f"Discover by text (inference embeds it), page of {K}, no filter"),
                lambda: discover({}, text),
                TEXT_REQUESTS,
            ),
            (
                Latency(f"Discover by text (inference embeds it), page of {K}, {medium.name}"),
                lambda: discover(filter_fields, text),
                TEXT_REQUESTS,
            ),
            (
                Latency(f"Discover by text asked before (its embedding cached: a next page), page of {K}, no filter"),
                lambda: discover({}, repeated_text),
                TEXT_REQUESTS,
            ),
        )
        for row, call, count in rows:
            await _timed(row, call, count)
            figures.service.append(row)


def handlers_missing() -> str:
    """Why the service-level rows cannot be measured with this checkout's creator service; empty when they can."""
    base = creator_pb2_grpc.CreatorServiceServicer
    missing = [
        name for name in ("SimilarCreators", "Discover") if getattr(CreatorServicer, name) is getattr(base, name)
    ]
    return f"{' and '.join(missing)} not implemented by the creator service" if missing else ""


STARTED = time.monotonic()


def _progress(line: str) -> None:
    print(f"discovery        {line} (at {time.monotonic() - STARTED:.0f} s)", file=sys.stderr, flush=True)


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(f: Figures) -> str:
    mib = 1024 * 1024
    recall = f.recall.get(EF_SEARCH, 0.0)
    lines = [
        f"{f.creators:,} creators, 384-d embeddings around {corpus_.NICHES} niche centres; PostgreSQL with pgvector"
        f" {f.pgvector}, {os.cpu_count()} CPUs shared by PostgreSQL, the services and the client.",
        "",
        "| index | figure |",
        "|---|---|",
        f"| load (binary COPY, no index) | {f.load_s:.1f} s (table {f.table_bytes / mib:.0f} MiB) |",
        f"| HNSW build (m 16, ef_construction 64, maintenance_work_mem {BUILD_MEMORY}) | {f.build_s:.1f} s |",
        f"| HNSW size (pg_relation_size) | {f.index_bytes / mib:.0f} MiB"
        f" ({f.index_bytes / f.creators:.0f} bytes per creator) |",
        *(
            f"| recall@{K}, {RECALL_QUERIES} topic-like queries, ef_search {ef} | {value:.3f} |"
            for ef, value in f.recall.items()
        ),
        "",
        f"HNSW recall@{K} at ef_search {EF_SEARCH} (discovery's setting) >= {TARGET_RECALL}: "
        f"{_verdict(recall >= TARGET_RECALL)} ({recall:.3f})",
        "",
        "Filter selectivity: "
        + "; ".join(f"{name} {share * 100:.1f} %" for name, share in f.selectivity.items())
        + ".",
        "",
        "| the store's ranking (discovery_store.rank) at PostgreSQL, 1 client | n | p50 | p99 | answers full"
        " | recall vs exact |",
        "|---|---|---|---|---|---|",
    ]
    for row in f.sql:
        full = f"{row.returned / row.wanted * 100:.0f} %" if row.wanted else "-"
        right = f"{row.found / row.wanted:.3f}" if row.wanted else "-"
        lines.append(
            f"| {row.label} | {len(row.samples)} | {row.p50_ms():.2f} ms | {row.p99_ms():.2f} ms | {full} | {right} |"
        )
    lines += [
        "",
        f"| creator service, direct gRPC, 1 client | n | p50 | p99 | target p50 <= {TARGET_P50_MS:.0f} ms,"
        f" p99 <= {TARGET_P99_MS:.0f} ms |",
        "|---|---|---|---|---|",
    ]
    if f.service_missing:
        lines.append(f"| not measured: {f.service_missing} | - | - | - | - |")
    for row in f.service:
        ok = row.p50_ms() <= TARGET_P50_MS and row.p99_ms() <= TARGET_P99_MS
        lines.append(
            f"| {row.label} | {len(row.samples)} | {row.p50_ms():.2f} ms | {row.p99_ms():.2f} ms | {_verdict(ok)} |"
        )
    return "\n".join(lines)


def _tune(stack: Stack) -> None:
    """Sizes the private cluster's cache for the corpus (a restart applies it)."""

    async def alter() -> None:
        conn = await asyncpg.connect(stack.pg.dsn())
        try:
            await conn.execute(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
        finally:
            await conn.close()

    asyncio.run(alter())
    stack.pg.stop()
    stack.pg.start()


def run(stack: Stack, corpus: corpus_.Corpus, figures: Figures) -> None:
    stack.up(only=())
    _tune(stack)
    _progress("PostgreSQL started")
    asyncio.run(prepare(stack, corpus, figures))
    _progress(f"loaded {corpus.size:,} creators in {figures.load_s:.1f} s, index built in {figures.build_s:.1f} s")
    asyncio.run(measure_sql(stack.pg.dsn("following"), corpus, figures))
    _progress("recall and the store's ranking measured")
    figures.service_missing = handlers_missing()
    if figures.service_missing:
        return
    stack.up(
        only=("inference", "creator"),
        extra_env={"creator": {"LOG_LEVEL": "WARNING"}, "inference": {"LOG_LEVEL": "WARNING"}},
    )
    _progress("inference and creator started")
    asyncio.run(measure_service(stack.values["CREATOR_ADDR"], corpus, figures))
    _progress("service measured")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=CREATORS, help=f"corpus size (default {CREATORS:,})")
    started = time.monotonic()
    corpus = corpus_.generate(parser.parse_args().creators)
    _progress(f"corpus of {corpus.size:,} generated in {time.monotonic() - started:.1f} s")
    figures = Figures(creators=corpus.size)
    stack = private_stack("following-bench-discovery-")
    try:
        run(stack, corpus, figures)
    finally:
        stack.down()
        shutil.rmtree(stack.run, ignore_errors=True)
    print(report(figures))


if __name__ == "__main__":
    main()
