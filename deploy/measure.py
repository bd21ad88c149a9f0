"""Where the pods' resource requests and limits come from: runs a private local stack in a scratch folder, drives the
end-to-end search benchmark through the gateway (fresh and cached searches, 16 concurrent clients), and reports each
process's resident memory (after start, and peak) and CPU (cores used while loaded) from /proc.

    .venv/bin/python -m deploy.measure        # needs `make models`; prints a Markdown table
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e import measure as drive_searches
from client.tokens import mint
from scripts.pgcluster import free_port
from scripts.stack import Stack

COMPONENTS = ("gateway", "creator", "inference", "cdn")
SAMPLE_EVERY_S = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    """One process's figures: memory in MiB, CPU in cores."""

    start_rss: float = 0.0
    peak_rss: float = 0.0
    cpu_seconds: float = 0.0
    busiest_core_share: float = 0.0
    samples: list[float] = field(default_factory=list)


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads."""
    parts = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(parts[11]) + int(parts[12])) / CLOCK_TICKS


def sample(pids: dict[str, int], usage: dict[str, Usage], stop: threading.Event) -> None:
    """Every SAMPLE_EVERY_S: the CPU share of each process over the last interval (bounded by `stop`)."""
    last = {name: cpu_seconds(pid) for name, pid in pids.items()}
    while not stop.wait(SAMPLE_EVERY_S):
        for name, pid in pids.items():
            now = cpu_seconds(pid)
            usage[name].samples.append((now - last[name]) / SAMPLE_EVERY_S)
            last[name] = now


def run(stack: Stack, gateway: str) -> tuple[dict[str, Usage], dict[str, float], float]:
    pids = {name: stack.pid(name) for name in COMPONENTS}
    missing = [name for name, pid in pids.items() if pid is None]
    if missing:
        raise RuntimeError(f"not running: {', '.join(missing)}")
    running = {name: pid for name, pid in pids.items() if pid is not None}
    usage = {name: Usage(start_rss=rss_mib(pid)[0]) for name, pid in running.items()}
    before = {name: cpu_seconds(pid) for name, pid in running.items()}
    token = mint(stack.values["SUPABASE_JWT_SECRET"], stack.values["SUPABASE_JWT_ISSUER"], "measure")
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(running, usage, stop), daemon=True)
    started = time.monotonic()
    sampler.start()
    try:
        figures = asyncio.run(drive_searches(gateway, token, stack.pg.dsn("following")))
    finally:
        stop.set()
        sampler.join(timeout=5)
    wall = time.monotonic() - started
    for name, pid in running.items():
        usage[name].peak_rss = rss_mib(pid)[1]
        usage[name].cpu_seconds = cpu_seconds(pid) - before[name]
        usage[name].busiest_core_share = max(usage[name].samples, default=0.0)
    return usage, figures, wall


def report(usage: dict[str, Usage], figures: dict[str, float], wall: float) -> str:
    lines = [
        f"Load: bench.e2e searches through the gateway for {wall:.0f} s "
        f"(cached, 16 clients: {figures['cached16_rps']:.0f} req/s, p99 {figures['cached16_p99_ms']:.1f} ms).",
        "",
        "| process | RSS after start MiB | peak RSS MiB | mean cores under load | busiest 0.2 s, cores |",
        "|---|---|---|---|---|",
    ]
    for name, u in usage.items():
        cores = u.cpu_seconds / wall
        lines.append(f"| {name} | {u.start_rss:.0f} | {u.peak_rss:.0f} | {cores:.2f} | {u.busiest_core_share:.2f} |")
    return "\n".join(lines)


def main() -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="following-measure-"))
    os.chmod(run_dir, 0o755)
    keys = [
        *("GATEWAY_LISTEN", "GATEWAY_ADMIN_LISTEN", "CREATOR_ADDR", "INFERENCE_ADDR", "CDN_ADDR"),
        *("CREATOR_METRICS_LISTEN", "INFERENCE_METRICS_LISTEN", "CDN_METRICS_LISTEN"),
        *("SAMPLE_UPSTREAM_LISTEN", "CDN_HTTP_LISTEN"),
    ]
    ports = {key: f"127.0.0.1:{free_port()}" for key in keys}
    overrides = {
        **ports,
        "STACK_PG_PORT": str(free_port()),
        "SUPABASE_JWT_ISSUER": f"http://{ports['GATEWAY_LISTEN']}/auth/v1",
    }
    stack = Stack(run_dir, overrides)
    try:
        # The pods' sizes: two model worker threads (INFERENCE_WORKERS in the manifests), two Envoy workers.
        stack.up(
            extra_env={
                "inference": {"INFERENCE_WORKERS": "2", "INFERENCE_THREADS": "1"},
                "gateway": {
                    "GATEWAY_CONCURRENCY": "2",
                    "GATEWAY_RATE_LIMIT_RPS": "100000",
                    "GATEWAY_USER_RATE_LIMIT_RPS": "100000",
                },
            }
        )
        usage, figures, wall = run(stack, f"http://{ports['GATEWAY_LISTEN']}")
    finally:
        stack.down()
        shutil.rmtree(run_dir, ignore_errors=True)
    print(report(usage, figures, wall))


if __name__ == "__main__":
    main()
