"""Plain-text rendering of API answers: aligned tables and a readable creator report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def percent(value: float | str | None) -> str:
    return f"{float(value or 0) * 100:.2f}%"


def count(value: Any) -> str:
    number = int(value or 0)
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if number >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


ENUM_PREFIXES = (
    "SENTIMENT_",
    "POST_TYPE_",
    "MEDIA_STATE_",
    "ANALYSIS_STATE_",
    "JOB_STATE_",
    "PRIORITY_",
    "HEALTH_STATUS_",
    "COMPONENT_STATUS_",
    "BREAKER_STATE_",
)


def short_enum(value: str | None) -> str:
    """`SENTIMENT_POSITIVE` -> `positive`."""
    if not value:
        return "-"
    for prefix in ENUM_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :].lower()
    return value.lower()


def report(data: dict[str, Any]) -> str:
    profile = data.get("profile", {})
    analytics = data.get("analytics", {})
    freshness = data.get("freshness", {})
    engagement = analytics.get("engagement", {})
    sentiment = analytics.get("sentiment", {})
    frequency = analytics.get("frequency", {})
    sponsored = analytics.get("sponsored", {})
    avatar = profile.get("avatar", {})
    verified = " ✓" if profile.get("is_verified") else ""
    private = " (private)" if profile.get("is_private") else ""
    source = (
        "stale copy: " + freshness.get("stale_reason", "")
        if freshness.get("stale")
        else ("from cache" if freshness.get("from_cache") else "fetched now")
    )
    languages = ", ".join(f"{x['label']} {percent(x['share'])}" for x in analytics.get("languages", [])[:4]) or "-"
    categories = ", ".join(f"{x['label']} {percent(x['share'])}" for x in analytics.get("categories", [])[:3]) or "-"
    lines = [
        f"@{profile.get('username', '?')}{verified}{private} - {profile.get('full_name', '')}",
        f"  {count(profile.get('followers_count'))} followers, {count(profile.get('following_count'))} following,"
        f" {count(profile.get('posts_count'))} posts; {profile.get('category') or 'no category'}",
        f"  report: {source}, age {float(freshness.get('age_seconds', 0)):.0f} s;"
        f" analysis {short_enum(data.get('analysis_state'))}",
        f"  engagement: mean {percent(engagement.get('mean_rate'))}, median {percent(engagement.get('median_rate'))}"
        f" over {engagement.get('posts_considered', 0)} posts; avg likes {float(engagement.get('avg_likes', 0)):.0f},"
        f" avg comments {float(engagement.get('avg_comments', 0)):.0f}",
        f"  posting: {float(frequency.get('posts_per_week', 0)):.1f} posts/week,"
        f" longest gap {float(frequency.get('longest_gap_days', 0)):.1f} days",
        f"  sponsored: {sponsored.get('sponsored_posts', 0)} posts at"
        f" {percent(sponsored.get('sponsored_engagement_rate'))}"
        f" vs organic {percent(sponsored.get('organic_engagement_rate'))}",
        f"  dominant category: {analytics.get('dominant_category') or '-'} ({categories})",
        f"  sentiment: mean {float(sentiment.get('mean_score', 0)):+.2f} (positive {sentiment.get('positive', 0)},"
        f" neutral {sentiment.get('neutral', 0)}, negative {sentiment.get('negative', 0)})",
        f"  languages: {languages}",
        f"  avatar: {avatar.get('url', '-')} [{short_enum(avatar.get('state'))}]",
    ]
    posts = data.get("recent_posts", [])
    if posts:
        mirrored = sum(1 for p in posts if p.get("image", {}).get("state") == "MEDIA_STATE_MIRRORED")
        lines.append(f"  images: {mirrored}/{len(posts)} post images mirrored")
        rows = [
            (
                p.get("shortcode"),
                short_enum(p.get("type")),
                percent(p.get("engagement_rate")),
                short_enum(p.get("analysis", {}).get("sentiment")),
                p.get("analysis", {}).get("category") or "-",
                p.get("analysis", {}).get("language") or "-",
                (p.get("caption") or "").replace("\n", " "),
            )
            for p in posts
        ]
        body = table(("post", "type", "ER", "sentiment", "category", "lang", "caption"), rows)
        lines.append("\n".join("  " + line for line in body.splitlines()))
    return "\n".join(lines)
