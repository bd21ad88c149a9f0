"""Growth figures from snapshots: windows, average daily gain, engagement and cadence change, absent when too short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.creator import growth
from services.creator.growth import Point

START = datetime(2026, 1, 1, tzinfo=UTC)


def daily(followers: list[int], posts: list[int] | None = None, rates: list[float | None] | None = None) -> list[Point]:
    return [
        Point(
            START + timedelta(days=day),
            count,
            posts[day] if posts else 0,
            rates[day] if rates else None,
        )
        for day, count in enumerate(followers)
    ]


def test_a_short_history_leaves_every_window_absent_with_its_reason_instead_of_zero() -> None:
    figures = growth.compute(daily([1000, 1010, 1020]))
    assert [(w.days, w.followers_gained, w.absent_reason) for w in figures.windows] == [
        (7, None, "history_too_short"),
        (30, None, "history_too_short"),
        (90, None, "history_too_short"),
    ]
    assert figures.avg_daily_gain == pytest.approx(10.0)
    assert figures.posting_cadence_change is None
    assert figures.posting_cadence_absent_reason == "history_too_short"
    message = growth.message(figures)
    assert not message.windows[0].HasField("followers_gained")
    assert message.windows[0].absent_reason == "history_too_short"


def test_windows_gain_and_rate_are_measured_from_the_snapshot_closest_to_their_start() -> None:
    figures = growth.compute(daily([1000 + 10 * day for day in range(40)]))
    seven, thirty, ninety = figures.windows
    assert (seven.followers_gained, seven.span_days) == (70, 7.0)
    assert seven.growth_rate == pytest.approx(70 / 1320)
    assert (thirty.followers_gained, thirty.span_days) == (300, 30.0)
    assert ninety.absent_reason == "history_too_short"


def test_a_jittered_refresh_a_little_under_the_window_still_counts() -> None:
    points = [Point(START, 100, 0), Point(START + timedelta(days=6.5), 170, 0)]
    assert growth.compute(points).windows[0].followers_gained == 70
    too_young = [Point(START, 100, 0), Point(START + timedelta(days=6), 170, 0)]
    assert growth.compute(too_young).windows[0].followers_gained is None


def test_average_daily_gain_needs_a_day_of_history() -> None:
    points = [Point(START, 100, 0), Point(START + timedelta(hours=2), 150, 0)]
    figures = growth.compute(points)
    assert figures.avg_daily_gain is None
    assert figures.avg_daily_gain_absent_reason == "history_too_short"


def test_engagement_rate_change_compares_the_newest_and_oldest_rated_snapshots() -> None:
    figures = growth.compute(daily([10, 10, 10, 10], rates=[None, 0.05, 0.04, 0.03]))
    assert figures.engagement_rate_change == pytest.approx(-0.02)
    alone = growth.compute(daily([10, 10], rates=[None, 0.05]))
    assert alone.engagement_rate_change is None
    assert alone.engagement_rate_change_absent_reason == "history_too_short"


def test_posting_cadence_change_compares_the_last_thirty_days_with_the_thirty_before() -> None:
    # Two posts a week for 30 days, then four a week.
    posts = [round(day * 2 / 7) if day <= 30 else round(30 * 2 / 7 + (day - 30) * 4 / 7) for day in range(61)]
    figures = growth.compute(daily([100] * 61, posts=posts))
    assert figures.posts_per_week_prior == pytest.approx(2, abs=0.2)
    assert figures.posts_per_week_recent == pytest.approx(4, abs=0.2)
    assert figures.posting_cadence_change == pytest.approx(2, abs=0.3)


def test_growth_rate_is_absent_when_the_window_started_without_followers() -> None:
    figures = growth.compute(daily([0, 0] + [50] * 6))
    assert figures.windows[0].followers_gained == 50
    assert figures.windows[0].growth_rate is None
    assert figures.windows[0].absent_reason == "no_followers"
