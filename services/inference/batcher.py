"""Dynamic batching for one model: concurrent submissions are merged into batches of at most `max_batch` texts,
waiting at most `max_wait` seconds after the oldest waiting text arrived. Each batch runs in the model's own worker
thread, off the event loop; while it runs, the next batch gathers. The queue is bounded (in texts): a submission that
does not fit raises ResourceExhausted at once instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from following.errors import ResourceExhausted, Unavailable
from services.inference.runners import Probabilities, Runner


@dataclass(frozen=True)
class BatchPolicy:
    max_batch: int
    max_wait_seconds: float
    max_queue: int


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[Probabilities]
    enqueued: float = field(default_factory=time.monotonic)


BatchObserver = Callable[[str, int, float], None]  # (model name, batch size, seconds)
DepthObserver = Callable[[str, int], None]  # (model name, texts waiting)


class Batcher:
    def __init__(
        self,
        runner: Runner,
        policy: BatchPolicy,
        on_batch: BatchObserver | None = None,
        on_depth: DepthObserver | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.runner = runner
        self.policy = policy
        self._on_batch = on_batch or (lambda name, size, seconds: None)
        self._on_depth = on_depth or (lambda name, depth: None)
        self._pending: deque[_Pending] = deque()
        self._queued = 0
        self._arrived = asyncio.Event()
        # A shared executor (owned by the caller) runs several models' batches one after another in one thread.
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{runner.spec.name}")
        self._worker: asyncio.Task[None] | None = None
        self._running: list[_Pending] = []
        self.batches_run = 0

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        self._worker = asyncio.create_task(self._serve(), name=f"batcher-{self.runner.spec.name}")

    async def stop(self) -> None:
        """Stop the worker (the batch in its thread finishes) and fail whatever still waits."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while self._pending:
            self._running.append(self._pending.popleft())
        for item in self._running:
            if not item.future.done():
                item.future.set_exception(Unavailable("the service is stopping", retry_after=1))
        self._running = []
        self._queued = 0
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    async def submit(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities for `texts`, in order, once the batches holding them have run."""
        return await self.enqueue(texts)

    def enqueue(self, texts: Sequence[str]) -> asyncio.Future[Probabilities]:
        """Queue `texts` now and return the future of their probabilities, in order (no task per call).

        Cancelling the future drops its texts that have not started running."""
        if self._worker is None or self._worker.done():
            raise Unavailable("the model worker is not running", retry_after=1)
        if self._queued + len(texts) > self.policy.max_queue:
            raise ResourceExhausted(
                f"inference queue full ({self._queued} of {self.policy.max_queue} texts waiting); retry with backoff"
            )
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Probabilities]] = []
        for start in range(0, len(texts), self.policy.max_batch):
            chunk = list(texts[start : start + self.policy.max_batch])
            future: asyncio.Future[Probabilities] = loop.create_future()
            self._pending.append(_Pending(chunk, future))
            self._queued += len(chunk)
            futures.append(future)
        self._on_depth(self.runner.spec.name, self._queued)
        self._arrived.set()
        if len(futures) == 1:
            return futures[0]
        return asyncio.ensure_future(_concatenated(futures))

    async def _collect(self) -> list[_Pending]:
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = self._pending[0].enqueued + self.policy.max_wait_seconds
        while self._queued < self.policy.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        batch: list[_Pending] = []
        size = 0
        while self._pending and size + len(self._pending[0].texts) <= self.policy.max_batch:
            item = self._pending.popleft()
            self._queued -= len(item.texts)
            if not item.future.done():
                batch.append(item)
                size += len(item.texts)
        self._on_depth(self.runner.spec.name, self._queued)
        return batch

    def _run(self, texts: list[str]) -> tuple[Probabilities, float]:
        """In the worker thread: the batch's probabilities and its run time (not the wait for a shared thread)."""
        started = time.perf_counter()
        result = self.runner.run(texts)
        return result, time.perf_counter() - started

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            self._running = batch
            texts = [text for item in batch for text in item.texts]
            try:
                result, seconds = await loop.run_in_executor(self._executor, self._run, texts)
            except Exception as exc:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            self.batches_run += 1
            self._on_batch(self.runner.spec.name, len(texts), seconds)
            offset = 0
            for item in batch:
                end = offset + len(item.texts)
                if not item.future.done():
                    item.future.set_result({task: rows[offset:end] for task, rows in result.items()})
                offset = end
            self._running = []


async def _concatenated(futures: Sequence[asyncio.Future[Probabilities]]) -> Probabilities:
    parts = await asyncio.gather(*futures)
    return {task: np.concatenate([part[task] for part in parts]) for task in parts[0]}
