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
    # One line per row whatever the value holds (captions have line breaks and tabs).
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def percent(value: float | str | None) -> str:
    """A fraction from the API as a percentage; "-" when the figure is absent."""
    if value is None or value == "":
        return "-"
    return f"{float(value) * 100:.2f}%"


def exact(value: Any) -> str:
    """An exact count with thousands separators (history must show every follower, not "1.4M")."""
    return f"{int(value or 0):,}"


def change(value: int) -> str:
    return f"{value:+,}" if value else "0"


def history(snapshots: Sequence[dict[str, Any]]) -> str:
    """Exact counts at each snapshot and the change since the previous one, oldest first."""
    keys = ("followers_count", "following_count", "posts_count")
    rows = []
    for index, snap in enumerate(snapshots):
        row: list[str] = [str(snap.get("captured_at", ""))]
        for key in keys:
            before = snapshots[index - 1] if index else None
            row.append(exact(snap.get(key)))
            row.append("-" if before is None else change(int(snap.get(key) or 0) - int(before.get(key) or 0)))
        rows.append(row)
    return table(("captured", "followers", "change", "following", "change", "posts", "change"), rows)


def source(freshness: dict[str, Any]) -> str:
    """Where an answer came from, in the words the demo uses too."""
    if freshness.get("stale"):
        return "stale copy from our store: " + str(freshness.get("stale_reason", ""))
    if freshness.get("from_cache"):
        return "from our store"
    return "fetched from Instagram now"


def _mean(value: Any, considered: Any, unit: str = "") -> str:
    if value is None:
        return f"- (no post of {int(considered or 0)})"
    return f"{float(value):.0f}{unit} over {int(considered or 0)} posts"


def _left_out(cover: dict[str, Any]) -> str:
    parts = [f"{x.get('count', 0)} {x.get('reason', '?')}" for x in cover.get("left_out", [])]
    return f"; left out: {', '.join(parts)}" if parts else ""


def _absent(figure: dict[str, Any], key: str = "absent_reason") -> str:
    return f"absent ({figure.get(key) or 'no posts'})"


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
    categories_cover = analytics.get("category_coverage", {})
    languages_cover = analytics.get("language_coverage", {})
    sentiment_cover = sentiment.get("coverage", {})
    languages = ", ".join(f"{x['label']} {percent(x['share'])}" for x in analytics.get("languages", [])[:4]) or "-"
    categories = ", ".join(f"{x['label']} {percent(x['share'])}" for x in analytics.get("categories", [])[:3]) or "-"
    considered = engagement.get("posts_considered", 0)
    rates = (
        f"mean {percent(engagement['mean_rate'])}, median {percent(engagement.get('median_rate'))}"
        f" over {considered} posts"
        if "mean_rate" in engagement
        else _absent(engagement)
    )
    per_week = frequency.get("posts_per_week")
    posting = (
        f"{float(per_week):.1f} posts/week, longest gap {float(frequency.get('longest_gap_days', 0)):.1f} days"
        f" over {frequency.get('posts_considered', 0)} posts"
        if per_week is not None
        else f"- (fewer than two dated posts: {frequency.get('posts_considered', 0)})"
    )
    mood = (
        f"mean {float(sentiment['mean_score']):+.2f} (positive {sentiment.get('positive', 0)},"
        f" neutral {sentiment.get('neutral', 0)}, negative {sentiment.get('negative', 0)})"
        f" over {sentiment_cover.get('posts_considered', 0)} captions"
        if "mean_score" in sentiment
        else _absent(sentiment_cover)
    )
    models = "; ".join(f"{m.get('task')}: {', '.join(m.get('languages', [])) or 'any'}" for m in data.get("models", []))
    lines = [
        f"@{profile.get('username', '?')}{verified}{private} - {profile.get('full_name', '')}",
        f"  {count(profile.get('followers_count'))} followers, {count(profile.get('following_count'))} following,"
        f" {count(profile.get('posts_count'))} posts; {profile.get('category') or 'no category'}",
        f"  report: {source(freshness)}, fetched {float(freshness.get('age_seconds', 0)):.0f} s ago;"
        f" analysis {short_enum(data.get('analysis_state'))}",
        f"  engagement: {rates}{_left_out(engagement)}",
        f"  averages: likes {_mean(engagement.get('avg_likes'), considered)},"
        f" comments {_mean(engagement.get('avg_comments'), engagement.get('comments_posts_considered'))},"
        f" video views {_mean(engagement.get('avg_video_views'), engagement.get('video_posts_considered'))}",
        f"  posting: {posting}",
        f"  sponsored: {sponsored.get('sponsored_posts', 0)} of"
        f" {sponsored.get('sponsored_posts', 0) + sponsored.get('organic_posts', 0)} posts at"
        f" {percent(sponsored.get('sponsored_engagement_rate'))}"
        f" vs organic {percent(sponsored.get('organic_engagement_rate'))}",
        f"  dominant category: {analytics.get('dominant_category') or '-'} ({categories})"
        f" over {categories_cover.get('posts_considered', 0)} captions{_left_out(categories_cover)}",
        f"  sentiment: {mood}{_left_out(sentiment_cover)}",
        f"  languages: {languages} over {languages_cover.get('posts_considered', 0)} captions",
        f"  models read: {models or 'unknown'}",
        f"  avatar: {avatar.get('url', '-')} [{short_enum(avatar.get('state'))}]",
    ]
    if data.get("authenticity"):
        lines.append("\n".join("  " + line for line in authenticity(data["authenticity"]).splitlines()))
    posts = data.get("recent_posts", [])
    if posts:
        mirrored = sum(1 for p in posts if p.get("image", {}).get("state") == "MEDIA_STATE_MIRRORED")
        lines.append(f"  images: {mirrored}/{len(posts)} post images mirrored")
        rows = [
            (
                p.get("shortcode"),
                short_enum(p.get("type")),
                percent(p.get("engagement_rate")),
                _post_sentiment(p.get("analysis", {})),
                p.get("analysis", {}).get("category") or "-",
                p.get("analysis", {}).get("language") or "-",
                p.get("caption") or "",
            )
            for p in posts
        ]
        body = table(("post", "type", "ER", "sentiment", "category", "lang", "caption"), rows)
        lines.append("\n".join("  " + line for line in body.splitlines()))
    return "\n".join(lines)


