"""The service's Prometheus endpoint exposes batch sizes, batch and request latency, queue depth and texts per task."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from tests.inference.conftest import serving


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_count_batches_requests_and_texts_per_task(models_dir: Path) -> None:
    async with serving(models_dir, {"METRICS_LISTEN": "127.0.0.1:0"}) as runner:
        assert runner.metrics is not None
        before = scrape(runner.metrics.port)
        async with grpc.aio.insecure_channel(runner.address) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)
            request = pb.AnalyzeTextsRequest(texts=["Sunset run by the river", "🔥"], tasks=[pb.TASK_CATEGORY])
            await asyncio.gather(*(stub.AnalyzeTexts(request, timeout=30) for _ in range(5)))
        after = scrape(runner.metrics.port)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert grew('inference_texts_total{status="analyzed",task="category"}') == 5
    assert grew('inference_texts_total{status="no_text",task="category"}') == 5
    assert grew('inference_texts_total{status="analyzed",task="sentiment"}') == 0
    assert grew("inference_request_seconds_count") == 5
    assert grew('inference_batch_size_sum{model="minilm-l6-heads"}') == 5
    assert 1 <= grew('inference_batch_seconds_count{model="minilm-l6-heads"}') <= 5
    assert 'inference_queue_depth{model="minilm-l6-heads"}' in after
