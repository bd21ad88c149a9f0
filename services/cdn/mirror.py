"""The job processor: one image from its source URL to stored renditions (download → Pillow → storage), each step
bounded by its own timeout, the download gated by the host's breaker and rate limit."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.cdn.breaker import Breakers
from services.cdn.downloads import BadResponse, Downloader, HostFailure
from services.cdn.imaging import ImagePolicy, Rendition, render
from services.cdn.jobs import ClaimedJob, Deferred, Kind, Outcome, StoredRendition, TransientFailure
from services.cdn.ratelimit import HostRateLimiter
from services.cdn.storage import Storage
from services.cdn.telemetry import LiveCounters

#: Longer rate-limit waits give the slot back to the queue instead of holding a worker.
MAX_RATE_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class StepTimeouts:
    download: float
    process: float
    store: float


class Mirror:
    def __init__(
        self,
        downloader: Downloader,
        storage: Storage,
        breakers: Breakers,
        limiter: HostRateLimiter,
        widths: Mapping[Kind, tuple[int, ...]],
        policy: ImagePolicy,
        timeouts: StepTimeouts,
        counters: LiveCounters,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.downloader = downloader
        self.storage = storage
        self.breakers = breakers
        self.limiter = limiter
        self.widths = widths
        self.policy = policy
        self.timeouts = timeouts
        self.counters = counters
        self.executor = executor

    async def __call__(self, job: ClaimedJob) -> Outcome:
        # Breaker and rate limit per host:port: a failing service on one port says nothing about another.
        target = str(self.downloader.check_url(job.source_url))
        data = await self._download(target, job.source_url)
        loop = asyncio.get_running_loop()
        try:
            renditions: list[Rendition] = await asyncio.wait_for(
                loop.run_in_executor(self.executor, render, data, self.widths[job.kind], self.policy),
                self.timeouts.process,
            )
        except TimeoutError as exc:
            raise TransientFailure(f"processing took longer than {self.timeouts.process} s") from exc
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self.storage.put(r.key, r.data, r.content_type) for r in renditions)),
                self.timeouts.store,
            )
        except TimeoutError as exc:
            raise TransientFailure(f"storing took longer than {self.timeouts.store} s") from exc
        except OSError as exc:
            raise TransientFailure(f"storage: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith(("botocore", "aiobotocore")):
                raise TransientFailure(f"storage: {type(exc).__name__}: {exc}") from exc
            raise
        stored = [StoredRendition(r.width, r.height, r.format, r.key, len(r.data)) for r in renditions]
        return Outcome(stored, bytes_in=len(data))

    async def _download(self, target: str, url: str) -> bytes:
        wait = self.breakers.allow(target)
        if wait > 0:
            self.counters.reject("breaker")
            raise Deferred(f"breaker open for {target}", _later(wait))
        delay = self.limiter.reserve(target)
        if delay > MAX_RATE_WAIT_SECONDS:
            self.limiter.refund(target)
            self.breakers.abandoned(target)
            self.counters.reject("rate_limit")
            raise Deferred(f"rate limit for {target}", _later(delay))
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            download = await asyncio.wait_for(self.downloader.fetch(url), self.timeouts.download)
        except TimeoutError as exc:
            self.breakers.failed(target)
            raise HostFailure(f"download took longer than {self.timeouts.download} s") from exc
        except HostFailure:
            self.breakers.failed(target)
            raise
        except BadResponse:
            self.breakers.succeeded(target)
            raise
        except BaseException:
            self.breakers.abandoned(target)
            raise
        self.breakers.succeeded(target)
        return download.data


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
