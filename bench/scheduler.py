"""Refresh scheduler benchmark, part of `make bench-creator`: the creator service's own CPU time per tracked refresh,
and its idle cost with 10,000 tracked creators not yet due.

Throughput: the sample creators are searched and tracked, then every round makes all of them due at once (an UPDATE
as the schema owner) and waits until each was refreshed by the scheduler (sample upstream fetch, store, snapshot,
analysis of new captions, CDN enqueue, report render), with the upstream budget lifted. The figure is refreshes per
second of the creator process's CPU time (utime + stime from /proc), which leaves out the sample upstream, the
inference and CDN services and PostgreSQL. Idle: 10,000 creators scheduled a day ahead; the creator process's CPU over
a quiet window, against the same window with nothing tracked (the other background loops cost the same in both).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg
import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from fakes.instagram.creators import CREATORS
from scripts.stack import Stack

USER = (("x-user-id", "bench-tracker"),)
ROUNDS = 6
IDLE_WINDOW_S = 20.0
IDLE_CREATORS = 10_000
ROUND_DEADLINE_S = 120.0
THROUGHPUT_POLL_S = 0.2
SCHEDULER_ENV = {
    "CREATOR_TRACK_INTERVAL_S": "86400",
    "CREATOR_TRACK_BATCH": "32",
    "CREATOR_TRACK_CONCURRENCY": "16",
    "CREATOR_UPSTREAM_BUDGET_CAPACITY": "100000",
    "CREATOR_UPSTREAM_BUDGET_PER_MINUTE": "100000",
    "CREATOR_USER_FETCHES_PER_HOUR": "100000",
    "DB_POOL_MAX": "32",
    "LOG_LEVEL": "WARNING",
}
MAKE_DUE = "UPDATE creator.refresh_schedule SET next_refresh_at = now()"
NOT_REFRESHED_SINCE = (
    "SELECT count(*) FROM creator.refresh_schedule WHERE last_refreshed_at IS NULL OR last_refreshed_at < $1"
)
# Stored creators whose embedding is current (as after their fetch), so that the idle window measures the scheduler,
# not the creator embedder's one-time pass over 10,000 rows it has never seen.
ADD_IDLE = """
WITH made AS (
    INSERT INTO creator.creators
           (username, instagram_id, source, fetched_at, post_limit, embedding_updated_at, bio_embedded_md5)
    SELECT 'idle.' || g, g::text, 'sample', now(), 12, now(), md5('') FROM generate_series(1, $1) g
    RETURNING id)
