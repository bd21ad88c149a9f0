"""`make bench-inference`: the inference service over gRPC against a bare onnxruntime loop on the same models.

In one run, on the captions of tests/data (those with text):

- bare onnxruntime: featurize + run every model of the manifest (all three tasks) in batches of 1, 8 and 32, in one
  thread, no server: the ceiling the service's batching can reach;
- PyTorch (when torch and sentence-transformers are installed): MiniLM `encode` + the same heads in numpy, batches of 32
  (sentiment and category only);
- the service (`python -m services.inference.server` as its own process) at 1, 8 and 32 concurrent clients, one caption
  per request and 12 captions (one search) per request, all tasks: texts/s and request p50/p99, and its throughput as
  a share of bare onnxruntime at batch 32 (its best);
- a 12-caption search: one request with 12 captions, all tasks, sequentially: p50/p99.

Targets (2-core machine): the service >= 85% of bare onnxruntime throughput at 32 clients; 12 captions <= 60 ms p50.
Every loop is bounded by a request count; the client and the service share the machine's cores.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
import numpy as np
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from bench.stats import percentile
from following.healthcheck import wait_serving
from scripts.pgcluster import free_port
from services.inference.evaluate import load_examples
from services.inference.manifest import TaskName, load_manifest
from services.inference.modelcache import resolve_models_dir
from services.inference.runners import load_runners
from services.inference.texts import has_text, model_text

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = (1, 8, 32)
TEXTS_PER_LEVEL = 960
SEARCHES = 60
SEARCH_SIZE = 12
REQUEST_SIZES = (1, SEARCH_SIZE)  # captions per request: one caption, and one search's captions


def captions() -> list[str]:
    return [e.text for e in load_examples() if has_text(e.text)]


def bare_onnxruntime(models: Path, texts: Sequence[str], batch: int) -> tuple[float, list[float]]:
    """(texts/s, per-batch seconds) running every model on `texts` in batches of `batch`."""
    runners = load_runners(load_manifest(models), os.cpu_count() or 1)
    for runner in runners:
        runner.run(list(texts[:batch]))
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        chunk = [model_text(text) for text in texts[start : start + batch]]
        began = time.perf_counter()
        for runner in runners:
            runner.run(chunk)
        latencies.append(time.perf_counter() - began)
    return len(texts) / (time.perf_counter() - started), latencies


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
    stub: inference_pb2_grpc.InferenceServiceStub, texts: Sequence[str], count: int, per_request: int
) -> tuple[float, list[float]]:
    """(texts/s, request seconds) with `count` clients each sending `per_request` captions per request."""
    requests = max(1, TEXTS_PER_LEVEL // (count * per_request))
    latencies: list[float] = []

    async def client(offset: int) -> None:
        for i in range(requests):
            first = (offset * requests + i) * per_request
            chunk = [texts[(first + j) % len(texts)] for j in range(per_request)]
            began = time.perf_counter()
            await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=chunk), timeout=60)
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(client(c) for c in range(count)))  # warm-up round on the same connection
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(count)))
    return requests * count * per_request / (time.perf_counter() - started), latencies


async def searches(stub: inference_pb2_grpc.InferenceServiceStub, texts: Sequence[str]) -> list[float]:
    latencies = []
    for i in range(SEARCHES + 5):
        chunk = [texts[(i * SEARCH_SIZE + j) % len(texts)] for j in range(SEARCH_SIZE)]
        began = time.perf_counter()
        await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=chunk), timeout=60)
        if i >= 5:
            latencies.append(time.perf_counter() - began)
    return latencies


Levels = dict[tuple[int, int], tuple[float, list[float]]]


async def service(models: Path, texts: Sequence[str]) -> tuple[Levels, list[float]]:
    port = free_port()
    env = {**os.environ, "GRPC_LISTEN": f"127.0.0.1:{port}", "METRICS_LISTEN": "off", "MODELS_DIR": str(models)}
    env["LOG_LEVEL"] = "WARNING"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
            [sys.executable, "-m", "services.inference.server"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            await wait_serving(f"127.0.0.1:{port}", 120)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = inference_pb2_grpc.InferenceServiceStub(channel)
                levels = {
                    (count, size): await clients(stub, texts, count, size)
                    for size in REQUEST_SIZES
                    for count in CLIENTS
                }
                return levels, await searches(stub, texts)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def ms(samples: Sequence[float], q: float) -> str:
    return f"{percentile(samples, q) * 1000:.1f}"


def main() -> None:
    models = resolve_models_dir(os.environ.get("MODELS_DIR"))
    manifest = load_manifest(models)
    texts = captions()
    corpus = [texts[i % len(texts)] for i in range(TEXTS_PER_LEVEL)]
    print(f"models: {models} (build {manifest.build}); {len(texts)} captions; {os.cpu_count()} cores")
    names = ", ".join(f"{m.name} [{m.quantization}]" for m in manifest.models)
    print(f"all tasks per text ({', '.join(t.value for t in TaskName)}): {names}\n")
    bare = {batch: bare_onnxruntime(models, corpus, batch) for batch in CLIENTS}
    torch_rate = pytorch_path(models, corpus, 32)
    levels, search = asyncio.run(service(models, texts))
    print("| path | batch / clients | texts/s | p50 ms | p99 ms | share of bare onnxruntime at batch 32 |")
    print("|---|---|---|---|---|---|")
    for batch, (rate, latencies) in bare.items():
        print(f"| bare onnxruntime (per batch) | {batch} | {rate:.0f} | {ms(latencies, 50)} | {ms(latencies, 99)} | |")
    if torch_rate is not None:
        print(f"| PyTorch sentence-transformers (sentiment+category only) | 32 | {torch_rate:.0f} | | | |")
    for (count, size), (rate, latencies) in levels.items():
        share = rate / bare[32][0]
        cells = f"{count} | {rate:.0f} | {ms(latencies, 50)} | {ms(latencies, 99)} | {share:.0%}"
        print(f"| service over gRPC, {size} caption(s) per request | {cells} |")
    print(f"\n12-caption search, all tasks, one request ({SEARCHES} searches): ", end="")
    print(f"p50 {ms(search, 50)} ms, p99 {ms(search, 99)} ms")
    for size in REQUEST_SIZES:
        share = levels[(32, size)][0] / bare[32][0]
        verdict = "met" if share >= 0.85 else "NOT met"
        print(f"target: service >= 85% of bare at 32 clients, {size} caption(s) per request: {share:.0%} {verdict}")
    print(f"target: 12 captions <= 60 ms p50: {'met' if percentile(search, 50) <= 0.060 else 'NOT met'}")


if __name__ == "__main__":
    main()