def _post_sentiment(analysis: dict[str, Any]) -> str:
    if analysis.get("state") == "ANALYSIS_STATE_PENDING":
        return "pending"
    skipped = analysis.get("sentiment_skipped_reason")
    if skipped:
        return f"({skipped})"
    label = f"{short_enum(analysis.get('sentiment'))} {float(analysis.get('sentiment_score', 0)):+.2f}"
    return label + (" (low confidence)" if analysis.get("sentiment_low_confidence") else "")


def dead_jobs(data: dict[str, Any]) -> str:
    """Dead jobs with the reason each failed for good, and what to do next."""
    jobs = data.get("jobs", [])
    rows = [
        (
            j.get("job_id", ""),
            short_enum(j.get("kind")),
            j.get("attempts", 0),
            j.get("failed_at", ""),
            j.get("source_url", ""),
            j.get("last_error", ""),
        )
        for j in jobs
    ]
    total = int(data.get("total_size") or 0)
    if not total and not jobs:
        return "no dead jobs"
    return (
        table(("job", "kind", "attempts", "failed at", "image", "last error"), rows)
        + f"\n{total} dead jobs in all; `following queue retry JOB_ID...` (or --all) queues them again,"
        " `following queue discard JOB_ID...` deletes them"
    )


def cdn_stats(data: dict[str, Any]) -> str:
    """The answering replica's live counters, then the per-day statistics of all replicas."""
    m = data.get("metrics", {})
    lines = [
        f"this replica: up {float(m.get('uptime_seconds', 0)):.0f} s; workers {m.get('active_workers', 0)}"
        f"/{m.get('worker_capacity', 0)} busy; claimed {exact(m.get('jobs_claimed'))},"
        f" done {exact(m.get('jobs_done'))},"
        f" failed attempts {exact(m.get('jobs_failed'))}, dead {exact(m.get('jobs_dead'))},"
        f" rescued {exact(m.get('jobs_rescued'))}; downloads refused {exact(m.get('downloads_rejected'))};"
        f" bytes in {exact(m.get('bytes_downloaded'))}, stored {exact(m.get('bytes_stored'))}",
    ]
    rows = [
        (
            d.get("date", ""),
            exact(d.get("processed")),
            exact(d.get("failed")),
            percent(d.get("success_rate")),
            f"{float(d.get('p50_ms', 0)):.0f} ms",
            f"{float(d.get('p95_ms', 0)):.0f} ms",
            exact(d.get("bytes_in")),
            exact(d.get("bytes_out")),
        )
        for d in data.get("statistics", {}).get("days", [])
    ]
    lines.append(table(("day (UTC)", "processed", "failed", "success", "p50", "p95", "bytes in", "bytes out"), rows))
    return "\n".join(lines)


