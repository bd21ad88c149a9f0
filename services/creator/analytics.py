"""Creator analytics over the window of a report (its posts): pure functions, one definition per figure.

The definitions are written once, in creator.proto (Analytics and the messages it holds), and followed here:
- a post's engagement rate is (likes + comments) / followers, undefined (None) when likes are hidden or followers are 0;
- pinned posts are left out of every figure except the sponsored counts and the hashtag and mention counts;
- posts with hidden likes are left out of every like-based figure; a figure no post qualifies for is absent, with the
  reason, never 0;
- sentiment label and score follow one rule (`sentiment_label`), so they cannot disagree;
- the AI figures count only captions the models read with at least the confidence thresholds; the others are counted
  by reason in each figure's `Coverage`. While any caption waits for its analysis the AI figures are absent and their
  coverage says PENDING.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from creator.v1 import creator_pb2

TOP_TERMS = 10
TOP_POSTS = 3
SECONDS_PER_DAY = 86_400.0
# The sentiment bands: a score at or beyond +-SENTIMENT_BAND is positive or negative, anything between is neutral.
# The same band as the inference service's (services/inference/analysis.py), so the label a post shows is the model's.
SENTIMENT_BAND = 0.3

# Reasons a post is left out of a figure (LeftOut.reason).
PINNED = "pinned"
LIKES_HIDDEN = "likes_hidden"
NO_CAPTION = "no_caption"
NO_TEXT = "no_text"
LOW_CONFIDENCE = "low_confidence"
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Below these, a model's reading is marked and left out of the summaries (CREATOR_MIN_*_CONFIDENCE)."""

    min_sentiment_confidence: float = 0.5
    min_category_confidence: float = 0.2


@dataclass(frozen=True, slots=True)
class CaptionAnalysis:
    """The AI results for one caption. `status` is "analyzed" (the models ran) or "no_text" (nothing to analyse).

    `sentiment_skipped` / `category_skipped` say why a model did not read the caption (e.g. "unsupported_language");
    the label is then empty.
    """

    status: str
    sentiment: str  # "positive" | "neutral" | "negative" | "" (no sentiment)
    sentiment_score: float
    language: str
    language_confidence: float
    category: str
    category_score: float
    top_categories: tuple[tuple[str, float], ...] = ()
    sentiment_confidence: float = 0.0
    sentiment_skipped: str = ""
    category_skipped: str = ""
    # The caption's sentence embedding (unit length) when it was asked for; empty for "no_text" and in reports.
    embedding: tuple[float, ...] = ()


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


def sentiment_label(score: float) -> str:
    """The one rule: the band the score P(positive) - P(negative) falls in."""
    if score >= SENTIMENT_BAND:
        return "positive"
    if score <= -SENTIMENT_BAND:
        return "negative"
    return "neutral"


def engagement_rate(likes: int | None, comments: int, followers: int) -> float | None:
    """(likes + comments) / followers; None when likes are hidden or there are no followers."""
    if likes is None or followers <= 0:
        return None
    return (likes + comments) / followers


def analysis_complete(posts: Iterable[PostFacts]) -> bool:
    """Every post with a caption has its AI results."""
    return all(post.analysis is not None for post in posts if post.has_caption)


def sentiment_reason(post: PostFacts, thresholds: Thresholds) -> str:
    """Why a post is left out of the sentiment summary; "" when it counts."""
    return _ai_reason(
        post, lambda a: a.sentiment_skipped or _below(a.sentiment_confidence, thresholds.min_sentiment_confidence)
    )


def category_reason(post: PostFacts, thresholds: Thresholds) -> str:
    """Why a post is left out of the category figures; "" when it counts."""
    return _ai_reason(
        post,
        lambda a: (
            a.category_skipped
            or ("" if a.category else NO_TEXT)
            or _below(a.category_score, thresholds.min_category_confidence)
        ),
    )


def language_reason(post: PostFacts) -> str:
    return _ai_reason(post, lambda a: "" if a.language and a.language != "und" else NO_TEXT)


