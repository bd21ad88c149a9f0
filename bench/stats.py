"""Latency statistics shared by the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples_s: Sequence[float]) -> str:
    """`p50 1.23 ms, p99 4.56 ms` from samples in seconds."""
    return f"p50 {percentile(samples_s, 50) * 1000:.2f} ms, p99 {percentile(samples_s, 99) * 1000:.2f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
