"""Fresh and cached creator searches end to end through Envoy (REST + JWT), on a private stack on loopback.

Fresh: the first search of creators with 12 recent posts (sample upstream fetch, storage, one batched inference call,
CDN enqueue); the creator tables are emptied between rounds so every round is a first search again.
Cached: the same creator again, from one client and from 16 concurrent clients. Bounded loops only.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import aiohttp

from bench.creator import empty_creator_tables
from bench.stats import percentile
from client.tokens import mint
from fakes.instagram.creators import CREATORS
from scripts.stack import private_stack

FRESH_ROUNDS = 3
CACHED_SEQUENTIAL = 300
CACHED_CONCURRENT_TOTAL = 2000
CONCURRENCY = 16
TARGET_CACHED16_RPS = 1000.0
TARGET_CACHED16_P99_MS = 40.0


def _fresh_creators() -> list[str]:
    return [c.username for c in CREATORS if not c.private and c.posts_available >= 12][:8]


async def _search(session: aiohttp.ClientSession, url: str, headers: dict[str, str], refresh: bool) -> float:
    started = time.perf_counter()
    async with session.post(url, json={"refresh": refresh}, headers=headers) as reply:
        await reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{url} answered {reply.status}")
    return time.perf_counter() - started


async def measure(gateway: str, token: str, admin_dsn: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    names = _fresh_creators()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        fresh: list[float] = []
        for _ in range(FRESH_ROUNDS):
            await empty_creator_tables(admin_dsn)
            for name in names:
                fresh.append(await _search(session, f"{gateway}/api/v1/creator/search/{name}", headers, False))
        url = f"{gateway}/api/v1/creator/search/{names[0]}"
        for _ in range(20):
            await _search(session, url, headers, False)
        sequential = [await _search(session, url, headers, False) for _ in range(CACHED_SEQUENTIAL)]
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(CACHED_CONCURRENT_TOTAL):
            queue.put_nowait(None)
        concurrent: list[float] = []

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                concurrent.append(await _search(session, url, headers, False))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - started
    return {
        "fresh_p50_ms": percentile(fresh, 50) * 1000,
        "fresh_p99_ms": percentile(fresh, 99) * 1000,
        "fresh_n": len(fresh),
        "cached_p50_ms": percentile(sequential, 50) * 1000,
        "cached_p99_ms": percentile(sequential, 99) * 1000,
        "cached16_p50_ms": percentile(concurrent, 50) * 1000,
        "cached16_p99_ms": percentile(concurrent, 99) * 1000,
        "cached16_rps": len(concurrent) / wall,
    }


def report(figures: dict[str, float]) -> str:
    old_fresh_ms, old_cached_ms = 183_600.0, 1000.0
    met = figures["cached16_rps"] >= TARGET_CACHED16_RPS and figures["cached16_p99_ms"] <= TARGET_CACHED16_P99_MS
    return "\n".join(
        [
            "| end to end through Envoy (REST + JWT) | this system | old system | ratio |",
            "|---|---|---|---|",
            f"| first search of a creator, 12 posts, p50 (n={figures['fresh_n']:.0f})"
            f" | {figures['fresh_p50_ms']:.0f} ms"
            f" (p99 {figures['fresh_p99_ms']:.0f} ms) | 183.6 s"
            f" | {old_fresh_ms / figures['fresh_p50_ms']:.0f}x faster |",
            f"| cached search, 1 client, p50 | {figures['cached_p50_ms']:.2f} ms"
            f" (p99 {figures['cached_p99_ms']:.2f} ms)"
            f" | 1-3 s | {old_cached_ms / figures['cached_p50_ms']:.0f}x faster (vs 1 s) |",
            f"| cached search, {CONCURRENCY} clients | {figures['cached16_rps']:.0f} req/s, p50"
            f" {figures['cached16_p50_ms']:.2f} ms, p99 {figures['cached16_p99_ms']:.2f} ms | - | - |",
            "",
            f"- {'met' if met else 'MISSED'}: cached search, {CONCURRENCY} clients end to end:"
            f" {figures['cached16_rps']:.0f} req/s, p99 {figures['cached16_p99_ms']:.1f} ms"
            f" (target >= {TARGET_CACHED16_RPS:.0f} req/s with p99 <= {TARGET_CACHED16_P99_MS:.0f} ms)",
        ]
    )


def main() -> None:
    stack = private_stack("following-bench-")
    try:
        stack.up(extra_env={"gateway": {"GATEWAY_RATE_LIMIT_RPS": "100000", "GATEWAY_USER_RATE_LIMIT_RPS": "100000"}})
        token = mint(stack.values["SUPABASE_JWT_SECRET"], stack.values["SUPABASE_JWT_ISSUER"], "bench")
        gateway = f"http://{stack.values['GATEWAY_LISTEN']}"
        figures = asyncio.run(measure(gateway, token, stack.pg.dsn("following")))
    finally:
        stack.down()
        shutil.rmtree(stack.run, ignore_errors=True)
    print(report(figures))


if __name__ == "__main__":
    main()
