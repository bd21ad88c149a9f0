"""Creator service benchmark: fresh and cached searches straight at the creator's gRPC port (no gateway).

A private stack on loopback (PostgreSQL, sample upstream, inference, CDN, creator) from `scripts.stack`. Fresh: the
first search of a 12-post creator (sample upstream fetch, storage, one batched inference call, CDN enqueue), from one
client and from 16 clients at once on different creators; the creator tables are emptied between rounds so every
round is fresh again. Cached: the same searches again, answered from the store. The CDN's download workers are off,
so image processing does not compete for the CPU; the enqueue itself is measured. Bounded loops only. Then the
refresh scheduler (bench/scheduler.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import asyncpg
import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from bench import scheduler
from bench.stats import percentile
from fakes.instagram.creators import CREATORS
from scripts.stack import private_stack

FRESH_ROUNDS_SEQUENTIAL = 2
FRESH_ROUNDS_CONCURRENT = 2
CACHED_WARMUP = 50
CACHED_SEQUENTIAL = 500
CACHED_CONCURRENT_TOTAL = 4000
CONCURRENCY = 16
TARGET_FRESH16_PER_S = 40.0
USER = (("x-user-id", "bench"),)
EMPTY_CREATOR_TABLES = "TRUNCATE creator.creators, creator.media, creator.media_outbox CASCADE"


def _creators() -> list[str]:
    return [c.username for c in CREATORS if not c.private and c.posts_available >= 12][:CONCURRENCY]


PENDING: list[str] = []


async def _search(stub: creator_pb2_grpc.CreatorServiceStub, username: str) -> tuple[float, bool]:
    started = time.perf_counter()
    report = await stub.SearchCreator(creator_pb2.SearchCreatorRequest(username=username), metadata=USER, timeout=60)
    elapsed = time.perf_counter() - started
    if len(report.recent_posts) != 12:
        raise RuntimeError(f"{username}: {len(report.recent_posts)} posts instead of 12")
    if not report.freshness.from_cache and report.analysis_state != creator_pb2.ANALYSIS_STATE_COMPLETE:
        PENDING.append(username)  # the inference deadline passed: finished in the background
    return elapsed, report.freshness.from_cache


async def empty_creator_tables(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(EMPTY_CREATOR_TABLES)
    finally:
        await conn.close()


async def measure(address: str, admin_dsn: str) -> dict[str, float]:
    names = _creators()
    figures: dict[str, float] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = creator_pb2_grpc.CreatorServiceStub(channel)
        fresh: list[float] = []
        for _ in range(FRESH_ROUNDS_SEQUENTIAL):
            await empty_creator_tables(admin_dsn)
            for name in names[:12]:
                elapsed, from_cache = await _search(stub, name)
                if from_cache:
                    raise RuntimeError(f"{name}: expected a fresh search")
                fresh.append(elapsed)
        pending_sequential = len(PENDING)
        fresh16: list[float] = []
        wall16 = 0.0
        for _ in range(FRESH_ROUNDS_CONCURRENT):
            await empty_creator_tables(admin_dsn)
            started = time.perf_counter()
            results = await asyncio.gather(*(_search(stub, name) for name in names))
            wall16 += time.perf_counter() - started
            fresh16.extend(elapsed for elapsed, _ in results)
        # Let the last round's background work settle before measuring the cached path.
        for _ in range(CACHED_WARMUP):
            for name in names[:4]:
                await _search(stub, name)
        sequential = [(await _search(stub, names[0]))[0] for _ in range(CACHED_SEQUENTIAL)]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for index in range(CACHED_CONCURRENT_TOTAL):
            queue.put_nowait(names[index % len(names)])
        concurrent: list[float] = []

        async def worker() -> None:
            while not queue.empty():
                elapsed, from_cache = await _search(stub, queue.get_nowait())
                if not from_cache:
                    raise RuntimeError("expected a cached search")
                concurrent.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - started
    figures.update(
        fresh_n=len(fresh),
        fresh_p50_ms=percentile(fresh, 50) * 1000,
        fresh_p99_ms=percentile(fresh, 99) * 1000,
        fresh16_n=len(fresh16),
        fresh16_p50_ms=percentile(fresh16, 50) * 1000,
        fresh16_p99_ms=percentile(fresh16, 99) * 1000,
        fresh16_per_s=len(fresh16) / wall16,
        cached_p50_ms=percentile(sequential, 50) * 1000,
        cached_p99_ms=percentile(sequential, 99) * 1000,
        cached_per_s=len(sequential) / sum(sequential),
        cached16_p50_ms=percentile(concurrent, 50) * 1000,
        cached16_p99_ms=percentile(concurrent, 99) * 1000,
        cached16_per_s=len(concurrent) / wall,
        fresh_pending=pending_sequential,
        fresh16_pending=len(PENDING) - pending_sequential,
    )
    return figures


def report(f: dict[str, float]) -> str:
    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    return "\n".join(
        [
            f"| creator service, direct gRPC, {os.cpu_count()} CPUs | p50 | p99 | throughput | target |",
            "|---|---|---|---|---|",
            f"| fresh search, 12 posts, 1 client (n={f['fresh_n']:.0f}, analysis pending in"
            f" {f['fresh_pending']:.0f}) | {f['fresh_p50_ms']:.0f} ms"
            f" | {f['fresh_p99_ms']:.0f} ms | - | <= 1 s p50: {verdict(f['fresh_p50_ms'] <= 1000)} |",
            f"| fresh search, 12 posts, {CONCURRENCY} clients at once (n={f['fresh16_n']:.0f}, analysis pending in"
            f" {f['fresh16_pending']:.0f}) | {f['fresh16_p50_ms']:.0f} ms"
            f" | {f['fresh16_p99_ms']:.0f} ms | {f['fresh16_per_s']:.1f} searches/s"
            f" | >= {TARGET_FRESH16_PER_S:.0f}/s, analysis complete in every answer:"
            f" {verdict(f['fresh16_per_s'] >= TARGET_FRESH16_PER_S and f['fresh16_pending'] == 0)} |",
            f"| cached search, 1 client (n={CACHED_SEQUENTIAL}) | {f['cached_p50_ms']:.2f} ms"
            f" | {f['cached_p99_ms']:.2f} ms | {f['cached_per_s']:.0f} searches/s"
            f" | <= 10 ms p50: {verdict(f['cached_p50_ms'] <= 10)} |",
            f"| cached search, {CONCURRENCY} clients (n={CACHED_CONCURRENT_TOTAL}) | {f['cached16_p50_ms']:.2f} ms"
            f" | {f['cached16_p99_ms']:.2f} ms | {f['cached16_per_s']:.0f} searches/s"
            f" | >= 500/s: {verdict(f['cached16_per_s'] >= 500)} |",
        ]
    )


def main() -> None:
    stack = private_stack("following-bench-creator-")
    try:
        stack.up(
            extra_env={
                "creator": {
                    "CREATOR_UPSTREAM_BUDGET_CAPACITY": "100000",
                    "CREATOR_UPSTREAM_BUDGET_PER_MINUTE": "100000",
                    # One benchmark user makes every fresh search; the per-user quota is not what is measured.
                    "CREATOR_USER_FETCHES_PER_HOUR": "100000",
                    "DB_POOL_MAX": "32",
                    "LOG_LEVEL": "WARNING",
                },
                "cdn": {"CDN_WORKERS_ENABLED": "false", "LOG_LEVEL": "WARNING"},
                "inference": {"LOG_LEVEL": "WARNING"},
            }
        )
        figures = asyncio.run(measure(stack.values["CREATOR_ADDR"], stack.pg.dsn("following")))
        tracked = scheduler.measure(stack)
    finally:
        stack.down()
        shutil.rmtree(stack.run, ignore_errors=True)
    print(report(figures))
    print()
    print(scheduler.report(tracked))


if __name__ == "__main__":
    main()