def growth_window(window: dict[str, Any]) -> str:
    if "followers_gained" not in window:
        return f"{window.get('days')}d - ({window.get('absent_reason', '')})"
    rate = f" ({percent(window.get('growth_rate'))})" if "growth_rate" in window else ""
    return f"{window.get('days')}d {change(int(window['followers_gained']))}{rate}"


def daily_gain(figures: dict[str, Any]) -> str:
    daily = figures.get("avg_daily_gain")
    return f"{float(daily):+,.1f}/day" if daily is not None else f"- ({figures.get('avg_daily_gain_absent_reason')})"


def growth(figures: dict[str, Any]) -> str:
    """The growth figures of a history or a tracked creator, absent ones with their reason."""
    parts = [growth_window(window) for window in figures.get("windows", [])]
    daily_text = daily_gain(figures)
    er = figures.get("engagement_rate_change")
    er_text = (
        f"{float(er) * 100:+.2f} pts"
        if er is not None
        else f"- ({figures.get('engagement_rate_change_absent_reason')})"
    )
    cadence = figures.get("posting_cadence_change")
    cadence_text = (
        f"{float(cadence):+.1f} posts/week"
        if cadence is not None
        else f"- ({figures.get('posting_cadence_absent_reason')})"
    )
    return (
        f"growth: {', '.join(parts)}; average {daily_text}; ER change {er_text}; cadence change {cadence_text}"
        f" (over {figures.get('snapshots_considered', 0)} snapshots, {float(figures.get('history_days', 0)):.1f} days)"
    )


def authenticity(block: dict[str, Any]) -> str:
    """The authenticity score with each signal's value, benchmark and contribution."""
    if "score" not in block:
        head = f"authenticity: - ({block.get('absent_reason', '')})"
    else:
        head = f"authenticity: {float(block['score']):.0f}/100 ({block.get('band', '')}), public data only"
    rows = [
        (
            s.get("name"),
            f"{float(s['value']):.4g}" if "value" in s else f"- ({s.get('absent_reason', '')})",
            f"{float(s.get('benchmark', 0)):.4g}",
            f"{float(s.get('contribution', 0)):+.1f}",
            s.get("explanation", ""),
        )
        for s in block.get("signals", [])
    ]
    return head + "\n" + table(("signal", "value", "benchmark", "points", "why"), rows)


def _topics(profile: dict[str, Any]) -> str:
    return ", ".join(profile.get("topics", [])) or "-"


def similar(data: dict[str, Any]) -> str:
    """Lookalikes: one line per creator, most similar first."""
    rows = [
        (
            c["username"],
            f"{float(c.get('similarity', 0)):.3f}",
            count(c.get("profile", {}).get("followers_count")),
            percent(c.get("profile", {}).get("mean_engagement_rate")),
            _topics(c.get("profile", {})),
            ", ".join(c.get("shared_topics", [])) or "-",
        )
        for c in data.get("creators", [])
    ]
    return table(("creator", "similarity", "followers", "ER", "topics", "shared topics"), rows)


def discovered(data: dict[str, Any]) -> str:
    """Discover's page: one line per creator, best first, with the caption closest to the query."""
    rows = [
        (
            c["username"],
            f"{float(c.get('score', 0)):.3f}",
            count(c.get("profile", {}).get("followers_count")),
            percent(c.get("profile", {}).get("mean_engagement_rate")),
            ", ".join(c.get("profile", {}).get("languages", [])) or "-",
            _topics(c.get("profile", {})),
            next((p.get("caption") or "" for p in c.get("matching_posts", [])), ""),
        )
        for c in data.get("creators", [])
    ]
    head = f"lookalikes of @{data['lookalikes_of']}\n" if data.get("lookalikes_of") else ""
    return head + table(("creator", "score", "followers", "ER", "languages", "topics", "closest post"), rows)
