"""`make bench-profile`: where the CPU of one cached search goes, end to end, on a private stack on loopback.

One stack (PostgreSQL, the services, Envoy as `make up` runs it) and one creator searched once; then bounded loads of
the same cached search at 16 clients, side by side in interleaved rounds:

- direct gRPC to the creator service (x-user-id as the gateway sets it);
- REST through Envoy (JWT, transcoding), the path a browser takes;
- the same REST path through a second Envoy on the same creator with more worker threads.

For each: req/s, p50/p99 and the CPU per request of every process from /proc (the load client, Envoy, the creator,
PostgreSQL's backends, the other services), Envoy's own counters (upstream connections opened: connection reuse), and
PostgreSQL's time in `creator.open_report` per call (pg_stat_user_functions). A last phase samples the creator with
py-spy (when installed) and prints where its Python time goes. Every loop is bounded by a request count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from bench.stats import median, percentile
from client.tokens import mint, user_id_for
from fakes.instagram.creators import CREATORS
from scripts.stack import Stack, private_stack
from services.gateway.config import render
from services.gateway.process import EnvoyProcess, start_envoy
from services.gateway.settings import GatewaySettings

CONCURRENCY = 16
USER = "bench-profile"
FUNCTION_TIME = """
SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_time), 0) AS total_ms
  FROM pg_stat_user_functions WHERE schemaname = 'creator' AND funcname = 'open_report'
"""
ENVOY_COUNTERS = (
    "cluster.creator.upstream_cx_total",
    "cluster.creator.upstream_rq_total",
    "http.api.downstream_cx_total",
    "http.api.downstream_rq_total",
)
Call = Callable[[], Awaitable[None]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(parent: int) -> list[int]:
    """PostgreSQL's backends and helpers: the processes whose parent is the postmaster."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if ppid == parent:
                pids.append(int(entry.name))
    return pids


@dataclass
class Processes:
    named: dict[str, int]
    postmaster: int

    def snapshot(self) -> dict[str, float]:
        cpu = {name: cpu_seconds(pid) for name, pid in self.named.items()}
        cpu["postgres"] = cpu_seconds(self.postmaster) + sum(cpu_seconds(p) for p in children_of(self.postmaster))
        return cpu


