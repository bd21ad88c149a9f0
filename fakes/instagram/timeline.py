"""Simulated time: how the sample creators grow, so that refreshes see change and tests can drive the calendar.

The clock reads `offset_days` (moved by `POST /__admin/clock`) plus the real time since start times `days_per_second`
(SAMPLE_UPSTREAM_DAYS_PER_SECOND, 0 by default: time stands still unless a test or the demo moves it). A creator's
followers at simulated day d compound by its `daily_growth` with a small deterministic wobble, plus its bought
spike from `spike_day` on; its media count grows by one post every `days_between_posts`. Posts keep their likes.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable

from fakes.instagram.creators import CreatorSpec


class SimClock:
    def __init__(self, days_per_second: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self.days_per_second = days_per_second
        self.offset_days = 0.0

    @property
    def days(self) -> float:
        return self.offset_days + (self._clock() - self._started) * self.days_per_second

    def advance(self, days: float) -> float:
        self.offset_days += days
        return self.days


def followers_on(spec: CreatorSpec, days: float) -> int:
    """The creator's followers `days` simulated days after the catalogue's now (0: the catalogue's count)."""
    if days <= 0:
        return spec.followers
    wobble = random.Random(f"wobble:{spec.username}:{math.floor(days)}").uniform(-0.0005, 0.0005)
    grown = spec.followers * (1 + spec.daily_growth + wobble) ** days
    if spec.spike_day is not None and days >= spec.spike_day:
        grown += spec.spike_followers
    return int(grown)


def as_of(spec: CreatorSpec, days: float) -> CreatorSpec:
    """The spec with its profile counts on simulated day `days`."""
    if days <= 0:
        return spec
    posts = int(days / spec.days_between_posts) if spec.days_between_posts > 0 else 0
    return dataclasses.replace(spec, followers=followers_on(spec, days), media_count=spec.media_count + posts)