INSERT INTO creator.refresh_schedule (creator_id, trackers, next_refresh_at)
SELECT id, 1, now() + interval '1 day' FROM made
"""
CLEAR = "TRUNCATE creator.refresh_schedule; DELETE FROM creator.creators WHERE username LIKE 'idle.%'"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


async def _tracked_creators(address: str) -> list[str]:
    names = [c.username for c in CREATORS if not c.private and c.posts_available >= 12]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = creator_pb2_grpc.CreatorServiceStub(channel)
        for name in names:
            await stub.SearchCreator(creator_pb2.SearchCreatorRequest(username=name), metadata=USER, timeout=60)
            await stub.TrackCreator(creator_pb2.TrackCreatorRequest(username=name), metadata=USER, timeout=10)
    return names


async def _throughput(owner_dsn: str, pid: int) -> tuple[int, float, float]:
    conn = await asyncpg.connect(owner_dsn)
    refreshed, cpu, wall = 0, 0.0, 0.0
    try:
        tracked = await conn.fetchval("SELECT count(*) FROM creator.refresh_schedule")
        for _ in range(ROUNDS):
            await asyncio.sleep(1.0)  # let the previous round's background work (analysis, media) settle
            cpu_before, started = cpu_seconds(pid), time.perf_counter()
            since = await conn.fetchval("SELECT now()")
            await conn.execute(MAKE_DUE)
            deadline = time.monotonic() + ROUND_DEADLINE_S
            while await conn.fetchval(NOT_REFRESHED_SINCE, since):
                if time.monotonic() > deadline:
                    raise RuntimeError("a round of scheduled refreshes did not finish in time")
                await asyncio.sleep(0.02)
            wall += time.perf_counter() - started
            cpu += cpu_seconds(pid) - cpu_before
            refreshed += tracked
    finally:
        await conn.close()
    return refreshed, cpu, wall


async def _idle(owner_dsn: str, pid: int) -> tuple[float, float]:
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute(CLEAR)
        await asyncio.sleep(2.0)
        before = cpu_seconds(pid)
        await asyncio.sleep(IDLE_WINDOW_S)
        baseline = (cpu_seconds(pid) - before) / IDLE_WINDOW_S
        await conn.execute(ADD_IDLE, IDLE_CREATORS)
        await asyncio.sleep(2.0)
        before = cpu_seconds(pid)
        await asyncio.sleep(IDLE_WINDOW_S)
        loaded = (cpu_seconds(pid) - before) / IDLE_WINDOW_S
        await conn.execute(CLEAR)
    finally:
        await conn.close()
    return baseline, loaded


def _restart_creator(stack: Stack, env: dict[str, str]) -> int:
    stack.stop("creator")
    stack.start("creator", env)
    pid = stack.pid("creator")
    if pid is None:
        raise RuntimeError("the creator service is not running")
    return pid


def measure(stack: Stack) -> dict[str, float]:
    """Restarts the stack's creator with the scheduler settings and measures both figures: throughput with a short
    idle poll (a round is noticed at once), the idle cost with the default poll."""
    owner = stack.pg.dsn("following")
    pid = _restart_creator(stack, SCHEDULER_ENV | {"CREATOR_TRACK_POLL_S": str(THROUGHPUT_POLL_S)})
    names = asyncio.run(_tracked_creators(stack.values["CREATOR_ADDR"]))
    refreshed, cpu, wall = asyncio.run(_throughput(owner, pid))
    pid = _restart_creator(stack, SCHEDULER_ENV)
    baseline, loaded = asyncio.run(_idle(owner, pid))
    return {
        "tracked": len(names),
        "refreshed": refreshed,
        "cpu_s": cpu,
        "wall_s": wall,
        "per_cpu_s": refreshed / cpu if cpu > 0 else float("inf"),
        # The same, less what the other background loops of the process cost over the same wall time when idle.
        "net_per_cpu_s": refreshed / max(cpu - baseline * wall, 1e-9),
        "per_wall_s": refreshed / wall,
        "idle_baseline": baseline,
        "idle_loaded": loaded,
    }


def report(f: dict[str, float]) -> str:
    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    extra = max(f["idle_loaded"] - f["idle_baseline"], 0.0)
    return "\n".join(
        [
            f"| refresh scheduler, {os.cpu_count()} CPUs | figure | target |",
            "|---|---|---|",
            f"| tracked refreshes, budget lifted, analysis on ({f['refreshed']:.0f} refreshes of {f['tracked']:.0f}"
            f" creators in {ROUNDS} rounds) | {f['per_cpu_s']:.0f} refreshes per creator CPU-second"
            f" ({f['cpu_s']:.2f} CPU-s; {f['net_per_cpu_s']:.0f}/s net of the other loops' idle cost;"
            f" {f['per_wall_s']:.1f}/s wall) | >= 50/s: {verdict(f['per_cpu_s'] >= 50)} |",
            f"| idle, {IDLE_CREATORS:,} tracked creators not due ({IDLE_WINDOW_S:.0f} s window) |"
            f" {f['idle_loaded'] * 100:.2f} % of a core for the whole creator process, {f['idle_baseline'] * 100:.2f} %"
            f" with none tracked: +{extra * 100:.2f} % | <= 1 %: {verdict(extra <= 0.01)} |",
        ]
    )