@dataclass
class Run:
    latencies_s: list[float]
    elapsed_s: float
    cpu_s: dict[str, float]
    counters: dict[str, int]
    db_calls: int
    db_ms: float

    @property
    def rps(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0

    def us_per_request(self, part: str) -> float:
        return self.cpu_s.get(part, 0.0) / len(self.latencies_s) * 1e6 if self.latencies_s else 0.0


def envoy_counters(admin_url: str) -> dict[str, int]:
    with urllib.request.urlopen(admin_url + "/stats?format=json", timeout=5) as reply:
        stats = json.loads(reply.read())["stats"]
    return {s["name"]: int(s.get("value", 0)) for s in stats if s.get("name") in ENVOY_COUNTERS}


async def function_time(conn: asyncpg.Connection) -> tuple[int, float]:
    row = await conn.fetchrow(FUNCTION_TIME)
    return int(row["calls"]), float(row["total_ms"])


async def load(call: Call, requests: int, processes: Processes, admin_url: str | None, conn: asyncpg.Connection) -> Run:
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    share, extra = divmod(requests, CONCURRENCY)
    counters_before = envoy_counters(admin_url) if admin_url else {}
    db_before = await function_time(conn)
    cpu_before = processes.snapshot()
    client_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(share + (1 if i < extra else 0)) for i in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    cpu = {name: value - cpu_before[name] for name, value in processes.snapshot().items()}
    cpu["client"] = time.process_time() - client_before
    await asyncio.sleep(0.6)  # pg_stat counters reach the shared view at most every 500 ms (PGSTAT_MIN_INTERVAL)
    db_after = await function_time(conn)
    counters_after = envoy_counters(admin_url) if admin_url else {}
    counters = {k: counters_after.get(k, 0) - counters_before.get(k, 0) for k in ENVOY_COUNTERS}
    return Run(latencies, elapsed, cpu, counters, db_after[0] - db_before[0], db_after[1] - db_before[1])


def second_envoy(stack: Stack, concurrency: int, workdir: Path) -> EnvoyProcess:
    settings = GatewaySettings.from_env(
        {
            "GATEWAY_LISTEN": "127.0.0.1:0",
            "GATEWAY_ADMIN_LISTEN": "127.0.0.1:0",
            "CREATOR_ADDR": stack.values["CREATOR_ADDR"],
            "CDN_ADDR": stack.values["CDN_ADDR"],
            "SUPABASE_JWT_SECRET": stack.values["SUPABASE_JWT_SECRET"],
            "SUPABASE_JWT_ISSUER": stack.values["SUPABASE_JWT_ISSUER"],
            "GATEWAY_RATE_LIMIT_RPS": "1000000",
            "GATEWAY_USER_RATE_LIMIT_RPS": "1000000",
            "GATEWAY_ACCESS_LOG": str(workdir / "access.log"),
            "GATEWAY_CONCURRENCY": str(concurrency),
        }
    )
    return start_envoy(settings, render(settings), workdir)


async def settle(processes: Processes, names: list[str], deadline_s: float = 120.0) -> None:
    """Returns once `names` together used under 5 % of a core over half a second (or at the deadline)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        before = processes.snapshot()
        await asyncio.sleep(0.5)
        after = processes.snapshot()
        if sum(after[n] - before[n] for n in names) < 0.025:
            return


PARTS = ("client", "envoy", "creator", "postgres", "others")


def py_spy_profile(pid: int, seconds: float, out: Path) -> Path | None:
    """Starts py-spy on the creator (raw collapsed stacks, Python frames only); None when py-spy is missing."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        return None
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250"]
    command += ["--format", "raw", "--output", str(out), "--nonblocking"]
    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


# Where a sample of the creator's stack counts: the innermost frame that a specific rule names (first rule first);
# only a stack none of them names counts for the generic rows (the event loop running gRPC's C core, other threads).
# Time in C (gRPC's core, protobuf, socket calls) counts for the Python frame that called it.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database: asyncpg (queries, connection reset on release)", ("asyncpg/",)),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    (
        "search: answer from the stored report",
        ("services/creator/wire.py", "services/creator/report_json.py", "_answer (services/creator/search.py"),
    ),
    (
        "search flow, store, database guard",
        ("creator/search.py", "creator/store.py", "creator/dbguard.py", "creator/handlers.py"),
    ),
    ("interceptor (metadata, request id)", ("following/interceptors.py",)),
    ("gRPC server (grpc.aio Python)", ("grpc/",)),
)
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("event loop: gRPC C core (parse, serialise, HTTP/2), sockets", ("asyncio/", "selectors.py")),
    ("other threads (gRPC poller, metrics server)", ("threading.py", "socketserver.py")),
)


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return name
    for name, needles in GENERIC:
        if any(needle in frame for frame in frames for needle in needles):
            return name
    return "other"


def py_spy_table(path: Path) -> list[str]:
    buckets: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        total += int(count_text)
        buckets[_bucket(stack.split(";"))] += int(count_text)
    if not total:
        return ["py-spy recorded no samples"]
    lines = [
        f"py-spy on the creator during the REST load ({total} samples of busy threads, Python frames; a sample counts"
        " for the innermost frame a row names, so C work counts for its Python caller):",
        "",
        "| creator: where its CPU goes | share of samples |",
        "|---|---|",
    ]
    lines += [f"| {name} | {count / total:.0%} |" for name, count in buckets.most_common()]
    return lines


