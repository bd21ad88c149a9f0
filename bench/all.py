"""`make bench`: every benchmark in one run, then BENCHMARKS.md with the machine, the commands and the figures.

Each benchmark runs as its own process (`python -m bench.<name>`) one after another, so they do not compete for the
two cores; its printed figures go into the report verbatim.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = (
    ("gateway", "Gateway: Envoy's added latency against direct gRPC"),
    ("inference", "Inference: the service against bare ONNX Runtime"),
    ("cdn", "CDN: the pipeline against a bare Pillow loop; claim throughput"),
    ("creator", "Creator service: fresh and cached searches at the service; the refresh scheduler"),
    ("e2e", "Whole system: searches end to end through Envoy"),
    ("profile", "Profile: where the CPU of a cached search goes, end to end"),
    ("discovery", "Discovery: 100,000 creators on pgvector, HNSW build and recall, similar and discover latency"),
)
OLD_SYSTEM = """| measure | old system (SYSTEM_STATUS.md) |
|---|---|
| fresh search (fit.bayann, 12 posts) | 183.6 s |
| cached search | 1-3 s |
| AI analysis | 3-5 s per post |
| CDN processing | 5 jobs/s (rate limited), 3 workers |"""


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
    return f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB, Python {platform.python_version()}"


def main() -> None:
    sections = [
        "# Benchmarks",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}, loopback only, with"
        " `make bench` (each section: `python -m bench.<name>`, also `make bench-<name>`). Figures are from one run;"
        " the machine's two cores are shared by the load generator and the services.",
        "",
        "## The old system",
        "",
        OLD_SYSTEM,
    ]
    failed = []
    for name, title in BENCHES:
        print(f"== bench.{name} ==", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=ROOT, capture_output=True, text=True, timeout=1800
        )
        print(result.stdout, flush=True)
        output = result.stdout.strip()
        if result.returncode != 0:
            failed.append(name)
            output += f"\n\n(failed with exit code {result.returncode})\n" + result.stderr.strip()[-2000:]
        sections += ["", f"## {title}", "", f"`make bench-{name}` ({time.monotonic() - started:.0f} s):", "", output]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(sections) + "\n")
    print("wrote BENCHMARKS.md")
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
