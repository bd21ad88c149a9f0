"""The CLI's plain-text rendering: tables that survive any caption, exact history with changes, absent figures shown
as absent (never 0.00 %), and demo wording that never contradicts the report it prints."""

from __future__ import annotations

from typing import Any

from client.__main__ import show
from client.api import profile_name
from client.render import percent, report
from scripts.demo import headline


def test_the_posts_table_keeps_one_line_per_post_whatever_the_caption_holds() -> None:
    posts = [
        {
            "shortcode": "a1",
            "type": "POST_TYPE_IMAGE",
            "caption": "first line\nsecond line\r\n\tthird",
            "likes_count": "5",
        },
        {"shortcode": "b2", "type": "POST_TYPE_IMAGE", "caption": "plain"},
    ]
    lines = show("posts", {"posts": posts}).splitlines()
    assert len(lines) == 2 + len(posts)
    assert "first line second line third" in lines[2]


def test_history_prints_exact_counts_and_the_change_between_snapshots() -> None:
    snapshots = [
        {
            "captured_at": "2026-11-01T00:00:00Z",
            "followers_count": "1412345",
            "following_count": "10",
            "posts_count": "7",
        },
        {
            "captured_at": "2026-11-02T00:00:00Z",
            "followers_count": "1413012",
            "following_count": "9",
            "posts_count": "7",
        },
    ]
    text = show("history", {"snapshots": snapshots})
    assert "1,412,345" in text and "1,413,012" in text
    assert "+667" in text and "-1" in text
    assert "1.4M" not in text


def test_an_absent_figure_is_shown_as_absent_with_its_reason_not_as_zero() -> None:
    assert percent(None) == "-"
    data: dict[str, Any] = {
        "profile": {"username": "hidden.likes"},
        "analytics": {
            "engagement": {"posts_considered": 0, "absent_reason": "likes_hidden", "avg_comments": 3.0},
            "sentiment": {"coverage": {"state": "ANALYSIS_STATE_PENDING", "absent_reason": "analysis_pending"}},
        },
    }
    text = report(data)
    assert "0.00%" not in text
    assert "absent (likes_hidden)" in text and "absent (analysis_pending)" in text
    unlocked = show("unlocked", {"creators": [{"username": "x", "engagement_absent_reason": "likes_hidden"}]})
    assert "0.00%" not in unlocked and "likes_hidden" in unlocked


def test_the_demo_headline_uses_the_reports_words_for_both_answers() -> None:
    first = {"freshness": {"from_cache": False}}
    later = {"freshness": {"from_cache": True}}
    line = headline("fit.bayann", first, 812, later, 3.2)
    assert "fetched from Instagram now" in line and "the report below is the answer 3.2 s later, from our store" in line
    assert "from our store" in report(later)
    assert headline("fit.bayann", later, 9, later, 0).count("from our store") == 1


def test_the_queue_shows_running_jobs_and_prefetched_ones_apart() -> None:
    text = show("queue", {"counts": [], "active_workers": 3, "prefetched_jobs": 2})
    assert "running now: 3" in text and "claimed ahead, not started: 2" in text


def test_the_cli_sends_the_name_a_profile_url_ends_with() -> None:
    assert profile_name("https://www.instagram.com/fit.bayann/") == "fit.bayann"
    assert profile_name("instagram.com/fit.bayann") == "fit.bayann"
    assert profile_name("@fit.bayann") == "@fit.bayann"
    assert profile_name("https://example.com/fit.bayann") == "https://example.com/fit.bayann", "left to the server"


def test_tracked_creators_show_growth_with_absent_windows_named_not_zero() -> None:
    creator = {
        "username": "chef.marco",
        "followers_count": "823410",
        "last_refreshed_at": "2026-11-30T00:00:00Z",
        "next_refresh_at": "2026-12-01T00:00:00Z",
        "growth": {
            "windows": [
                {"days": 7, "followers_gained": "1200", "growth_rate": 0.0015, "span_days": 7.0},
                {"days": 30, "absent_reason": "history_too_short"},
            ],
            "avg_daily_gain": 171.4,
            "engagement_rate_change_absent_reason": "history_too_short",
            "posting_cadence_absent_reason": "history_too_short",
            "snapshots_considered": 8,
            "history_days": 7.0,
        },
    }
    text = show("tracked", {"creators": [creator]})
    assert "7d +1,200 (0.15%)" in text
    assert "30d - (history_too_short)" in text
    assert "+171.4/day" in text


def test_the_report_explains_the_authenticity_score_signal_by_signal() -> None:
    data: dict[str, Any] = {
        "profile": {"username": "pod.pauline"},
        "authenticity": {
            "score": 41.0,
            "band": "low",
            "signals": [
                {
                    "name": "engagement_variation",
                    "value": 0.03,
                    "benchmark": 0.15,
                    "contribution": -16.0,
                    "explanation": "every post gets nearly the same engagement",
                },
                {"name": "follower_jumps", "benchmark": 0.05, "absent_reason": "history_too_short"},
            ],
        },
    }
    text = report(data)
    assert "authenticity: 41/100 (low), public data only" in text
    assert "-16.0" in text and "every post gets nearly the same engagement" in text
    assert "- (history_too_short)" in text


def test_the_cli_has_track_untrack_and_tracked_commands() -> None:
    from client.__main__ import parser

    assert parser().parse_args(["track", "chef.marco"]).command == "track"
    assert parser().parse_args(["untrack", "chef.marco"]).username == "chef.marco"
    assert parser().parse_args(["tracked", "--page-size", "5"]).page_size == 5
    assert show("untrack", {"was_tracked": False}) == "was not tracked"
