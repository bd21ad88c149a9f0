"""Turns stored records into API messages: posts with their media and AI results, unlocked creators, and the whole
creator report, which `render_report` rebuilds from the store's records and saves back for the cached path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from creator.v1 import creator_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.creator import analytics, authenticity, store
from services.creator.analytics import PostFacts
from services.creator.records import MediaInfo, RenderedReport, StoredPost, StoredProfile
from services.creator.unlocks import UnlockedRow

_POST_TYPES = {
    "image": creator_pb2.POST_TYPE_IMAGE,
    "video": creator_pb2.POST_TYPE_VIDEO,
    "carousel": creator_pb2.POST_TYPE_CAROUSEL,
    "reel": creator_pb2.POST_TYPE_REEL,
}
DEFAULT_THRESHOLDS = analytics.Thresholds()
_SENTIMENTS = {
    "negative": creator_pb2.SENTIMENT_NEGATIVE,
    "neutral": creator_pb2.SENTIMENT_NEUTRAL,
    "positive": creator_pb2.SENTIMENT_POSITIVE,
}


def media(url: str, known: Mapping[str, MediaInfo]) -> creator_pb2.Media:
    """The mirrored copy when the CDN has it, else the original URL."""
    if not url:
        return creator_pb2.Media(state=creator_pb2.MEDIA_STATE_PENDING)
    info = known.get(url)
    if info is None:
        return creator_pb2.Media(url=url, original_url=url, state=creator_pb2.MEDIA_STATE_PENDING)
    renditions = [
        creator_pb2.MediaRendition(width=r.width, height=r.height, format=r.format, url=r.url) for r in info.renditions
    ]
    if info.state == creator_pb2.MEDIA_STATE_MIRRORED and renditions:
        return creator_pb2.Media(
            url=renditions[-1].url, original_url=url, state=creator_pb2.MEDIA_STATE_MIRRORED, renditions=renditions
        )
    failed = info.state == creator_pb2.MEDIA_STATE_FAILED
    state = creator_pb2.MEDIA_STATE_FAILED if failed else creator_pb2.MEDIA_STATE_PENDING
    return creator_pb2.Media(url=url, original_url=url, state=state)


def media_settled(url: str, known: Mapping[str, MediaInfo]) -> bool:
    """The CDN is done with this image, one way or the other."""
    info = known.get(url)
    return info is not None and info.state in (creator_pb2.MEDIA_STATE_MIRRORED, creator_pb2.MEDIA_STATE_FAILED)


def analysis_message(
    post: StoredPost | PostFacts, thresholds: analytics.Thresholds = DEFAULT_THRESHOLDS
) -> creator_pb2.PostAnalysis:
    """Every field present with an explicit state: PENDING until the models ran, then the results and their marks."""
    facts_of = post if isinstance(post, PostFacts) else facts(post)
    analysis = facts_of.analysis
    if not facts_of.has_caption:
        return creator_pb2.PostAnalysis(
            state=creator_pb2.ANALYSIS_STATE_COMPLETE,
            sentiment_skipped_reason=analytics.NO_CAPTION,
            category_skipped_reason=analytics.NO_CAPTION,
        )
    if analysis is None:
        return creator_pb2.PostAnalysis(state=creator_pb2.ANALYSIS_STATE_PENDING)
    message = creator_pb2.PostAnalysis(
        analyzed=True,
        state=creator_pb2.ANALYSIS_STATE_COMPLETE,
        language=analysis.language,
        language_confidence=analysis.language_confidence,
        top_categories=[creator_pb2.LabelScore(label=label, score=score) for label, score in analysis.top_categories],
    )
    if analysis.status != "analyzed":
        message.sentiment_skipped_reason = analytics.NO_TEXT
        message.category_skipped_reason = analytics.NO_TEXT
        return message
    if analysis.sentiment_skipped or not analysis.sentiment:
        message.sentiment_skipped_reason = analysis.sentiment_skipped or analytics.NO_TEXT
    else:
        message.sentiment = _SENTIMENTS[analytics.sentiment_label(analysis.sentiment_score)]
        message.sentiment_score = analysis.sentiment_score
        message.sentiment_confidence = analysis.sentiment_confidence
        message.sentiment_low_confidence = analysis.sentiment_confidence < thresholds.min_sentiment_confidence
    if analysis.category_skipped or not analysis.category:
        message.category_skipped_reason = analysis.category_skipped or analytics.NO_TEXT
    else:
        message.category = analysis.category
        message.category_score = analysis.category_score
        message.category_low_confidence = analysis.category_score < thresholds.min_category_confidence
    return message


def post_message(
    post: StoredPost, known: Mapping[str, MediaInfo], thresholds: analytics.Thresholds = DEFAULT_THRESHOLDS
) -> creator_pb2.Post:
    taken = Timestamp()
    taken.FromDatetime(post.taken_at)
    message = creator_pb2.Post(
        instagram_id=post.instagram_id,
        shortcode=post.shortcode,
        permalink=f"https://www.instagram.com/p/{post.shortcode}/",
        type=_POST_TYPES.get(post.type, creator_pb2.POST_TYPE_UNSPECIFIED),
        taken_at=taken,
        caption=post.caption or "",
        likes_count=post.likes or 0,
        likes_hidden=post.likes is None,
        comments_count=post.comments,
        video_views=post.views or 0,
        is_pinned=post.is_pinned,
        is_sponsored=post.is_sponsored,
        hashtags=post.hashtags,
        mentions=post.mentions,
        tagged_users=post.tagged_users,
        location_name=post.location_name,
        image=media(post.image_url, known),
        carousel=[media(url, known) for url in post.carousel_urls],
        analysis=analysis_message(post, thresholds),
    )
    rate = analytics.engagement_rate(post.likes, post.comments, post.followers)
    if rate is not None:
        message.engagement_rate = rate
    return message


def facts(post: StoredPost) -> PostFacts:
    return PostFacts(
        shortcode=post.shortcode,
        taken_at=post.taken_at,
        likes=post.likes,
        comments=post.comments,
        views=post.views,
        is_video=post.type in ("video", "reel"),
        is_pinned=post.is_pinned,
        is_sponsored=post.is_sponsored,
        has_caption=bool(post.caption and post.caption.strip()),
        hashtags=post.hashtags,
        mentions=post.mentions,
        analysis=post.analysis,
    )


def profile_message(profile: StoredProfile, known: Mapping[str, MediaInfo]) -> creator_pb2.Profile:
    return creator_pb2.Profile(
        instagram_id=profile.instagram_id,
        username=profile.username,
        full_name=profile.full_name,
        biography=profile.biography,
        external_url=profile.external_url,
        bio_links=profile.bio_links,
        is_private=profile.is_private,
        is_verified=profile.is_verified,
        is_business=profile.is_business,
        category=profile.category,
        followers_count=profile.followers,
        following_count=profile.following,
        posts_count=profile.posts_count,
        avatar=media(profile.avatar_url, known),
    )


def build_report(
    profile: StoredProfile,
    posts: Sequence[StoredPost],
    known: Mapping[str, MediaInfo],
    thresholds: analytics.Thresholds = DEFAULT_THRESHOLDS,
    follower_history: Sequence[int] = (),
) -> tuple[creator_pb2.CreatorReport, analytics.AnalyticsResult]:
    """The report without its per-response parts (freshness, unlock time, models), with its authenticity block scored
    from its posts and `follower_history` (follower counts, oldest first). Posts newest first."""
    ordered = newest_first(posts)
    result = analytics.compute([facts(post) for post in ordered], profile.followers, thresholds)
    fetched = Timestamp()
    fetched.FromDatetime(profile.fetched_at)
    report = creator_pb2.CreatorReport(
        profile=profile_message(profile, known),
        analytics=result.analytics,
        recent_posts=[post_message(post, known, thresholds) for post in ordered],
        freshness=creator_pb2.ReportFreshness(fetched_at=fetched),
        analysis_state=creator_pb2.ANALYSIS_STATE_COMPLETE if result.complete else creator_pb2.ANALYSIS_STATE_PENDING,
    )
    report.authenticity.CopyFrom(authenticity.from_report(report, follower_history))
    return report, result


def media_urls(profile: StoredProfile, posts: Sequence[StoredPost]) -> list[str]:
    """Every image URL of a report, avatar first."""
    urls = [profile.avatar_url] if profile.avatar_url else []
    for post in posts:
        if post.image_url:
            urls.append(post.image_url)
        urls.extend(post.carousel_urls)
    return list(dict.fromkeys(urls))


def newest_first(posts: Sequence[StoredPost], limit: int | None = None) -> list[StoredPost]:
    """Posts newest first, cut to `limit` when given."""
    ordered = sorted(posts, key=lambda p: (p.taken_at, p.instagram_id), reverse=True)
    return ordered if limit is None or limit >= len(ordered) else ordered[:limit]


@dataclass(frozen=True, slots=True)
class ReportRules:
    """How reports are rendered: the confidence thresholds, and the window of the unlocked list's summary figures
    (the default post_limit, so they equal a default search's figures)."""

    thresholds: analytics.Thresholds = field(default_factory=analytics.Thresholds)
    summary_window: int = 12


def rendered_report(
    profile: StoredProfile,
    posts: Sequence[StoredPost],
    known: Mapping[str, MediaInfo],
    rules: ReportRules,
    follower_history: Sequence[int] = (),
) -> tuple[creator_pb2.CreatorReport, RenderedReport]:
    """The whole report of a creator (posts newest first, with its authenticity block scored over
    `follower_history`, the last 90 days' follower counts oldest first) and what its row stores.

    The unlocked list's summary (dominant category, mean engagement rate) is computed over the `summary_window` most
    recent posts, exactly as the report of a search with the default post_limit computes it.
    """
    ordered = newest_first(posts)
    report, result = build_report(profile, ordered, known, rules.thresholds, follower_history)
    summary = result.analytics
    if rules.summary_window < len(ordered):
        window = [facts(post) for post in ordered[: rules.summary_window]]
        summary = analytics.compute(window, profile.followers, rules.thresholds).analytics
    engagement = summary.engagement
    return report, RenderedReport(
        report=report.SerializeToString(),
        analysis_pending=not result.complete,
        media_pending=not all(media_settled(url, known) for url in media_urls(profile, ordered)),
        dominant_category=summary.dominant_category,
        mean_engagement_rate=engagement.mean_rate if engagement.HasField("mean_rate") else None,
        engagement_posts_considered=engagement.posts_considered,
        engagement_absent_reason=engagement.absent_reason,
    )


async def render_report(
    conn: asyncpg.Connection, creator_id: int, rules: ReportRules, limit: int | None = None
) -> creator_pb2.CreatorReport:
    """Rebuilds the report of a creator from its stored records. The whole report is saved; one cut to `limit` posts
    is not."""
    records = await store.load_report_records(conn, creator_id)
    profile, history = records.profile, records.follower_history
    posts = newest_first(records.posts, limit)
    known = await store.load_media(conn, media_urls(profile, posts))
    if limit is not None:
        report, _ = build_report(profile, posts, known, rules.thresholds, history)
        return report
    report, rendered = rendered_report(profile, posts, known, rules, history)
    await store.save_report(conn, creator_id, rendered)
    return report


def unlocked_message(row: UnlockedRow) -> creator_pb2.UnlockedCreator:
    message = creator_pb2.UnlockedCreator(
        username=row.username,
        full_name=row.full_name,
        avatar_url=row.avatar_url,
        is_verified=row.is_verified,
        followers_count=row.followers,
        dominant_category=row.dominant_category,
        unlocked_at=_timestamp(row.unlocked_at),
        fetched_at=_timestamp(row.fetched_at),
        engagement_posts_considered=row.engagement_posts_considered,
        engagement_absent_reason=row.engagement_absent_reason,
    )
    if row.mean_engagement_rate is not None:
        message.mean_engagement_rate = row.mean_engagement_rate
    return message


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
