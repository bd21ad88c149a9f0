"""Creator analytics over the recent posts of a report: pure functions, definitions as in creator.proto.

Conventions: a post's engagement rate is (likes + comments) / followers, 0 when likes are hidden or followers are 0.
Pinned posts are left out of every statistic except the hashtag and mention counts. Sentiment, category and language
figures cover only captions the models ran on (status "analyzed"), and are empty while any caption is pending.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from creator.v1 import creator_pb2

TOP_TERMS = 10
TOP_POSTS = 3
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class CaptionAnalysis:
    """The AI results for one caption. `status` is "analyzed" (the models ran) or "no_text" (nothing to analyse)."""

    status: str
    sentiment: str  # "positive" | "neutral" | "negative"
    sentiment_score: float
    language: str
    language_confidence: float
    category: str
    category_score: float
    top_categories: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class PostFacts:
    """What analytics needs of one post."""

    shortcode: str
    taken_at: datetime
    likes: int | None  # None when hidden
    comments: int
    views: int | None
    is_video: bool
    is_pinned: bool
    is_sponsored: bool
    has_caption: bool
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    analysis: CaptionAnalysis | None = None


@dataclass(frozen=True, slots=True)
class AnalyticsResult:
    analytics: creator_pb2.Analytics
    complete: bool
    rates: dict[str, float] = field(default_factory=dict)


def engagement_rate(likes: int | None, comments: int, followers: int) -> float:
    if likes is None or followers <= 0:
        return 0.0
    return (likes + comments) / followers


def analysis_complete(posts: Iterable[PostFacts]) -> bool:
    """Every post with a caption has its AI results."""
    return all(post.analysis is not None for post in posts if post.has_caption)


def compute(posts: Sequence[PostFacts], followers: int) -> AnalyticsResult:
    """Every figure of `Analytics` for these recent posts."""
    rates = {post.shortcode: engagement_rate(post.likes, post.comments, followers) for post in posts}
    counted = [post for post in posts if not post.is_pinned]
    rated = [post for post in counted if post.likes is not None and followers > 0]
    complete = analysis_complete(posts)
    analytics = creator_pb2.Analytics(
        engagement=engagement(counted, followers),
        frequency=frequency([post.taken_at for post in counted]),
        top_hashtags=top_terms(tag for post in posts for tag in post.hashtags),
        top_mentions=top_terms(name for post in posts for name in post.mentions),
        sponsored=sponsored(counted, followers),
        top_posts=[
            creator_pb2.TopPost(shortcode=post.shortcode, engagement_rate=rates[post.shortcode])
            for post in sorted(rated, key=lambda p: (-rates[p.shortcode], -p.taken_at.timestamp()))[:TOP_POSTS]
        ],
    )
    if complete:
        analysed = [
            post.analysis for post in counted if post.analysis is not None and post.analysis.status == "analyzed"
        ]
        categories = label_shares(a.category for a in analysed if a.category)
        analytics.categories.extend(categories)
        analytics.dominant_category = categories[0].label if categories else ""
        analytics.sentiment.CopyFrom(sentiment(analysed))
        analytics.languages.extend(label_shares(a.language for a in analysed if a.language and a.language != "und"))
    return AnalyticsResult(analytics, complete, rates)


def engagement(posts: Sequence[PostFacts], followers: int) -> creator_pb2.EngagementStats:
    """Mean and median rate over non-pinned posts with visible likes; plain means of the counts."""
    rated = [post for post in posts if post.likes is not None and followers > 0]
    rates = [engagement_rate(post.likes, post.comments, followers) for post in rated]
    with_likes = [post.likes for post in posts if post.likes is not None]
    videos = [post.views for post in posts if post.is_video and post.views is not None]
    return creator_pb2.EngagementStats(
        mean_rate=statistics.fmean(rates) if rates else 0.0,
        median_rate=statistics.median(rates) if rates else 0.0,
        posts_considered=len(rates),
        avg_likes=statistics.fmean(with_likes) if with_likes else 0.0,
        avg_comments=statistics.fmean([post.comments for post in posts]) if posts else 0.0,
        avg_video_views=statistics.fmean(videos) if videos else 0.0,
    )


def frequency(taken: Sequence[datetime]) -> creator_pb2.PostingFrequency:
    """posts_per_week = (n - 1) intervals / span in weeks; 0 with fewer than two posts or a zero span."""
    ordered = sorted(taken)
    if len(ordered) < 2:
        return creator_pb2.PostingFrequency()
    span_days = (ordered[-1] - ordered[0]).total_seconds() / SECONDS_PER_DAY
    gaps = [(later - earlier).total_seconds() / SECONDS_PER_DAY for earlier, later in itertools.pairwise(ordered)]
    per_week = (len(ordered) - 1) / (span_days / 7) if span_days > 0 else 0.0
    return creator_pb2.PostingFrequency(posts_per_week=per_week, longest_gap_days=max(gaps), span_days=span_days)


def top_terms(terms: Iterable[str], limit: int = TOP_TERMS) -> list[creator_pb2.TermCount]:
    """Most frequent first, ties alphabetical."""
    counts = Counter(terms)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [creator_pb2.TermCount(term=term, count=count) for term, count in ordered]


def sponsored(posts: Sequence[PostFacts], followers: int) -> creator_pb2.SponsoredStats:
    paid = [post for post in posts if post.is_sponsored]
    organic = [post for post in posts if not post.is_sponsored]
    return creator_pb2.SponsoredStats(
        sponsored_posts=len(paid),
        organic_posts=len(organic),
        sponsored_engagement_rate=engagement(paid, followers).mean_rate,
        organic_engagement_rate=engagement(organic, followers).mean_rate,
    )


def label_shares(labels: Iterable[str]) -> list[creator_pb2.LabelShare]:
    counts = Counter(labels)
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [creator_pb2.LabelShare(label=label, count=count, share=count / total) for label, count in ordered]


def sentiment(analyses: Sequence[CaptionAnalysis]) -> creator_pb2.SentimentSummary:
    labels = Counter(a.sentiment for a in analyses)
    return creator_pb2.SentimentSummary(
        mean_score=statistics.fmean([a.sentiment_score for a in analyses]) if analyses else 0.0,
        positive=labels["positive"],
        neutral=labels["neutral"],
        negative=labels["negative"],
    )
