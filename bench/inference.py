"""`make bench-inference`: the inference service over gRPC against a bare onnxruntime loop on the same models.

In one run, on the captions of tests/data (those with text):

- bare onnxruntime: featurize + run every model of the manifest (all three tasks) in batches of 1, 8 and 32, no server,
  in two layouts: one loop on as many intra-op threads as cores, and one loop per core on one intra-op thread each
  (the loops share the sessions, as the service's worker threads do). The best of these cases is the reference: the
  ceiling the service's batching can reach;
- PyTorch (when torch and sentence-transformers are installed): MiniLM `encode` + the same heads in numpy, batches of 32
  (sentiment and category only);
- the service (`python -m services.inference.server` as its own process) at 1, 8 and 32 concurrent closed-loop
  clients, one caption per request and 12 captions (one search) per request, all tasks: texts/s and request p50/p99
  in steady state (1 s of load before a 3 s window, load going on throughout), and its throughput as a share of the
  reference;
- a 12-caption search: one request with 12 captions, all tasks, sequentially: p50/p99.

Bare and service cases run in interleaved rounds (default 3) and every figure is the median over rounds, so a burst of
load elsewhere on the machine hits both sides alike. Besides texts/s, each case reports CPU time per text: of the bare
loop's process, and of the service process (from /proc/<pid>/stat). The load-generating client runs on the same cores
as the service and the bare loop has no client at all, so the measured ratio (headline, the target's verdict) charges
the service for the client's CPU too; the CPU-bound ratio (reference CPU per text / service CPU per text) is printed
beside it: what the service would reach if its own CPU were the only limit.

Targets (2-core machine): the service >= 85% of the reference's throughput at 32 clients sending 12 captions per
request, the shape of the creator service's calls (one AnalyzeTexts per search); 12 captions <= 60 ms p50. One caption
per request is measured beside it: it shows what a gRPC call per caption costs. Every loop is bounded by a request
count (and the service's by its window).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from bench.stats import median, percentile
from following.healthcheck import wait_serving
from scripts.pgcluster import free_port
from services.inference.evaluate import load_examples
from services.inference.manifest import TaskName, load_manifest
from services.inference.modelcache import resolve_models_dir
from services.inference.runners import Runner, load_runners
from services.inference.texts import has_text, model_text

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = (1, 8, 32)
TEXTS_PER_LEVEL = 1920  # bare: texts per case
WARMUP_S = 1.0  # service cases: load before the measuring window opens
SERVICE_WINDOW_S = 3.0  # service cases: the measuring window, load going on throughout
MAX_REQUESTS_PER_CLIENT = 100_000  # service cases: a bound on every client loop besides the clock
SEARCHES = 60
SEARCH_SIZE = 12
REQUEST_SIZES = (1, SEARCH_SIZE)  # captions per request: one caption, and one search's captions


def captions() -> list[str]:
    return [e.text for e in load_examples() if has_text(e.text)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Case:
    """One case of one round: texts/s, per-batch or per-request seconds, CPU seconds per text of its process."""

    rate: float
    latencies: list[float]
    cpu_per_text: float


@dataclass(frozen=True)
class BareLayout:
    """How the bare loop uses the cores: `loops` threads, each running whole batches on `threads` intra-op threads."""

    loops: int
    threads: int

    def __str__(self) -> str:
        return f"{self.loops} loop(s) x {self.threads} thread(s)"


def bare_layouts() -> list[BareLayout]:
    cores = os.cpu_count() or 1
    return [BareLayout(1, cores), BareLayout(cores, 1)] if cores > 1 else [BareLayout(1, 1)]


def bare_runners(models: Path, threads: int) -> list[Runner]:
    runners = load_runners(load_manifest(models), threads)
    for runner in runners:
        runner.run(["warm-up caption"] * 32)
    return runners


def bare_onnxruntime(runners: Sequence[Runner], texts: Sequence[str], batch: int, loops: int) -> Case:
    """Every model on `texts` in batches of `batch`, in `loops` threads of this process sharing the sessions (each
    loop takes every loops-th batch); CPU is this process's (the loops' and onnxruntime's threads)."""
    latencies: list[float] = []
    batches = [texts[start : start + batch] for start in range(0, len(texts), batch)]

    def loop(share: Sequence[Sequence[str]]) -> None:
        for chunk in share:
            began = time.perf_counter()
            prepared = [model_text(text) for text in chunk]
            for runner in runners:
                runner.run(prepared)
            latencies.append(time.perf_counter() - began)

    cpu_before = cpu_seconds(os.getpid())
    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(batches[i::loops],)) for i in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Case(len(texts) / elapsed, latencies, (cpu_seconds(os.getpid()) - cpu_before) / len(texts))