def _below(confidence: float, threshold: float) -> str:
    return LOW_CONFIDENCE if confidence < threshold else ""


def _ai_reason(post: PostFacts, model_reason: Callable[[CaptionAnalysis], str]) -> str:
    if post.is_pinned:
        return PINNED
    if not post.has_caption:
        return NO_CAPTION
    if post.analysis is None:
        return PENDING
    if post.analysis.status != "analyzed":
        return NO_TEXT
    return model_reason(post.analysis)


def compute(posts: Sequence[PostFacts], followers: int, thresholds: Thresholds | None = None) -> AnalyticsResult:
    """Every figure of `Analytics` over these posts (the window)."""
    rules = thresholds or Thresholds()
    counted = [post for post in posts if not post.is_pinned]
    rated = [
        (post, rate) for post in counted if (rate := engagement_rate(post.likes, post.comments, followers)) is not None
    ]
    complete = analysis_complete(posts)
    analytics = creator_pb2.Analytics(
        engagement=engagement(posts, followers),
        frequency=frequency([post.taken_at for post in counted]),
        top_hashtags=top_terms(tag for post in posts for tag in post.hashtags),
        top_mentions=top_terms(name for post in posts for name in post.mentions),
        sponsored=sponsored(posts, followers),
        top_posts=[
            creator_pb2.TopPost(shortcode=post.shortcode, engagement_rate=rate)
            for post, rate in sorted(rated, key=lambda item: (-item[1], -item[0].taken_at.timestamp()))[:TOP_POSTS]
        ],
    )
    sentiment_posts, sentiment_cover = coverage(posts, complete, lambda p: sentiment_reason(p, rules))
    analytics.sentiment.CopyFrom(sentiment([p.analysis for p in sentiment_posts if p.analysis is not None]))
    analytics.sentiment.coverage.CopyFrom(sentiment_cover)
    category_posts, category_cover = coverage(posts, complete, lambda p: category_reason(p, rules))
    categories = label_shares(p.analysis.category for p in category_posts if p.analysis is not None)
    analytics.categories.extend(categories)
    analytics.dominant_category = categories[0].label if categories else ""
    analytics.category_coverage.CopyFrom(category_cover)
    language_posts, language_cover = coverage(posts, complete, language_reason)
    analytics.languages.extend(label_shares(p.analysis.language for p in language_posts if p.analysis is not None))
    analytics.language_coverage.CopyFrom(language_cover)
    return AnalyticsResult(analytics, complete)


def coverage(
    posts: Sequence[PostFacts], complete: bool, reason: Callable[[PostFacts], str]
) -> tuple[list[PostFacts], creator_pb2.Coverage]:
    """The posts an AI figure counts (none while pending) and its Coverage message."""
    reasons = Counter(reason(post) for post in posts)
    considered = [post for post in posts if not reason(post)] if complete else []
    left_out = sorted(((r, n) for r, n in reasons.items() if r), key=lambda item: (-item[1], item[0]))
    absent = "analysis_pending" if not complete else ("" if considered else "no_posts_considered")
    return considered, creator_pb2.Coverage(
        state=creator_pb2.ANALYSIS_STATE_COMPLETE if complete else creator_pb2.ANALYSIS_STATE_PENDING,
        posts_considered=len(considered),
        left_out=[creator_pb2.LeftOut(reason=r, count=n) for r, n in left_out],
        absent_reason=absent,
    )


