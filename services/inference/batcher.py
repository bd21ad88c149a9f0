"""Dynamic batching: concurrent submissions for one model are merged into batches of at most `max_batch` texts,
waiting at most `max_wait` seconds after the oldest waiting text arrived. Batches run in `ModelWorkers`, a few
threads shared by every model's batcher, off the event loop.

The worker threads pull their batches themselves: a thread that finishes a batch takes the next one at once from the
queues (the model whose oldest text has waited longest first), without a round trip through the event loop, so the
texts that arrive while the threads are busy join the next batch and no thread waits for the loop to hand it work.
With more than one thread idle, a thread takes only its share of the waiting texts, so a lone 12-caption request
runs on all idle threads at once. The event loop only queues texts and answers the futures of finished batches.
The queue is bounded (in texts): a submission that does not fit raises ResourceExhausted at once instead of waiting
without bound.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
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


Batch = tuple[_Pending, ...]
BatchObserver = Callable[[str, int, float], None]  # (model name, batch size, seconds)
DepthObserver = Callable[[str, int], None]  # (model name, texts waiting)


class ModelWorkers:
    """The threads that run model batches for every batcher attached to them, first come first served. Each thread
    loops: take the next ready batch (under one lock shared with the batchers' queues), run it, hand the result to
    the batcher's event loop, take the next."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one model worker thread is needed")
        self.count = count
        self.lock = threading.Condition()
        self._batchers: list[Batcher] = []
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._stopping = False

    @property
    def free(self) -> int:
        """Threads waiting for work."""
        return self._idle

    @property
    def alive(self) -> bool:
        return bool(self._threads) and not self._stopping and all(thread.is_alive() for thread in self._threads)

    def attach(self, batcher: Batcher) -> None:
        with self.lock:
            if self._stopping:
                raise Unavailable("the model workers are shut down", retry_after=1)
            self._batchers.append(batcher)
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._work, name=f"models_{i}", daemon=True) for i in range(self.count)
                ]
                for thread in self._threads:
                    thread.start()
            self.lock.notify_all()

    def detach(self, batcher: Batcher) -> None:
        with self.lock:
            if batcher in self._batchers:
                self._batchers.remove(batcher)

    def shutdown(self) -> None:
        """Stops the threads once the batches they are running have finished."""
        with self.lock:
            self._stopping = True
            self.lock.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    def _next(self) -> tuple[Batcher | None, Batch, float | None]:
        """Under the lock: the batcher and batch to run now, or the seconds until one may be ready (None: no text)."""
        now = time.monotonic()
        waiting = [batcher for batcher in self._batchers if batcher.has_pending]
        ready = [batcher for batcher in waiting if batcher.ready(now)]
        if ready:
            chosen = min(ready, key=lambda batcher: batcher.oldest)
            return chosen, chosen.take(self._idle), None
        if waiting:
            return None, (), max(0.0, min(batcher.deadline for batcher in waiting) - now)
        return None, (), None

    def _work(self) -> None:
        while True:
            with self.lock:
                while True:
                    if self._stopping:
                        return
                    batcher, batch, wait = self._next()
                    if batcher is not None:
                        break
                    self._idle += 1
                    try:
                        self.lock.wait(wait)
                    finally:
                        self._idle -= 1
                if self._idle and any(other.has_pending for other in self._batchers):
                    self.lock.notify()  # an idle thread takes the rest
            if batch:
                batcher.execute(batch)


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
        # Workers shared with other models belong to the caller; without them the batcher owns one thread.
        self._owns_workers = workers is None
        self._workers = workers or ModelWorkers(1)
        self._lock = self._workers.lock  # guards the queue, shared with the worker threads
        self._pending: deque[_Pending] = deque()
        self._queued = 0
        self._running: set[Batch] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches_run = 0

    @property
    def queued(self) -> int:
        """Texts waiting for a batch (not those running)."""
        return self._queued

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._workers.attach(self)

    async def stop(self) -> None:
        """Stop forming batches (those in the threads finish) and fail whatever still waits or runs."""
        self._workers.detach(self)
        self._loop = None
        stopping = Unavailable("the service is stopping", retry_after=1)
        with self._lock:
            items = [*self._pending, *(item for batch in self._running for item in batch)]
            self._pending.clear()
            self._running.clear()
            self._queued = 0
        for item in items:
            if not item.future.done():
                item.future.set_exception(stopping)
        if self._owns_workers:
            await asyncio.to_thread(self._workers.shutdown)

    async def submit(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities for `texts`, in order, once the batches holding them have run."""
        return await self.enqueue(texts)

    def enqueue(self, texts: Sequence[str]) -> asyncio.Future[Probabilities]:
        """Queue `texts` now and return the future of their probabilities, in order (no task per call).

        With worker threads idle, the texts are queued in as many parts as there are idle threads, so they share one
        request; under load (no thread idle) in one part, so the request costs one future and no merge. No part is
        larger than `max_batch`. Cancelling the future drops its texts that have not started running."""
        loop = self._loop
        if loop is None or not self._workers.alive:
            raise Unavailable("the model worker is not running", retry_after=1)
        parts = max(1, min(self._workers.free, self._workers.count))
        part = min(self.policy.max_batch, max(1, math.ceil(len(texts) / parts)))
        futures: list[asyncio.Future[Probabilities]] = []
        with self._lock:
            if self._queued + len(texts) > self.policy.max_queue:
                waiting = f"{self._queued} of {self.policy.max_queue} texts waiting"
                raise ResourceExhausted(f"inference queue full ({waiting}); retry with backoff")
            for start in range(0, len(texts), part):
                chunk = list(texts[start : start + part])
                future: asyncio.Future[Probabilities] = loop.create_future()
                self._pending.append(_Pending(chunk, future))
                self._queued += len(chunk)
                futures.append(future)
            queued = self._queued
            self._lock.notify()
        self._on_depth(self.runner.spec.name, queued)
        return futures[0] if len(futures) == 1 else _merged(loop, futures)

    # Called by the worker threads with the lock held.

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def oldest(self) -> float:
        return self._pending[0].enqueued

    @property
    def deadline(self) -> float:
        return self._pending[0].enqueued + self.policy.max_wait_seconds

    def ready(self, now: float) -> bool:
        """A batch may form: it would be full, or its oldest text has waited max_wait."""
        return self._queued >= self.policy.max_batch or now >= self.deadline

    def take(self, idle_threads: int) -> Batch:
        """The next batch: this thread's share of what waits (the idle threads take the rest right after)."""
        limit = min(self.policy.max_batch, max(1, math.ceil(self._queued / (idle_threads + 1))))
        batch: list[_Pending] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].texts) <= limit):
            item = self._pending.popleft()
            self._queued -= len(item.texts)
            if not item.future.done():  # cancelled or failed meanwhile: its texts need not run
                batch.append(item)
                size += len(item.texts)
        taken = tuple(batch)
        if taken:
            self._running.add(taken)
        return taken

    # Called by a worker thread without the lock.

    def execute(self, batch: Batch) -> None:
        """Run the batch and hand the outcome to the event loop."""
        texts = [text for item in batch for text in item.texts]
        started = time.perf_counter()
        result: Probabilities | None = None
        failure: Exception | None = None
        try:
            result = self.runner.run(texts)
        except Exception as exc:  # the batch's requests get the failure
            failure = exc
        seconds = time.perf_counter() - started
        loop = self._loop
        if loop is None:
            return  # stopped meanwhile: stop() failed the batch's requests
        try:
            loop.call_soon_threadsafe(self._finish, batch, result, failure, seconds)
        except RuntimeError:  # the loop closed meanwhile
            return

    def _finish(self, batch: Batch, result: Probabilities | None, failure: Exception | None, seconds: float) -> None:
        """On the event loop: answer the batch's submissions."""
        with self._lock:
            self._running.discard(batch)
            queued = self._queued
        self._on_depth(self.runner.spec.name, queued)
        if failure is not None or result is None:
            error = failure or Unavailable("the model batch gave no result")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        self.batches_run += 1
        self._on_batch(self.runner.spec.name, sum(len(item.texts) for item in batch), seconds)
        offset = 0
        for item in batch:
            end = offset + len(item.texts)
            if not item.future.done():
                item.future.set_result({task: rows[offset:end] for task, rows in result.items()})
            offset = end


def _merged(
    loop: asyncio.AbstractEventLoop, parts: Sequence[asyncio.Future[Probabilities]]
) -> asyncio.Future[Probabilities]:
    """One future for a request queued in parts: their rows concatenated in order, the first failure, or cancelled
    with them. Cancelling it cancels the parts at once, so their texts are dropped before any thread takes them."""
    merged: asyncio.Future[Probabilities] = loop.create_future()
    gathered = asyncio.gather(*parts)

    def settle(done: asyncio.Future[list[Probabilities]]) -> None:
        if done.cancelled():
            merged.cancel()
        elif (failure := done.exception()) is not None:
            if not merged.done():
                merged.set_exception(failure)
        elif not merged.done():
            results = done.result()
            merged.set_result({task: np.concatenate([part[task] for part in results]) for task in results[0]})

    gathered.add_done_callback(settle)
    merged.add_done_callback(lambda future: gathered.cancel() if future.cancelled() else None)
    return merged
