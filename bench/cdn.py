"""`make bench-cdn`: the CDN pipeline against a bare Pillow loop, and queue claim throughput with no-op jobs.

One run starts a throwaway PostgreSQL cluster and the sample upstream (realistic 1080x1350 JPEGs), then measures:

1. bare Pillow: one thread decoding each image (JPEG draft mode) and writing the same renditions the service writes
   (320, 640 and 1080 px wide, WebP + JPEG each), bytes already in memory;
2. the service end to end as its own process (`python -m services.cdn.server`, rate limits lifted): one EnqueueJobs
   call with every URL, until every job is DONE (download, verify, render, content-addressed store, database writes),
   at the default concurrency (3) and at 1;
3. claim throughput: the worker pool with a no-op processor draining pre-enqueued jobs (claim, lease, record outcome);
4. pickup latency: idle workers (default 0.5 s poll interval) and one job at a time enqueued through another pool, as
   another replica would, from the enqueue call until the worker starts the job: woken by LISTEN/NOTIFY, and for
   comparison by polling alone.

Targets: pipeline >= 70% of the bare Pillow loop's images/s; >= 1,000 no-op jobs/s; pickup p50 <= 20 ms. Every loop is
bounded.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import grpc
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from PIL import Image, ImageOps

from fakes.instagram.creators import CREATORS
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings
from following.db import create_pool
from following.dbroles import bootstrap, owner_role_name, role_name
from following.healthcheck import wait_serving
from following.migrations import migrate_directory
from following.supervisor import Supervisor
from scripts.pgcluster import PgCluster, free_port
from services.cdn.jobs import ClaimedJob, Kind, NewJob, Outcome, Priority
from services.cdn.listener import QueueListener, connector
from services.cdn.server import MIGRATIONS
from services.cdn.store import JobStore
from services.cdn.telemetry import LiveCounters
from services.cdn.worker import PoolSettings, WorkerPool

ROOT = Path(__file__).resolve().parents[1]
IMAGES = 40
WIDTHS = (320, 640, 1080)
NOOP_JOBS = 5000
TARGET_RATIO = 0.70
TARGET_NOOP_PER_S = 1000.0
PICKUPS = 200
PICKUPS_POLLING = 30
TARGET_PICKUP_P50_MS = 20.0


@dataclass(frozen=True)
class Rate:
    per_second: float
    #: CPU seconds per image of the process doing the work (robust against other load on the machine).
    cpu_per_image: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_pillow(images: list[bytes]) -> Rate:
    """A plain single-threaded Pillow loop doing the service's rendering work."""
    cpu = time.process_time()
    started = time.perf_counter()
    for data in images:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.draft("RGB", (max(WIDTHS), round(image.size[1] * max(WIDTHS) / image.size[0])))
        image = ImageOps.exif_transpose(image) or image
        image = image.convert("RGB")
        for width in WIDTHS:
            height = round(image.size[1] * width / image.size[0])
            resized = (
                image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)
            )
            resized.save(io.BytesIO(), "WEBP", quality=80, method=4)
            resized.save(io.BytesIO(), "JPEG", quality=85, progressive=True)
    return Rate(len(images) / (time.perf_counter() - started), (time.process_time() - cpu) / len(images))


async def fetch_all(urls: list[str]) -> list[bytes]:
    async with aiohttp.ClientSession() as http:
        out = []
        for url in urls:
            async with http.get(url) as response:
                response.raise_for_status()
                out.append(await response.read())
        return out


