"""Dynamic batching: concurrent submissions for one model are merged into batches of at most `max_batch` texts,
waiting at most `max_wait` seconds after the oldest waiting text arrived. Batches run in `ModelWorkers`, a few
threads shared by every model's batcher, off the event loop. A batcher forms its next batch only when a worker
thread is free, so the texts that arrive while the threads are busy join it instead of waiting in an executor queue.
With more than one thread free, a batcher takes only its share of the waiting texts, so a lone 12-caption request
runs on all free threads at once. The queue is bounded (in texts): a submission that does not fit raises
ResourceExhausted at once instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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


@dataclass(eq=False)
class _Pending:
    texts: list[str]
    future: asyncio.Future[Probabilities]
    enqueued: float = field(default_factory=time.monotonic)


BatchObserver = Callable[[str, int, float], None]  # (model name, batch size, seconds)
DepthObserver = Callable[[str, int], None]  # (model name, texts waiting)


class ModelWorkers:
    """The threads that run model batches. Each batch holds one thread from the moment its batcher forms it until
    it has run; every model's batcher competes for the same threads, first come first served."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one model worker thread is needed")
        self.count = count
        self.executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="models")
        self._slots = asyncio.Semaphore(count)
        self._busy = 0

    @property
    def free(self) -> int:
        return self.count - self._busy

    async def acquire(self) -> None:
        await self._slots.acquire()
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1
        self._slots.release()

    def shutdown(self) -> None:
        """Waits for the batches still running in the threads."""
        self.executor.shutdown(wait=True)


class Batcher:
    def __init__(
        self,
        runner: Runner,
        policy: BatchPolicy,
        on_batch: BatchObserver | None = None,
        on_depth: DepthObserver | None = None,
        workers: ModelWorkers | None = None,
    ) -> None:
        self.runner = runner
        self.policy = policy
        self._on_batch = on_batch or (lambda name, size, seconds: None)
        self._on_depth = on_depth or (lambda name, depth: None)
        self._pending: deque[_Pending] = deque()
        self._queued = 0
        self._arrived = asyncio.Event()
        # Workers shared with other models belong to the caller; without them the batcher owns one thread.
        self._owns_workers = workers is None
        self._workers = workers or ModelWorkers(1)
        self._worker: asyncio.Task[None] | None = None
        self._running: set[tuple[_Pending, ...]] = set()
        self.batches_run = 0

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        self._worker = asyncio.create_task(self._serve(), name=f"batcher-{self.runner.spec.name}")

    async def stop(self) -> None:
        """Stop forming batches (those in the threads finish) and fail whatever still waits or runs."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        stopping = Unavailable("the service is stopping", retry_after=1)
        for item in [*self._pending, *(item for batch in self._running for item in batch)]:
            if not item.future.done():
                item.future.set_exception(stopping)
        self._pending.clear()
        self._running.clear()
        self._queued = 0
        if self._owns_workers:
            await asyncio.to_thread(self._workers.shutdown)

    async def submit(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities for `texts`, in order, once the batches holding them have run."""
        return await self.enqueue(texts)

    def enqueue(self, texts: Sequence[str]) -> asyncio.Future[Probabilities]:
        """Queue `texts` now and return the future of their probabilities, in order (no task per call).

        The texts are queued in as many parts as there are worker threads (at most `max_batch` each), so idle
        threads can share one request. Cancelling the future drops its texts that have not started running."""
        if self._worker is None or self._worker.done():
            raise Unavailable("the model worker is not running", retry_after=1)
        if self._queued + len(texts) > self.policy.max_queue:
            raise ResourceExhausted(
                f"inference queue full ({self._queued} of {self.policy.max_queue} texts waiting); retry with backoff"
            )
        loop = asyncio.get_running_loop()
        part = min(self.policy.max_batch, max(1, math.ceil(len(texts) / self._workers.count)))
        futures: list[asyncio.Future[Probabilities]] = []
        for start in range(0, len(texts), part):
            chunk = list(texts[start : start + part])
            future: asyncio.Future[Probabilities] = loop.create_future()
            self._pending.append(_Pending(chunk, future))
            self._queued += len(chunk)
            futures.append(future)
        self._on_depth(self.runner.spec.name, self._queued)
        self._arrived.set()
        if len(futures) == 1:
            return futures[0]
        return asyncio.ensure_future(_concatenated(futures))

    async def _wait_for_texts(self) -> None:
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()

    async def _collect(self) -> list[_Pending]:
        """With a worker thread held: the next batch, after waiting up to max_wait for it to fill."""
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
        # This thread's share of what waits: the other free threads take the rest right after.
        limit = min(self.policy.max_batch, max(1, math.ceil(self._queued / (self._workers.free + 1))))
        batch: list[_Pending] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].texts) <= limit):
            item = self._pending.popleft()
            self._queued -= len(item.texts)
            if not item.future.done():
                batch.append(item)
                size += len(item.texts)
        self._on_depth(self.runner.spec.name, self._queued)
        return batch

    def _run(self, texts: list[str]) -> tuple[Probabilities, float]:
        """In a worker thread: the batch's probabilities and its run time."""
        started = time.perf_counter()
        result = self.runner.run(texts)
        return result, time.perf_counter() - started

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wait_for_texts()
            await self._workers.acquire()
            try:
                batch = tuple(await self._collect()) if self._pending else ()
            except BaseException:
                self._workers.release()
                raise
            if not batch:
                self._workers.release()
                continue
            self._running.add(batch)
            texts = [text for item in batch for text in item.texts]
            run = loop.run_in_executor(self._workers.executor, self._run, texts)
            run.add_done_callback(lambda done, batch=batch: self._finish(batch, done))  # type: ignore[misc]

    def _finish(self, batch: tuple[_Pending, ...], run: asyncio.Future[tuple[Probabilities, float]]) -> None:
        """On the event loop, once a batch left its thread: free the thread, then answer the batch's submissions."""
        self._workers.release()
        self._running.discard(batch)
        failure = run.exception() if not run.cancelled() else Unavailable("the model batch was cancelled")
        if failure is not None:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(failure)
            return
        result, seconds = run.result()
        self.batches_run += 1
        self._on_batch(self.runner.spec.name, sum(len(item.texts) for item in batch), seconds)
        offset = 0
        for item in batch:
            end = offset + len(item.texts)
            if not item.future.done():
                item.future.set_result({task: rows[offset:end] for task, rows in result.items()})
            offset = end


async def _concatenated(futures: Sequence[asyncio.Future[Probabilities]]) -> Probabilities:
    parts = await asyncio.gather(*futures)
    return {task: np.concatenate([part[task] for part in parts]) for task in parts[0]}
