"""Prometheus metrics of the inference service: request and batch latency, batch sizes, queue depth, texts per task.
RPC counts and latency by status code come from the shared runtime's interceptor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.25, 0.5, 1, 2.5, 5)

REQUEST_SECONDS = Histogram(
    "inference_request_seconds", "Time to analyse one AnalyzeTexts request", buckets=LATENCY_BUCKETS
)
BATCH_SECONDS = Histogram(
    "inference_batch_seconds", "Time to run one model batch (featurize + graph)", ["model"], buckets=LATENCY_BUCKETS
)
BATCH_SIZE = Histogram(
    "inference_batch_size", "Texts per model batch", ["model"], buckets=(1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128)
)
QUEUE_DEPTH = Gauge("inference_queue_depth", "Texts waiting for a model batch", ["model"])
TEXTS = Counter("inference_texts_total", "Texts analysed, by task and status", ["task", "status"])


def observe_batch(model: str, size: int, seconds: float) -> None:
    BATCH_SIZE.labels(model).observe(size)
    BATCH_SECONDS.labels(model).observe(seconds)


def observe_depth(model: str, depth: int) -> None:
    QUEUE_DEPTH.labels(model).set(depth)