def engagement(posts: Sequence[PostFacts], followers: int) -> creator_pb2.EngagementStats:
    """The like-based figures over non-pinned posts with visible likes; comments over every non-pinned post."""
    counted = [post for post in posts if not post.is_pinned]
    visible = [post for post in counted if post.likes is not None]
    rates = [rate for post in visible if (rate := engagement_rate(post.likes, post.comments, followers)) is not None]
    videos = [post.views for post in counted if post.is_video and post.views is not None]
    stats = creator_pb2.EngagementStats(
        posts_considered=len(visible),
        comments_posts_considered=len(counted),
        video_posts_considered=len(videos),
        left_out=_left_out({PINNED: len(posts) - len(counted), LIKES_HIDDEN: len(counted) - len(visible)}),
    )
    if rates:
        stats.mean_rate = statistics.fmean(rates)
        stats.median_rate = statistics.median(rates)
    if visible:
        stats.avg_likes = statistics.fmean([post.likes for post in visible if post.likes is not None])
    if counted:
        stats.avg_comments = statistics.fmean([post.comments for post in counted])
    if videos:
        stats.avg_video_views = statistics.fmean(videos)
    if not counted:
        stats.absent_reason = "no_posts"
    elif not visible:
        stats.absent_reason = LIKES_HIDDEN
    elif not rates:
        stats.absent_reason = "no_followers"
    return stats


def _left_out(counts: dict[str, int]) -> list[creator_pb2.LeftOut]:
    ordered = sorted(((r, n) for r, n in counts.items() if n), key=lambda item: (-item[1], item[0]))
    return [creator_pb2.LeftOut(reason=r, count=n) for r, n in ordered]


def frequency(taken: Sequence[datetime]) -> creator_pb2.PostingFrequency:
    """posts_per_week = (n - 1) intervals / span in weeks; absent with fewer than two posts or a zero span."""
    ordered = sorted(taken)
    result = creator_pb2.PostingFrequency(posts_considered=len(ordered))
    if len(ordered) < 2:
        return result
    span_days = (ordered[-1] - ordered[0]).total_seconds() / SECONDS_PER_DAY
    gaps = [(later - earlier).total_seconds() / SECONDS_PER_DAY for earlier, later in itertools.pairwise(ordered)]
    result.longest_gap_days = max(gaps)
    result.span_days = span_days
    if span_days > 0:
        result.posts_per_week = (len(ordered) - 1) / (span_days / 7)
    return result


def top_terms(terms: Iterable[str], limit: int = TOP_TERMS) -> list[creator_pb2.TermCount]:
    """Most frequent first, ties alphabetical."""
    counts = Counter(terms)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [creator_pb2.TermCount(term=term, count=count) for term, count in ordered]


def sponsored(posts: Sequence[PostFacts], followers: int) -> creator_pb2.SponsoredStats:
    """Every post of the window counts (pinned included); the rates cover those with visible likes."""
    paid = [post for post in posts if post.is_sponsored]
    organic = [post for post in posts if not post.is_sponsored]
    stats = creator_pb2.SponsoredStats(sponsored_posts=len(paid), organic_posts=len(organic))
    paid_rates = _rates(paid, followers)
    organic_rates = _rates(organic, followers)
    stats.sponsored_posts_considered = len(paid_rates)
    stats.organic_posts_considered = len(organic_rates)
    if paid_rates:
        stats.sponsored_engagement_rate = statistics.fmean(paid_rates)
    if organic_rates:
        stats.organic_engagement_rate = statistics.fmean(organic_rates)
    return stats


def _rates(posts: Sequence[PostFacts], followers: int) -> list[float]:
    return [rate for post in posts if (rate := engagement_rate(post.likes, post.comments, followers)) is not None]


def label_shares(labels: Iterable[str]) -> list[creator_pb2.LabelShare]:
    counts = Counter(labels)
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [creator_pb2.LabelShare(label=label, count=count, share=count / total) for label, count in ordered]


def sentiment(analyses: Sequence[CaptionAnalysis]) -> creator_pb2.SentimentSummary:
    """Counts by the one rule's label (from the score), and the mean score; mean absent when nothing counts."""
    labels = Counter(sentiment_label(a.sentiment_score) for a in analyses)
    summary = creator_pb2.SentimentSummary(
        positive=labels["positive"], neutral=labels["neutral"], negative=labels["negative"]
    )
    if analyses:
        summary.mean_score = statistics.fmean([a.sentiment_score for a in analyses])
    return summary