def pytorch_path(models: Path, texts: Sequence[str], batch: int) -> float | None:
    """texts/s of sentence-transformers `encode` plus the graph's heads in numpy; None without torch."""
    try:
        from sentence_transformers import SentenceTransformer

        from services.inference.modelbuild import categories, sentiment
        from services.inference.modelbuild.encoder import minilm_source
    except ImportError:
        return None
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(str(minilm_source()), device="cpu")
    layers, _ = sentiment.load_head()
    category = np.random.default_rng(0).standard_normal((384, len(categories.LABELS))).astype(np.float32)
    model.encode(list(texts[:batch]), batch_size=batch)
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        vectors = model.encode(list(texts[start : start + batch]), batch_size=batch, normalize_embeddings=True)
        _ = (sentiment.predict(list(layers), vectors), vectors @ category)
    return len(texts) / (time.perf_counter() - started)


async def clients(
    stub: inference_pb2_grpc.InferenceServiceStub, texts: Sequence[str], count: int, per_request: int, pid: int
) -> Case:
    """`count` closed-loop clients each sending `per_request` captions per request: WARMUP_S of load (queues fill,
    batches reach their steady size), then a SERVICE_WINDOW_S window while the load goes on. texts/s counts the texts
    of the requests answered inside the window, latencies are of the requests sent inside it, and CPU per text is the
    service process's (`pid`) CPU inside the window over those texts: steady state, without the ramp-up (the first
    answers come one batch round-trip after the start) or the ramp-down (the last clients finishing alone)."""
    latencies: list[float] = []
    answered = 0
    started = time.perf_counter()
    opens, closes = started + WARMUP_S, started + WARMUP_S + SERVICE_WINDOW_S
    cpu: list[float] = []

    async def client(offset: int) -> None:
        nonlocal answered
        for i in range(MAX_REQUESTS_PER_CLIENT):
            began = time.perf_counter()
            if began >= closes:
                return
            first = (offset * MAX_REQUESTS_PER_CLIENT + i) * per_request
            chunk = [texts[(first + j) % len(texts)] for j in range(per_request)]
            await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=chunk), timeout=60)
            finished = time.perf_counter()
            if began >= opens:
                latencies.append(finished - began)
            if opens <= finished < closes:
                answered += per_request

    async def sample_cpu() -> None:
        for moment in (opens, closes):
            await asyncio.sleep(max(0.0, moment - time.perf_counter()))
            cpu.append(cpu_seconds(pid))

    await asyncio.gather(sample_cpu(), *(client(c) for c in range(count)))
    return Case(answered / SERVICE_WINDOW_S, latencies, (cpu[1] - cpu[0]) / max(1, answered))


async def searches(stub: inference_pb2_grpc.InferenceServiceStub, texts: Sequence[str]) -> list[float]:
    latencies = []
    for i in range(SEARCHES + 5):
        chunk = [texts[(i * SEARCH_SIZE + j) % len(texts)] for j in range(SEARCH_SIZE)]
        began = time.perf_counter()
        await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=chunk), timeout=60)
        if i >= 5:
            latencies.append(time.perf_counter() - began)
    return latencies


Rounds = dict[tuple[str, str, int, int], list[Case]]  # ("bare", layout, batch, 0) or ("service", "", clients, size)


