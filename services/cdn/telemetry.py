"""The CDN's Prometheus metrics (alerts use cdn_queue_oldest_age_seconds, cdn_jobs{state="dead"} and
cdn_breaker_open{host}) and the live per-replica counters behind /api/v1/cdn/metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram

JOBS = Gauge("cdn_jobs", "Jobs in the queue by state (all replicas; refreshed periodically)", ["state"])
OLDEST_QUEUED = Gauge("cdn_queue_oldest_age_seconds", "Age of the oldest QUEUED job")
BREAKER_OPEN = Gauge("cdn_breaker_open", "1 while this replica's breaker for a host is open", ["host"])
ACTIVE = Gauge("cdn_active_workers", "Jobs this replica is processing now")
PROCESSING = Histogram(
    "cdn_job_processing_seconds",
    "Download + process + store time of successful jobs",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
EVENTS = Counter("cdn_job_events_total", "Job lifecycle events on this replica", ["event"])
BYTES = Counter("cdn_bytes_total", "Bytes downloaded (in) and stored (out)", ["direction"])
REJECTED = Counter("cdn_downloads_rejected_total", "Downloads held back by a breaker or the rate limit", ["reason"])


@dataclass
class LiveCounters:
    """This replica's counters since start; every increment also goes to Prometheus."""

    started: float = field(default_factory=time.monotonic)
    claimed: int = 0
    done: int = 0
    failed: int = 0
    dead: int = 0
    rescued: int = 0
    bytes_downloaded: int = 0
    bytes_stored: int = 0
    rejected: int = 0
    active: int = 0

    def event(self, name: str, count: int = 1) -> None:
        setattr(self, name, getattr(self, name) + count)
        EVENTS.labels(name).inc(count)

    def transfer(self, bytes_in: int, bytes_out: int) -> None:
        self.bytes_downloaded += bytes_in
        self.bytes_stored += bytes_out
        BYTES.labels("in").inc(bytes_in)
        BYTES.labels("out").inc(bytes_out)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        REJECTED.labels(reason).inc()

    def set_active(self, active: int) -> None:
        self.active = active
        ACTIVE.set(active)
