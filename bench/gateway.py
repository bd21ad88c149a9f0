"""`make bench-gateway`: the latency and throughput Envoy adds, against calling the gRPC backend directly.

One run starts the gateway's test backend (a grpc.aio server built from the stubs, in its own process) and a real Envoy
rendered from GatewaySettings (HS256 JWT, transcoding, CORS, rate limit set out of the way, access log to a file), then
measures side by side, in interleaved rounds, the same RPC (ListUnlocked) three ways:

- direct: grpc.aio client -> backend;
- gRPC via gateway: grpc.aio client -> Envoy (JWT check) -> backend;
- REST via gateway: aiohttp GET /api/v1/creator/unlocked -> Envoy (JWT check, JSON transcoding) -> backend.

Each at 1 client (sequential: the added latency) and 16 concurrent clients (throughput). Targets: <= 1 ms added at p50
with one client; >= 80% of direct throughput at 16 clients. Loopback only; every loop is bounded by a request count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import jwt
from creator.v1 import creator_pb2, creator_pb2_grpc

from bench.stats import median, percentile
from services.gateway.config import render
from services.gateway.process import EnvoyProcess, start_envoy
from services.gateway.settings import GatewaySettings

SECRET = "bench-only-hs256-secret-with-at-least-32-characters"
ISSUER = "http://127.0.0.1:54321/auth/v1"
CONCURRENCIES = (1, 16)
TARGET_ADDED_P50_MS = 1.0
TARGET_THROUGHPUT_RATIO = 0.80
# REST pays the JSON transcoding on top of the proxying; it must stay within 15 % of direct gRPC (CPU-bound: 10 %).
TARGET_REST_RATIO = 0.85
TARGET_REST_CPU_BOUND = 0.90

Call = Callable[[], Awaitable[None]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    latencies_s: list[float]
    elapsed_s: float
    cpu_s: dict[str, float]  # client, envoy, backend

    def cpu_us_per_request(self, part: str) -> float:
        return self.cpu_s[part] / len(self.latencies_s) * 1e6 if self.latencies_s else 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0


async def measure(call: Call, requests: int, concurrency: int, pids: dict[str, int]) -> Run:
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    share, extra = divmod(requests, concurrency)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    client_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(share + (1 if i < extra else 0)) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["client"] = time.process_time() - client_before
    return Run(latencies, elapsed, cpu)


def start_backend(workdir: Path, deadline_s: float = 20.0) -> tuple[subprocess.Popen[bytes], int]:
    port_file = workdir / "backend.port"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.backends", "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"test backend exited with {process.returncode}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text:
            return process, int(text)
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("test backend did not start")


def start_gateway(backend_port: int, workdir: Path) -> EnvoyProcess:
    settings = GatewaySettings.from_env(
        {
            "GATEWAY_LISTEN": "127.0.0.1:0",
            "GATEWAY_ADMIN_LISTEN": "127.0.0.1:0",
            "CREATOR_ADDR": f"127.0.0.1:{backend_port}",
            "CDN_ADDR": f"127.0.0.1:{backend_port}",
            "SUPABASE_JWT_SECRET": SECRET,
            "SUPABASE_JWT_ISSUER": ISSUER,
            "GATEWAY_RATE_LIMIT_RPS": "1000000",
            "GATEWAY_USER_RATE_LIMIT_RPS": "1000000",
            "GATEWAY_ACCESS_LOG": str(workdir / "access.log"),
            "GATEWAY_CONCURRENCY": os.environ.get("GATEWAY_CONCURRENCY", "1"),
        }
    )
    return start_envoy(settings, render(settings), workdir)


def token() -> str:
    now = int(time.time())
    claims = {"sub": "bench-user", "iss": ISSUER, "aud": "authenticated", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def run(requests: int, rounds: int, warmup: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    backend, port = start_backend(workdir)
    gateway = start_gateway(port, workdir)
    bearer = f"Bearer {token()}"
    request = creator_pb2.ListUnlockedRequest(page_size=20)
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as direct_channel,
            grpc.aio.insecure_channel(gateway.grpc_target) as gateway_channel,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http,
        ):
            direct = creator_pb2_grpc.CreatorServiceStub(direct_channel)
            via_gateway = creator_pb2_grpc.CreatorServiceStub(gateway_channel)
            url = gateway.base_url + "/api/v1/creator/unlocked?page_size=20"

            async def call_direct() -> None:
                await direct.ListUnlocked(request, metadata=(("x-user-id", "bench-user"),), timeout=10)

            async def call_grpc_gateway() -> None:
                await via_gateway.ListUnlocked(request, metadata=(("authorization", bearer),), timeout=10)

            async def call_rest_gateway() -> None:
                async with http.get(url, headers={"Authorization": bearer}) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"REST call answered {response.status}")

            cases: dict[str, Call] = {
                "direct gRPC": call_direct,
                "gRPC via gateway": call_grpc_gateway,
                "REST via gateway": call_rest_gateway,
            }
            pids = {"envoy": gateway.process.pid, "backend": backend.pid}
            for call in cases.values():
                await measure(call, warmup, 4, pids)
            results: dict[tuple[str, int], list[Run]] = {(n, c): [] for n in cases for c in CONCURRENCIES}
            for _ in range(rounds):
                for concurrency in CONCURRENCIES:
                    for name, call in cases.items():
                        results[(name, concurrency)].append(await measure(call, requests, concurrency, pids))
    finally:
        gateway.stop()
        backend.terminate()
        backend.wait(10)
    report(results, requests, rounds)


def _cpu_total_us(runs: list[Run]) -> float:
    return median([sum(r.cpu_us_per_request(p) for p in ("client", "envoy", "backend")) for r in runs])


def report(results: dict[tuple[str, int], list[Run]], requests: int, rounds: int) -> None:
    print(f"ListUnlocked, {requests} requests per case and round, {rounds} interleaved rounds; medians over rounds.")
    print(f"Envoy --concurrency {os.environ.get('GATEWAY_CONCURRENCY', '1')}, loopback, client in one Python process.")
    print("CPU columns: microseconds of CPU per request of the client, Envoy and backend processes (/proc).")
    print(
        "`CPU-bound` = direct's total CPU per request / this path's: the throughput ratio when the cores are the limit"
    )
    print("(robust to other load on the machine, unlike the measured req/s).")
    print()
    print(
        "| clients | path | p50 ms | p99 ms | req/s | added p50 ms | req/s vs direct | CPU-bound vs direct |"
        " CPU µs/req client / envoy / backend |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for concurrency in CONCURRENCIES:
        base = results[("direct gRPC", concurrency)]
        base_p50 = median([percentile(r.latencies_s, 50) for r in base])
        base_rps = median([r.throughput for r in base])
        base_cpu = _cpu_total_us(base)
        for name in ("direct gRPC", "gRPC via gateway", "REST via gateway"):
            runs = results[(name, concurrency)]
            p50 = median([percentile(r.latencies_s, 50) for r in runs])
            p99 = median([percentile(r.latencies_s, 99) for r in runs])
            rps = median([r.throughput for r in runs])
            cpu = [median([r.cpu_us_per_request(part) for r in runs]) for part in ("client", "envoy", "backend")]
            cpu_ratio = base_cpu / _cpu_total_us(runs) if runs else 0.0
            added = (p50 - base_p50) * 1000
            ratio = rps / base_rps if base_rps else 0.0
            is_base = name == "direct gRPC"
            print(
                f"| {concurrency} | {name} | {p50 * 1000:.2f} | {p99 * 1000:.2f} | {rps:.0f} | "
                f"{'-' if is_base else f'{added:+.2f} ({p50 / base_p50:.2f}x)'} | "
                f"{'-' if is_base else f'{ratio:.0%}'} | {'-' if is_base else f'{cpu_ratio:.0%}'} | "
                f"{cpu[0]:.0f} / {cpu[1]:.0f} / {cpu[2]:.0f} |"
            )
            if is_base:
                continue
            if concurrency == 1:
                met = added <= TARGET_ADDED_P50_MS
                verdicts.append(
                    f"{'met' if met else 'MISSED'}: {name}, 1 client: {added:+.2f} ms at p50 (target <= 1 ms)"
                )
            elif name.startswith("REST"):
                met = ratio >= TARGET_REST_RATIO and cpu_ratio >= TARGET_REST_CPU_BOUND
                verdicts.append(
                    f"{'met' if met else 'MISSED'}: {name}, 16 clients: {ratio:.0%} of direct req/s, CPU-bound "
                    f"{cpu_ratio:.0%} (target >= {TARGET_REST_RATIO:.0%}, CPU-bound >= {TARGET_REST_CPU_BOUND:.0%})"
                )
            else:
                met = ratio >= TARGET_THROUGHPUT_RATIO
                verdicts.append(
                    f"{'met' if met else 'MISSED'}: {name}, 16 clients: {ratio:.0%} of direct req/s "
                    f"(target >= 80%; CPU-bound estimate {cpu_ratio:.0%})"
                )
    print()
    for verdict in verdicts:
        print(f"- {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per case, concurrency and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds, args.warmup))


if __name__ == "__main__":
    main()