def table(results: dict[str, list[Run]], requests: int, rounds: int) -> list[str]:
    lines = [
        f"Cached search (same creator, same user), {CONCURRENCY} clients, {requests} requests per case and round,"
        f" {rounds} interleaved rounds; medians over rounds. CPU: µs per request per process (/proc, all threads);",
        "`others`: inference, CDN, sample upstream. `DB µs/call`: time inside creator.open_report"
        " (pg_stat_user_functions). `upstream cx`: connections Envoy opened to the creator during the load.",
        "",
        "| path | req/s | p50 ms | p99 ms | CPU µs/req total | client | envoy | creator | postgres | others"
        " | DB µs/call | upstream cx |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        parts = {part: median([r.us_per_request(part) for r in runs]) for part in PARTS}
        db = median([r.db_ms * 1000 / r.db_calls if r.db_calls else 0.0 for r in runs])
        cx = median([float(r.counters.get("cluster.creator.upstream_cx_total", 0)) for r in runs])
        lines.append(
            f"| {name} | {median([r.rps for r in runs]):.0f}"
            f" | {median([percentile(r.latencies_s, 50) for r in runs]) * 1000:.2f}"
            f" | {median([percentile(r.latencies_s, 99) for r in runs]) * 1000:.2f}"
            f" | {sum(parts.values()):.0f} | "
            + " | ".join(f"{parts[p]:.0f}" for p in PARTS)
            + f" | {db:.0f} | {'-' if name.startswith('direct') else f'{cx:.0f}'} |"
        )
    return lines


async def measure(stack: Stack, requests: int, rounds: int, profile_s: float) -> list[str]:
    name = next(c.username for c in CREATORS if not c.private and c.posts_available >= 12)
    token = mint(stack.values["SUPABASE_JWT_SECRET"], stack.values["SUPABASE_JWT_ISSUER"], USER)
    headers = {"Authorization": f"Bearer {token}"}
    gateway_url = f"http://{stack.values['GATEWAY_LISTEN']}/api/v1/creator/search/{name}"
    admin_url = f"http://{stack.values['GATEWAY_ADMIN_LISTEN']}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-envoy-"))
    wide = second_envoy(stack, 2, workdir)
    wide_url = f"{wide.base_url}/api/v1/creator/search/{name}"
    admin = await asyncpg.connect(stack.pg.dsn("following"))
    await admin.execute("ALTER SYSTEM SET track_functions = 'pl'")
    await admin.execute("SELECT pg_reload_conf()")
    postmaster = int((stack.pg.data_dir / "postmaster.pid").read_text().split()[0])
    named = {"envoy": stack.pid("gateway") or 0, "creator": stack.pid("creator") or 0}
    others = [stack.pid(n) or 0 for n in ("inference", "cdn", "sample-upstream")]
    processes = Processes({**named, **{f"other{i}": pid for i, pid in enumerate(others)}}, postmaster)
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http,
            grpc.aio.insecure_channel(stack.values["CREATOR_ADDR"]) as channel,
        ):
            stub = creator_pb2_grpc.CreatorServiceStub(channel)
            request = creator_pb2.SearchCreatorRequest(username=name)
            metadata = (("x-user-id", user_id_for(USER)),)

            async def direct() -> None:
                await stub.SearchCreator(request, metadata=metadata, timeout=30)

            def rest(url: str) -> Call:
                async def call() -> None:
                    async with http.post(url, json={}, headers=headers) as reply:
                        await reply.read()
                        if reply.status != 200:
                            raise RuntimeError(f"{url} answered {reply.status}")

                return call

            cases: dict[str, tuple[Call, str | None, int]] = {
                "direct gRPC to the creator": (direct, None, 0),
                "REST via Envoy (--concurrency 1)": (rest(gateway_url), admin_url, named["envoy"]),
                "REST via Envoy (--concurrency 2)": (rest(wide_url), wide.admin_url, wide.process.pid),
            }
            await rest(gateway_url)()  # the first search fetches; every later one is cached
            # The fetch hands 12 posts' images to the CDN and captions to inference: wait until that work is done, so
            # it is not counted against the cached searches.
            await settle(processes, [f"other{i}" for i in range(len(others))] + ["creator"])
            for call, _, _ in cases.values():
                for _ in range(200):
                    await call()
            await admin.execute("SELECT pg_stat_reset()")
            results: dict[str, list[Run]] = {case: [] for case in cases}
            for _ in range(rounds):
                for case, (call, stats_url, envoy_pid) in cases.items():
                    processes.named["envoy"] = envoy_pid
                    run = await load(call, requests, processes, stats_url, admin)
                    run.cpu_s["others"] = sum(run.cpu_s.pop(f"other{i}") for i in range(len(others)))
                    results[case].append(run)
            lines = table(results, requests, rounds)
            out = Path(tempfile.mkdtemp(prefix="bench-profile-spy-")) / "creator.txt"
            spy = py_spy_profile(named["creator"], profile_s, out)
            if spy is not None:
                deadline = time.monotonic() + profile_s + 20
                call = cases["REST via Envoy (--concurrency 1)"][0]
                while time.monotonic() < deadline and not (spy.exists() and spy.stat().st_size > 0):
                    await asyncio.gather(*(call() for _ in range(CONCURRENCY)))
                await asyncio.sleep(0.5)
                lines += ["", *py_spy_table(spy)] if spy.exists() else ["", "py-spy wrote no profile"]
            else:
                lines += ["", "py-spy is not installed (`make setup` installs the dev group): no creator profile"]
    finally:
        await admin.execute("ALTER SYSTEM RESET track_functions")
        await admin.close()
        wide.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile-seconds", type=float, default=6.0)
    args = parser.parse_args()
    stack = private_stack("following-bench-profile-")
    try:
        stack.up(extra_env={"gateway": {"GATEWAY_RATE_LIMIT_RPS": "100000", "GATEWAY_USER_RATE_LIMIT_RPS": "100000"}})
        lines = asyncio.run(measure(stack, args.requests, args.rounds, args.profile_seconds))
    finally:
        stack.down()
        shutil.rmtree(stack.run, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