async def pipeline(dsn: str, admin: asyncpg.Connection, urls: list[str], concurrency: int, work: Path) -> Rate:
    """Through the service process, enqueue to the last DONE."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "MIGRATE_ON_START": "false",
        "GRPC_LISTEN": f"127.0.0.1:{port}",
        "METRICS_LISTEN": "off",
        "LOG_LEVEL": "WARNING",
        "CDN_STORAGE_URL": f"file://{work / f'objects-{concurrency}'}",
        "CDN_HTTP_LISTEN": "off",
        "CDN_ALLOWED_HOSTS": urlsplit(urls[0]).netloc,
        "CDN_ALLOW_PRIVATE_NETWORKS": "true",
        "CDN_RATE_LIMIT_PER_HOST": "0",
        "CDN_WORKER_CONCURRENCY": str(concurrency),
    }
    log = (work / f"cdn-{concurrency}.log").open("ab")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once per run, before any timing
        [sys.executable, "-m", "services.cdn.server"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        await wait_serving(f"127.0.0.1:{port}", 60)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = cdn_pb2_grpc.CdnServiceStub(channel)
            specs = [cdn_pb2.JobSpec(source_url=u, kind=cdn_pb2.ASSET_KIND_POST_IMAGE) for u in urls]
            cpu = cpu_seconds(proc.pid)
            started = time.perf_counter()
            await stub.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=specs), timeout=10)
            await wait_done(admin, urls, deadline_s=300)
            elapsed = time.perf_counter() - started
            return Rate(len(urls) / elapsed, (cpu_seconds(proc.pid) - cpu) / len(urls))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


async def wait_done(admin: asyncpg.Connection, urls: list[str], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    query = "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'dead') FROM cdn.jobs"
    query += " WHERE source_url = ANY($1::text[])"
    while True:
        done, dead = await admin.fetchrow(query, urls)
        if dead:
            raise RuntimeError(f"{dead} jobs went DEAD; see the service log")
        if done == len(urls):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done}/{len(urls)} done after {deadline_s} s")
        await asyncio.sleep(0.02)


async def noop(job: ClaimedJob) -> Outcome:
    return Outcome()


async def claim_throughput(dsn: str, admin: asyncpg.Connection, concurrency: int, tag: str) -> float:
    pool = await create_pool(dsn, application_name="bench-cdn", min_size=4, max_size=10)
    store = JobStore()
    store.attach(pool)
    urls = [f"https://noop.cdninstagram.com/{tag}/{i}.jpg" for i in range(NOOP_JOBS)]
    for start in range(0, NOOP_JOBS, 500):
        batch = [NewJob(u, Kind.AVATAR, Priority.MEDIUM, "bench") for u in urls[start : start + 500]]
        await store.enqueue(batch, 5)
    counters = LiveCounters()
    workers = WorkerPool(store, noop, counters, PoolSettings(concurrency, concurrency, 30.0, 0.05, 1.0, 10.0))
    supervisor = Supervisor()
    try:
        started = time.perf_counter()
        workers.start(supervisor, deadline_s=60.0)
        # The pool's own counter, not a database poll that would compete for the same cores.
        for _ in range(120_000):
            if counters.done >= NOOP_JOBS:
                break
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        await wait_done(admin, urls, deadline_s=10)
        return NOOP_JOBS / elapsed
    finally:
        await workers.stop(5.0)
        await supervisor.stop(1.0)
        await pool.close()


@dataclass(frozen=True)
class Pickup:
    p50_ms: float
    p99_ms: float


async def pickup_latency(dsn: str, samples: int, listen: bool, tag: str) -> Pickup:
    """Enqueue → start latency of single jobs with idle workers, enqueued through a pool of their own."""
    pools = [await create_pool(dsn, application_name=f"bench-cdn-{n}", min_size=2, max_size=4) for n in range(2)]
    workers_store, enqueue_store = JobStore(), JobStore()
    workers_store.attach(pools[0])
    enqueue_store.attach(pools[1])
    started: dict[str, float] = {}
    arrived = asyncio.Event()

    async def record(job: ClaimedJob) -> Outcome:
        started[job.source_url] = time.perf_counter()
        arrived.set()
        return Outcome()

    workers = WorkerPool(workers_store, record, LiveCounters(), PoolSettings(3, 3, 30.0, 0.5, 1.0, 10.0))
    listener = QueueListener(connector(dsn), workers.wake)
    supervisor = Supervisor()
    latencies: list[float] = []
    try:
        workers.start(supervisor, deadline_s=60.0)
        if listen:
            listener.start(supervisor, deadline_s=60.0)
            for _ in range(500):
                if listener.listening:
                    break
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.6)  # the claimer's start-up rounds are over: the workers idle
        for n in range(samples):
            url = f"https://noop.cdninstagram.com/pickup-{tag}/{n}.jpg"
            arrived.clear()
            enqueued = time.perf_counter()
            await enqueue_store.enqueue([NewJob(url, Kind.AVATAR, Priority.MEDIUM, "bench")], 5)
            await asyncio.wait_for(arrived.wait(), timeout=5.0)
            latencies.append((started[url] - enqueued) * 1000)
            await asyncio.sleep(0.01 + (n % 7) / 100)  # idle again, at varying points of the poll cycle
    finally:
        await listener.stop()
        await workers.stop(5.0)
        await supervisor.stop(1.0)
        for pool in pools:
            await pool.close()
    latencies.sort()
    return Pickup(latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))])


async def run(work: Path) -> bool:
    cluster = PgCluster(work / "pg" / "data", free_port(), ephemeral=True)
    cluster.start()
    try:
        await bootstrap(cluster.dsn())
        dsn = cluster.dsn("postgres", role_name("cdn"))
        # Migrated once as the schema's owner; the service then runs as its runtime role.
        await migrate_directory(cluster.dsn("postgres", owner_role_name("cdn")), "cdn", MIGRATIONS)
        admin = await asyncpg.connect(cluster.dsn())
        username = next(c.username for c in CREATORS if not c.private)
        async with SampleUpstream(SampleSettings(host="127.0.0.1", port=0, image_cache_entries=4 * IMAGES)) as up:
            runs = {c: [f"{up.url}/media/{username}/bench{c}-{i}_1080x1350.jpg" for i in range(IMAGES)] for c in (3, 1)}
            images = {c: await fetch_all(urls) for c, urls in runs.items()}  # warms the upstream's cache
            sizes = sorted(len(b) for b in images[3])
            bare = max((bare_pillow(images[3]) for _ in range(2)), key=lambda r: r.per_second)
            piped = {c: await pipeline(dsn, admin, urls, c, work) for c, urls in runs.items()}
        noop_rates = {c: await claim_throughput(dsn, admin, c, f"c{c}") for c in (3, 32)}
        notified = await pickup_latency(dsn, PICKUPS, True, "notify")
        polled = await pickup_latency(dsn, PICKUPS_POLLING, False, "poll")
        await admin.close()
    finally:
        cluster.stop("immediate")
    ratio = piped[3].per_second / bare.per_second
    print(f"{IMAGES} sample-upstream JPEGs, 1080x1350, {sizes[0] // 1024}-{sizes[-1] // 1024} KiB;")
    print(f"each rendered at {', '.join(map(str, WIDTHS))} px wide as WebP + JPEG (6 objects per image).")
    print()
    print("| measure | images/s | vs bare Pillow | CPU s per image | CPU efficiency |")
    print("|---|---|---|---|---|")
    print(
        f"| bare Pillow loop (1 thread, bytes in memory) | {bare.per_second:.2f} | 100%"
        f" | {bare.cpu_per_image:.3f} | 100% |"
    )
    for c in (3, 1):
        r = piped[c]
        label = "default" if c == 3 else "one worker"
        print(
            f"| service end to end, concurrency {c} ({label}) | {r.per_second:.2f}"
            f" | {r.per_second / bare.per_second:.0%}"
            f" | {r.cpu_per_image:.3f} | {bare.cpu_per_image / r.cpu_per_image:.0%} |"
        )
    print()
    print("| no-op jobs (claim + lease + record outcome) | jobs/s |")
    print("|---|---|")
    for c, rate in noop_rates.items():
        print(f"| {NOOP_JOBS} jobs, worker concurrency {c} | {rate:,.0f} |")
    print()
    print("| enqueue -> claim, idle workers (job enqueued by another pool) | jobs | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    print(f"| woken by LISTEN/NOTIFY | {PICKUPS} | {notified.p50_ms:.1f} | {notified.p99_ms:.1f} |")
    print(f"| polling alone (0.5 s interval) | {PICKUPS_POLLING} | {polled.p50_ms:.1f} | {polled.p99_ms:.1f} |")
    print()
    ok_ratio, ok_noop = ratio >= TARGET_RATIO, noop_rates[3] >= TARGET_NOOP_PER_S
    ok_pickup = notified.p50_ms <= TARGET_PICKUP_P50_MS
    print(
        f"target pipeline >= {TARGET_RATIO:.0%} of bare Pillow (default concurrency): {ratio:.0%} - "
        f"{'met' if ok_ratio else 'NOT met'}"
    )
    print(
        f"target >= {TARGET_NOOP_PER_S:,.0f} no-op jobs/s (default concurrency): {noop_rates[3]:,.0f} - "
        f"{'met' if ok_noop else 'NOT met'}"
    )
    print(
        f"target enqueue -> claim p50 <= {TARGET_PICKUP_P50_MS:.0f} ms (idle workers): {notified.p50_ms:.1f} ms - "
        f"{'met' if ok_pickup else 'NOT met'}"
    )
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the end; PostgreSQL, the sample")
    print("upstream and the service share them. CPU efficiency = bare CPU per image / service-process CPU per image.")
    return ok_ratio and ok_noop and ok_pickup


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cdn-"))
    os.chmod(work, 0o755)
    try:
        ok = asyncio.run(run(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
