"""Dynamic batching: concurrent requests share model batches; a full queue answers RESOURCE_EXHAUSTED."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import numpy as np
import pytest
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from following.errors import ResourceExhausted, Unavailable
from services.inference.batcher import Batcher, BatchPolicy, ModelWorkers
from services.inference.manifest import HeadSpec, ModelSpec, TaskName
from services.inference.runners import Probabilities
from services.inference.server import InferenceApp
from tests.inference.conftest import serving


class GatedRunner:
    """A runner that records its batches and holds each one until the test opens the gate."""

    def __init__(self) -> None:
        self.spec = ModelSpec(
            name="gated",
            folder=Path(),
            file="none",
            kind="classifier",
            featurizer="tokenizer",
            max_length=8,
            quantization="fp32",
            version="test",
            heads=(HeadSpec(TaskName.SENTIMENT, "logits", ("negative", "neutral", "positive")),),
        )
        self.batches: list[list[str]] = []
        self.entered = 0
        self.gate = threading.Event()

    @property
    def tasks(self) -> tuple[TaskName, ...]:
        return (TaskName.SENTIMENT,)

    @property
    def embedding_dimensions(self) -> int:
        return 0

    def run(self, texts: Sequence[str]) -> Probabilities:
        self.entered += 1
        self.gate.wait(timeout=10)
        self.batches.append(list(texts))
        return {TaskName.SENTIMENT: np.array([[float(len(t)), 0.0, 0.0] for t in texts])}


async def wait_for(condition: object, deadline_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "condition not met before the deadline"
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def on_two_threads(runner: GatedRunner, max_batch: int) -> AsyncIterator[tuple[Batcher, ModelWorkers]]:
    """A started batcher on two worker threads of its own; stopped, and the threads shut down, on the way out."""
    workers = ModelWorkers(2)
    batcher = Batcher(runner, BatchPolicy(max_batch=max_batch, max_wait_seconds=0.0, max_queue=100), workers=workers)
    batcher.start()
    try:
        yield batcher, workers
    finally:
        await batcher.stop()
        workers.shutdown()


async def test_batcher_merges_waiting_submissions_up_to_max_batch_and_keeps_order() -> None:
    runner = GatedRunner()
    batcher = Batcher(runner, BatchPolicy(max_batch=4, max_wait_seconds=0.0, max_queue=100))
    batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(["a"]))
        await wait_for(lambda: runner.entered == 1)  # the first batch is in the worker, held by the gate
        rest = [asyncio.create_task(batcher.submit(["b" * n] * 2)) for n in range(2, 5)]
        await wait_for(lambda: batcher.queued == 6)
        runner.gate.set()
        results = await asyncio.gather(first, *rest)
    finally:
        await batcher.stop()
    assert [len(batch) for batch in runner.batches] == [1, 4, 2]
    assert [r[TaskName.SENTIMENT][:, 0].tolist() for r in results] == [[1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]


async def test_a_batch_waits_up_to_max_wait_for_more_texts() -> None:
    runner = GatedRunner()
    runner.gate.set()
    batcher = Batcher(runner, BatchPolicy(max_batch=8, max_wait_seconds=0.5, max_queue=100))
    batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.05)
        assert runner.entered == 0  # the thread is free, but the batch may still fill
        second = asyncio.create_task(batcher.submit(["b", "c"]))
        await asyncio.gather(first, second)
    finally:
        await batcher.stop()
    assert runner.batches == [["a", "b", "c"]]


async def test_stopping_fails_what_waits_and_refuses_new_texts() -> None:
    runner = GatedRunner()
    batcher = Batcher(runner, BatchPolicy(max_batch=1, max_wait_seconds=0.0, max_queue=100))
    batcher.start()
    running = asyncio.create_task(batcher.submit(["a"]))
    await wait_for(lambda: runner.entered == 1)
    waiting = asyncio.create_task(batcher.submit(["b"]))
    await wait_for(lambda: batcher.queued == 1)
    runner.gate.set()
    await batcher.stop()
    for task in (running, waiting):
        with pytest.raises(Unavailable, match="stopping"):
            await task
    with pytest.raises(Unavailable, match="not running"):
        batcher.enqueue(["c"])


async def test_models_sharing_one_worker_thread_batch_what_arrives_while_the_other_runs() -> None:
    encoder, cheap = GatedRunner(), GatedRunner()
    cheap.gate.set()
    policy = BatchPolicy(max_batch=8, max_wait_seconds=0.0, max_queue=100)
    workers = ModelWorkers(1)
    depths: list[int] = []
    batchers = [
        Batcher(encoder, policy, workers=workers),
        Batcher(cheap, policy, on_depth=lambda name, depth: depths.append(depth), workers=workers),
    ]
    for batcher in batchers:
        batcher.start()
    try:
        held = asyncio.create_task(batchers[0].submit(["a"]))
        await wait_for(lambda: encoder.entered == 1)  # the one thread is busy with the encoder's batch
        later = [asyncio.create_task(batchers[1].submit([c])) for c in "xyz"]
        await wait_for(lambda: batchers[1].queued == 3)
        assert cheap.entered == 0 and depths == [1, 2, 3]  # no batch is formed while no thread is free
        encoder.gate.set()
        await asyncio.gather(held, *later)
    finally:
        await batchers[0].stop()
        assert workers.alive  # shared workers stay with their owner
        await batchers[1].stop()
        workers.shutdown()
    assert cheap.batches == [["x", "y", "z"]]


async def test_batches_run_side_by_side_on_the_worker_threads() -> None:
    runner = GatedRunner()
    async with on_two_threads(runner, max_batch=8) as (batcher, workers):
        first = asyncio.create_task(batcher.submit(["a"]))
        await wait_for(lambda: runner.entered == 1)
        second = asyncio.create_task(batcher.submit(["b", "c"]))
        await wait_for(lambda: runner.entered == 2)  # the second batch runs while the first is still held
        third = asyncio.create_task(batcher.submit(["d"]))
        await wait_for(lambda: batcher.queued == 1)
        assert runner.entered == 2 and workers.free == 0  # both threads busy: "d" waits for one of them
        runner.gate.set()
        results = await asyncio.gather(first, second, third)
    assert sorted(map(sorted, runner.batches)) == [["a"], ["b", "c"], ["d"]]
    assert [r[TaskName.SENTIMENT][:, 0].tolist() for r in results] == [[1.0], [1.0, 1.0], [1.0]]


async def test_idle_worker_threads_share_one_request() -> None:
    runner = GatedRunner()
    async with on_two_threads(runner, max_batch=32) as (batcher, workers):
        await wait_for(lambda: workers.free == 2)
        search = asyncio.create_task(batcher.submit([f"caption {i:02}" for i in range(12)]))
        await wait_for(lambda: runner.entered == 2)  # one request, two batches running at once
        runner.gate.set()
        result = await search
    assert sorted(len(batch) for batch in runner.batches) == [6, 6]
    assert result[TaskName.SENTIMENT][:, 0].tolist() == [10.0] * 12  # all 12, in order, from both batches


async def test_cancelling_a_request_queued_in_parts_drops_every_part() -> None:
    runner = GatedRunner()
    runner.gate.set()
    workers = ModelWorkers(2)
    batcher = Batcher(runner, BatchPolicy(max_batch=32, max_wait_seconds=0.3, max_queue=100), workers=workers)
    batcher.start()
    try:
        await wait_for(lambda: workers.free == 2)
        request = batcher.enqueue(["a", "b", "c", "d"])  # two parts, each waiting up to max_wait for more texts
        request.cancel()  # as the analyzer does when another model refuses the request
        await asyncio.sleep(0.5)
        assert runner.entered == 0 and batcher.queued == 0  # neither part ran
        assert (await batcher.submit(["e"]))[TaskName.SENTIMENT].shape == (1, 3)
    finally:
        await batcher.stop()
        workers.shutdown()
    assert runner.batches == [["e"]]


async def test_under_load_a_request_is_queued_whole() -> None:
    runner = GatedRunner()
    async with on_two_threads(runner, max_batch=32) as (batcher, workers):
        busy = []
        for name in ("a", "b"):  # one at a time, so each thread takes one (not one thread both)
            busy.append(asyncio.create_task(batcher.submit([name])))
            await wait_for(lambda: runner.entered == len(busy))
        await wait_for(lambda: workers.free == 0)
        search = asyncio.create_task(batcher.submit([f"caption {i:02}" for i in range(12)]))
        await wait_for(lambda: batcher.queued == 12)
        runner.gate.set()
        result = await search
        await asyncio.gather(*busy)
    assert sorted(len(batch) for batch in runner.batches) == [1, 1, 12]  # no thread was idle: one part, one batch
    assert result[TaskName.SENTIMENT][:, 0].tolist() == [10.0] * 12


async def test_a_failing_batch_fails_its_requests_and_frees_its_thread() -> None:
    class Failing(GatedRunner):
        def run(self, texts: Sequence[str]) -> Probabilities:
            if "boom" in texts:
                raise RuntimeError("model crashed")
            return super().run(texts)

    runner = Failing()
    runner.gate.set()
    batcher = Batcher(runner, BatchPolicy(max_batch=8, max_wait_seconds=0.0, max_queue=100))
    batcher.start()
    try:
        with pytest.raises(RuntimeError, match="model crashed"):
            await batcher.submit(["boom"])
        assert (await batcher.submit(["fine"]))[TaskName.SENTIMENT].shape == (1, 3)
    finally:
        await batcher.stop()


async def test_batcher_refuses_a_submission_that_does_not_fit_the_queue() -> None:
    runner = GatedRunner()
    batcher = Batcher(runner, BatchPolicy(max_batch=2, max_wait_seconds=0.0, max_queue=3))
    batcher.start()
    try:
        held = asyncio.create_task(batcher.submit(["a", "b"]))
        await wait_for(lambda: runner.entered == 1)
        waiting = asyncio.create_task(batcher.submit(["c", "d", "e"]))
        await wait_for(lambda: batcher.queued == 3)
        with pytest.raises(ResourceExhausted, match="queue full"):
            await batcher.submit(["f"])
        runner.gate.set()
        await asyncio.gather(held, waiting)
    finally:
        await batcher.stop()


async def test_concurrent_requests_share_model_batches(
    stub: inference_pb2_grpc.InferenceServiceStub, app: InferenceApp
) -> None:
    before = {b.runner.spec.name: b.batches_run for b in app.batchers}
    texts = [f"Caption number {i}: sunset over the harbour with friends" for i in range(24)]
    calls = [stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=[text]), timeout=30) for text in texts]
    responses = await asyncio.gather(*calls)
    assert all(r.results[0].status == pb.TEXT_STATUS_ANALYZED for r in responses)
    for batcher in app.batchers:
        ran = batcher.batches_run - before[batcher.runner.spec.name]
        assert 1 <= ran < len(texts), f"{batcher.runner.spec.name}: {ran} batches for {len(texts)} requests"


async def test_full_queue_answers_resource_exhausted(models_dir: Path) -> None:
    env = {"INFERENCE_MAX_BATCH": "1", "INFERENCE_MAX_QUEUE": "8", "INFERENCE_MAX_TEXTS": "8"}
    async with serving(models_dir, env) as runner, grpc.aio.insecure_channel(runner.address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        request = pb.AnalyzeTextsRequest(texts=["A long day of hiking in the mountains, worth it"] * 8)
        outcomes = await asyncio.gather(
            *(stub.AnalyzeTexts(request, timeout=30) for _ in range(12)), return_exceptions=True
        )
    errors = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert any(isinstance(o, pb.AnalyzeTextsResponse) for o in outcomes)
    assert errors and all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in errors)
    assert "queue full" in (errors[0].details() or "")