async def rounds(models: Path, texts: Sequence[str], corpus: Sequence[str], count: int) -> tuple[Rounds, list[float]]:
    """`count` interleaved rounds of every bare and service case, the service in its own process throughout."""
    layouts = {layout: bare_runners(models, layout.threads) for layout in bare_layouts()}
    port = free_port()
    env = {**os.environ, "GRPC_LISTEN": f"127.0.0.1:{port}", "METRICS_LISTEN": "off", "MODELS_DIR": str(models)}
    env["LOG_LEVEL"] = "WARNING"
    results: Rounds = {}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
            [sys.executable, "-m", "services.inference.server"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            await wait_serving(f"127.0.0.1:{port}", 120)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = inference_pb2_grpc.InferenceServiceStub(channel)
                for size in REQUEST_SIZES:  # warm-up: connection, batch shapes, allocator
                    await clients(stub, texts, max(CLIENTS), size, proc.pid)
                for _ in range(count):
                    for layout, runners in layouts.items():
                        for batch in CLIENTS:
                            case = bare_onnxruntime(runners, corpus, batch, layout.loops)
                            results.setdefault(("bare", str(layout), batch, 0), []).append(case)
                    for size in REQUEST_SIZES:
                        for clients_count in CLIENTS:
                            case = await clients(stub, texts, clients_count, size, proc.pid)
                            results.setdefault(("service", "", clients_count, size), []).append(case)
                return results, await searches(stub, texts)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def ms(samples: Sequence[float], q: float) -> str:
    return f"{percentile(samples, q) * 1000:.1f}"


def summarize(cases: Sequence[Case]) -> tuple[float, list[float], float]:
    """Median texts/s and CPU per text over rounds; latencies pooled."""
    pooled = [latency for case in cases for latency in case.latencies]
    return median([c.rate for c in cases]), pooled, median([c.cpu_per_text for c in cases])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians over rounds")
    args = parser.parse_args()
    models = resolve_models_dir(os.environ.get("MODELS_DIR"))
    manifest = load_manifest(models)
    texts = captions()
    corpus = [texts[i % len(texts)] for i in range(TEXTS_PER_LEVEL)]
    print(f"models: {models} (build {manifest.build}); {len(texts)} captions; {os.cpu_count()} cores")
    names = ", ".join(f"{m.name} [{m.quantization}]" for m in manifest.models)
    print(f"all tasks per text ({', '.join(t.value for t in TaskName)}): {names}")
    print(f"{args.rounds} interleaved rounds of bare and service cases; texts/s and CPU per text are medians\n")
    torch_rate = pytorch_path(models, corpus, 32)
    results, search = asyncio.run(rounds(models, texts, corpus, args.rounds))
    summary = {key: summarize(cases) for key, cases in results.items()}
    # The reference is the best bare case, whatever its layout and batch: the service is held to the fastest way
    # these sessions can be run without a server.
    best = max((key for key in summary if key[0] == "bare"), key=lambda key: summary[key][0])
    bare_rate, _, bare_cpu = summary[best]
    print("| path | batch / clients | texts/s | p50 ms | p99 ms | CPU ms per text | measured share | CPU-bound share |")
    print("|---|---|---|---|---|---|---|---|")
    for (kind, layout, level, size), (rate, latencies, cpu) in summary.items():
        cells = f"{level} | {rate:.0f} | {ms(latencies, 50)} | {ms(latencies, 99)} | {cpu * 1000:.2f}"
        if kind == "bare":
            print(f"| bare onnxruntime, {layout} (per batch) | {cells} | | |")
        else:
            shares = f"{rate / bare_rate:.0%} | {bare_cpu / cpu:.0%}" if cpu else f"{rate / bare_rate:.0%} | -"
            print(f"| service over gRPC, {size} caption(s) per request | {cells} | {shares} |")
    if torch_rate is not None:
        print(f"| PyTorch sentence-transformers (sentiment+category only) | 32 | {torch_rate:.0f} | | | | | |")
    reference = f"bare {best[1]}, batch {best[2]}"
    print(f"\nreference: the best bare case ({reference}, {bare_rate:.0f} texts/s).")
    print("measured share: service texts/s / reference texts/s, with the load client on the same cores;")
    print("CPU-bound share: reference CPU per text / service process CPU per text (client excluded).")
    workers = os.environ.get("INFERENCE_WORKERS", str(os.cpu_count() or 1))
    print(f"service: INFERENCE_WORKERS={workers}, INFERENCE_THREADS={os.environ.get('INFERENCE_THREADS', '1')}")
    print(f"\n12-caption search, all tasks, one request ({SEARCHES} searches): ", end="")
    print(f"p50 {ms(search, 50)} ms, p99 {ms(search, 99)} ms")
    rate, _, cpu = summary[("service", "", 32, SEARCH_SIZE)]
    share, bound = rate / bare_rate, bare_cpu / cpu if cpu else 0.0
    print(
        f"target: service >= 85% of bare at 32 clients, {SEARCH_SIZE} captions per request (one search, as the creator "
        f"service calls it): measured {share:.0%} {'met' if share >= 0.85 else 'NOT met'} (CPU-bound {bound:.0%})"
    )
    rate, _, cpu = summary[("service", "", 32, 1)]
    print(
        f"one caption per request at 32 clients (the cost of a gRPC call per caption): measured {rate / bare_rate:.0%} "
        f"of bare (CPU-bound {bare_cpu / cpu if cpu else 0.0:.0%})"
    )
    print(f"target: 12 captions <= 60 ms p50: {'met' if percentile(search, 50) <= 0.060 else 'NOT met'}")


if __name__ == "__main__":
    main()
