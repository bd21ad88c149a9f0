"""Growth figures of a creator from its stored profile snapshots (pure: no I/O).

The definitions are those of `GrowthFigures` and `GrowthWindow` in creator.proto; this module follows them and nothing
else computes them. A figure the history does not cover is absent (None) with its reason, never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from creator.v1 import creator_pb2

WINDOW_DAYS = (7, 30, 90)
# Refreshes are spread with jitter (and may back off), so a window starts at the snapshot closest to `days` ago among
# those at least this share of the window old.
WINDOW_COVERAGE = 0.9
CADENCE_DAYS = 30
HISTORY_TOO_SHORT = "history_too_short"
NO_FOLLOWERS = "no_followers"
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Point:
    """One snapshot, as far as growth is concerned."""

    captured_at: datetime
    followers: int
    posts_count: int
    engagement_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Window:
    days: int
    followers_gained: int | None
    growth_rate: float | None
    span_days: float | None
    absent_reason: str


@dataclass(frozen=True, slots=True)
class Growth:
    windows: tuple[Window, ...]
    avg_daily_gain: float | None
    avg_daily_gain_absent_reason: str
    engagement_rate_change: float | None
    engagement_rate_change_absent_reason: str
    posts_per_week_recent: float | None
    posts_per_week_prior: float | None
    posting_cadence_change: float | None
    posting_cadence_absent_reason: str
    snapshots_considered: int
    history_days: float


def _days(delta: timedelta) -> float:
    return delta / DAY


def window_start(points: Sequence[Point], end: Point, days: int) -> Point | None:
    """The snapshot a window of `days` ending at `end` starts at, or None when the history is too short."""
    target = end.captured_at - days * DAY
    latest_allowed = end.captured_at - WINDOW_COVERAGE * days * DAY
    candidates = [p for p in points if p.captured_at <= latest_allowed]
    if not candidates:
        return None
    return min(candidates, key=lambda p: abs(_days(p.captured_at - target)))


def window(points: Sequence[Point], days: int) -> Window:
    end = points[-1]
    start = window_start(points, end, days)
    if start is None:
        return Window(days, None, None, None, HISTORY_TOO_SHORT)
    gained = end.followers - start.followers
    span = _days(end.captured_at - start.captured_at)
    if start.followers <= 0:
        return Window(days, gained, None, span, NO_FOLLOWERS)
    return Window(days, gained, gained / start.followers, span, "")


def compute(snapshots: Sequence[Point]) -> Growth:
    """The growth figures of `snapshots` (any order; at most one per fetch)."""
    points = sorted(snapshots, key=lambda p: p.captured_at)
    if not points:
        empty = tuple(Window(days, None, None, None, HISTORY_TOO_SHORT) for days in WINDOW_DAYS)
        short = HISTORY_TOO_SHORT
        return Growth(empty, None, short, None, short, None, None, None, short, 0, 0)
    first, last = points[0], points[-1]
    history = _days(last.captured_at - first.captured_at)
    avg_gain = (last.followers - first.followers) / history if history >= 1 else None
    rated = [p for p in points if p.engagement_rate is not None]
    er_change = None
    if len(rated) >= 2:
        er_change = (rated[-1].engagement_rate or 0.0) - (rated[0].engagement_rate or 0.0)
    recent, prior = _cadence(points)
    cadence_change = recent - prior if recent is not None and prior is not None else None
    return Growth(
        windows=tuple(window(points, days) for days in WINDOW_DAYS),
        avg_daily_gain=avg_gain,
        avg_daily_gain_absent_reason="" if avg_gain is not None else HISTORY_TOO_SHORT,
        engagement_rate_change=er_change,
        engagement_rate_change_absent_reason="" if er_change is not None else HISTORY_TOO_SHORT,
        posts_per_week_recent=recent if cadence_change is not None else None,
        posts_per_week_prior=prior if cadence_change is not None else None,
        posting_cadence_change=cadence_change,
        posting_cadence_absent_reason="" if cadence_change is not None else HISTORY_TOO_SHORT,
        snapshots_considered=len(points),
        history_days=history,
    )


def _cadence(points: Sequence[Point]) -> tuple[float | None, float | None]:
    """Posts per week over the last CADENCE_DAYS and over the CADENCE_DAYS before them."""
    end = points[-1]
    middle = window_start(points, end, CADENCE_DAYS)
    if middle is None:
        return None, None
    start = window_start([p for p in points if p.captured_at <= middle.captured_at], middle, CADENCE_DAYS)
    if start is None:
        return None, None
    recent = _per_week(middle, end)
    prior = _per_week(start, middle)
    return recent, prior


def _per_week(start: Point, end: Point) -> float:
    return (end.posts_count - start.posts_count) / (_days(end.captured_at - start.captured_at) / 7)


def message(growth: Growth) -> creator_pb2.GrowthFigures:
    figures = creator_pb2.GrowthFigures(
        avg_daily_gain_absent_reason=growth.avg_daily_gain_absent_reason,
        engagement_rate_change_absent_reason=growth.engagement_rate_change_absent_reason,
        posting_cadence_absent_reason=growth.posting_cadence_absent_reason,
        snapshots_considered=growth.snapshots_considered,
        history_days=growth.history_days,
    )
    for item in growth.windows:
        entry = figures.windows.add(days=item.days, absent_reason=item.absent_reason)
        if item.followers_gained is not None:
            entry.followers_gained = item.followers_gained
        if item.growth_rate is not None:
            entry.growth_rate = item.growth_rate
        if item.span_days is not None:
            entry.span_days = item.span_days
    if growth.avg_daily_gain is not None:
        figures.avg_daily_gain = growth.avg_daily_gain
    if growth.engagement_rate_change is not None:
        figures.engagement_rate_change = growth.engagement_rate_change
    if growth.posting_cadence_change is not None:
        figures.posts_per_week_recent = growth.posts_per_week_recent or 0.0
        figures.posts_per_week_prior = growth.posts_per_week_prior or 0.0
        figures.posting_cadence_change = growth.posting_cadence_change
    return figures
