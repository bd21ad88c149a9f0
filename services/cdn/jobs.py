"""The job domain, free of I/O: states, priorities, what a claimed job carries, how failures are classified, and the
retry backoff. The state machine is documented in services/cdn/README.md and in the proto's JobState comment."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from urllib.parse import urlsplit

from cdn.v1 import cdn_pb2

from following.errors import InvalidArgument

MAX_BATCH = 500
MAX_URL_LENGTH = 4096


class Kind(IntEnum):
    AVATAR = cdn_pb2.ASSET_KIND_AVATAR
    POST_IMAGE = cdn_pb2.ASSET_KIND_POST_IMAGE


class Priority(IntEnum):
    LOW = cdn_pb2.PRIORITY_LOW
    MEDIUM = cdn_pb2.PRIORITY_MEDIUM
    HIGH = cdn_pb2.PRIORITY_HIGH
    CRITICAL = cdn_pb2.PRIORITY_CRITICAL


PRIORITY_VALUES = frozenset({0, *(int(p) for p in Priority)})

STATE_TO_PROTO = {
    "queued": cdn_pb2.JOB_STATE_QUEUED,
    "running": cdn_pb2.JOB_STATE_RUNNING,
    "retrying": cdn_pb2.JOB_STATE_RETRYING,
    "done": cdn_pb2.JOB_STATE_DONE,
    "dead": cdn_pb2.JOB_STATE_DEAD,
}


@dataclass(frozen=True)
class NewJob:
    source_url: str
    kind: Kind
    priority: Priority
    owner: str


@dataclass(frozen=True)
class ClaimedJob:
    """A job leased to this worker: `lease_token` fences every later write against a rescued-and-reclaimed job."""

    id: int
    source_url: str
    kind: Kind
    priority: Priority
    attempts: int
    max_attempts: int
    lease_token: str
    # False while the job waits in the worker's prefetch buffer (claimed ahead, not yet processing).
    started: bool = True


@dataclass(frozen=True)
class StoredRendition:
    width: int
    height: int
    format: str
    key: str
    bytes: int


@dataclass
class Outcome:
    """What a successful run produced."""

    renditions: list[StoredRendition] = field(default_factory=list)
    bytes_in: int = 0

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes for r in self.renditions)


class JobFailure(Exception):
    """A run failed. `permanent` failures (bad image, refused URL, HTTP 4xx) go straight to DEAD."""

    permanent = False


class PermanentFailure(JobFailure):
    permanent = True


class TransientFailure(JobFailure):
    permanent = False


class Deferred(Exception):
    """The run did not start (breaker open, rate limit): put the job back without spending an attempt."""

    def __init__(self, reason: str, run_at: datetime) -> None:
        super().__init__(reason)
        self.run_at = run_at


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, so retries spread out but never
    come back sooner than half the exponential step. `attempt` counts from 1."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + (rng or random).uniform(0, step / 2)


def parse_specs(specs: list[cdn_pb2.JobSpec]) -> list[NewJob]:
    if not specs:
        raise InvalidArgument("jobs: at least one job is required")
    if len(specs) > MAX_BATCH:
        raise InvalidArgument(f"jobs: at most {MAX_BATCH} per call; got {len(specs)}")
    jobs = []
    for index, spec in enumerate(specs):
        check_source_url(spec.source_url, f"jobs[{index}].source_url")
        if spec.kind not in (Kind.AVATAR, Kind.POST_IMAGE):
            raise InvalidArgument(f"jobs[{index}].kind: must be AVATAR or POST_IMAGE")
        if spec.priority not in PRIORITY_VALUES:
            raise InvalidArgument(f"jobs[{index}].priority: unknown value {spec.priority}")
        priority = Priority(spec.priority) if spec.priority else Priority.MEDIUM
        jobs.append(NewJob(spec.source_url, Kind(spec.kind), priority, spec.owner[:200]))
    return jobs


def check_source_url(url: str, where: str) -> None:
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(f"{where}: must be 1-{MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. "http://[x]/"
        usable = False
    if not usable:
        raise InvalidArgument(f"{where}: must be an http(s) URL with a host; got {url[:100]!r}")
