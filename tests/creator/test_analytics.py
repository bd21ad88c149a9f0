"""Analytics on a hand-computed example: five posts (one pinned, one with hidden likes, one without caption), 1,000
followers. Every expected number below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from creator.v1 import creator_pb2

from services.creator.analytics import (
    SENTIMENT_BAND,
    CaptionAnalysis,
    PostFacts,
    Thresholds,
    compute,
    frequency,
    sentiment_label,
)

FOLLOWERS = 1000
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


def analysis(sentiment: str, score: float, language: str, category: str, confidence: float = 0.9) -> CaptionAnalysis:
    return CaptionAnalysis(
        "analyzed", sentiment, score, language, 0.9, category, 0.8, ((category, 0.8),), sentiment_confidence=confidence
    )


def post(name: str, day: int, likes: int | None, comments: int, **extra: object) -> PostFacts:
    fields: dict[str, object] = {
        "views": None,
        "is_video": False,
        "is_pinned": False,
        "is_sponsored": False,
        "has_caption": True,
    }
    fields.update(extra)
    return PostFacts(shortcode=name, taken_at=DAY0 + timedelta(days=day), likes=likes, comments=comments, **fields)  # type: ignore[arg-type]


FIT = "Fitness & Health"


SPANISH_TRAVEL = analysis("negative", -0.6, "es", "Travel")


def example(p3_analysis: CaptionAnalysis | None = SPANISH_TRAVEL) -> list[PostFacts]:
    return [
        # rate (50 + 10) / 1000 = 0.06
        post("p1", 10, 50, 10, hashtags=("fit",), mentions=("a",), analysis=analysis("positive", 0.8, "en", FIT)),
        # rate 0.03, sponsored, video with 500 views
        post(
            "p2",
            8,
            30,
            0,
            views=500,
            is_video=True,
            is_sponsored=True,
            hashtags=("fit", "ad"),
            analysis=analysis("neutral", 0.0, "en", FIT),
        ),
        # likes hidden: rate 0 and left out of the rate statistics; a reel with 1,500 plays
        post("p3", 4, None, 5, views=1500, is_video=True, hashtags=("viaje",), analysis=p3_analysis),
        # rate (20 + 20) / 1000 = 0.04; no caption, so no analysis is expected
        post("p4", 1, 20, 20, has_caption=False),
        # pinned: rate 1.0 but excluded from every statistic except the term counts
        post("pin", 0, 1000, 0, is_pinned=True, hashtags=("fit",), analysis=analysis("positive", 0.9, "en", FIT)),
    ]


def test_engagement_uses_non_pinned_posts_with_visible_likes() -> None:
    result = compute(example(), FOLLOWERS)
    engagement = result.analytics.engagement
    assert engagement.posts_considered == 3  # p1, p2, p4
    assert engagement.mean_rate == pytest.approx((0.06 + 0.03 + 0.04) / 3)
    assert engagement.median_rate == pytest.approx(0.04)
    assert engagement.avg_likes == pytest.approx((50 + 30 + 20) / 3)
    assert engagement.avg_comments == pytest.approx((10 + 0 + 5 + 20) / 4)
    assert engagement.avg_video_views == pytest.approx((500 + 1500) / 2)
    assert (engagement.comments_posts_considered, engagement.video_posts_considered) == (4, 2)
    assert [(x.reason, x.count) for x in engagement.left_out] == [("likes_hidden", 1), ("pinned", 1)]
    assert engagement.absent_reason == ""


def test_posting_frequency_counts_intervals_over_the_span() -> None:
    freq = compute(example(), FOLLOWERS).analytics.frequency
    # non-pinned days 1, 4, 8, 10: span 9 days, gaps 3, 4, 2; 3 intervals / (9 / 7) weeks
    assert freq.span_days == pytest.approx(9)
    assert freq.longest_gap_days == pytest.approx(4)
    assert freq.posts_per_week == pytest.approx(3 / (9 / 7))


def test_frequency_is_absent_with_fewer_than_two_posts() -> None:
    single = frequency([DAY0])
    assert not single.HasField("posts_per_week") and not single.HasField("span_days")
    assert single.posts_considered == 1


def test_terms_sponsorship_and_top_posts() -> None:
    analytics = compute(example(), FOLLOWERS).analytics
    assert [(t.term, t.count) for t in analytics.top_hashtags] == [("fit", 3), ("ad", 1), ("viaje", 1)]
    assert [(t.term, t.count) for t in analytics.top_mentions] == [("a", 1)]
    sponsored = analytics.sponsored
    assert (sponsored.sponsored_posts, sponsored.organic_posts) == (1, 4)  # every post of the window, pinned too
    assert sponsored.sponsored_engagement_rate == pytest.approx(0.03)
    assert sponsored.organic_engagement_rate == pytest.approx((0.06 + 0.04 + 1.0) / 3)  # p3 has hidden likes
    assert (sponsored.sponsored_posts_considered, sponsored.organic_posts_considered) == (1, 3)
    assert [(t.shortcode, round(t.engagement_rate, 4)) for t in analytics.top_posts] == [
        ("p1", 0.06),
        ("p4", 0.04),
        ("p2", 0.03),
    ]


def test_ai_figures_cover_analysed_non_pinned_captions() -> None:
    result = compute(example(), FOLLOWERS)
    analytics = result.analytics
    assert result.complete
    assert [(c.label, c.count, round(c.share, 4)) for c in analytics.categories] == [
        (FIT, 2, round(2 / 3, 4)),
        ("Travel", 1, round(1 / 3, 4)),
    ]
    assert analytics.dominant_category == FIT
    assert analytics.sentiment.mean_score == pytest.approx((0.8 + 0.0 - 0.6) / 3)
    assert (analytics.sentiment.positive, analytics.sentiment.neutral, analytics.sentiment.negative) == (1, 1, 1)
    assert [(lang.label, lang.count) for lang in analytics.languages] == [("en", 2), ("es", 1)]


def test_a_pending_caption_leaves_the_ai_figures_absent_with_an_explicit_pending_state() -> None:
    result = compute(example(p3_analysis=None), FOLLOWERS)
    analytics = result.analytics
    assert not result.complete
    assert analytics.dominant_category == ""
    assert len(analytics.categories) == 0
    assert len(analytics.languages) == 0
    assert analytics.HasField("sentiment"), "the sentiment summary is present while pending"
    assert not analytics.sentiment.HasField("mean_score")
    for cover in (analytics.sentiment.coverage, analytics.category_coverage, analytics.language_coverage):
        assert cover.state == creator_pb2.ANALYSIS_STATE_PENDING
        assert cover.absent_reason == "analysis_pending"
        assert ("pending", 1) in [(x.reason, x.count) for x in cover.left_out]
    assert analytics.engagement.posts_considered == 3  # the rest is computed as usual


def test_captions_with_no_text_count_as_analysed_but_not_in_ai_figures() -> None:
    emoji_only = CaptionAnalysis("no_text", "", 0.0, "und", 0.0, "", 0.0)
    result = compute(example(p3_analysis=emoji_only), FOLLOWERS)
    assert result.complete
    assert [(lang.label, lang.count) for lang in result.analytics.languages] == [("en", 2)]
    assert result.analytics.sentiment.mean_score == pytest.approx(0.4)
    assert ("no_text", 1) in [(x.reason, x.count) for x in result.analytics.sentiment.coverage.left_out]


def test_zero_followers_leaves_the_rates_absent_instead_of_dividing_by_zero() -> None:
    engagement = compute(example(), 0).analytics.engagement
    assert not engagement.HasField("mean_rate") and not engagement.HasField("median_rate")
    assert engagement.absent_reason == "no_followers"
    assert engagement.avg_likes == pytest.approx((50 + 30 + 20) / 3)


def test_hidden_likes_everywhere_leave_the_like_figures_absent_with_a_reason_not_zero() -> None:
    hidden = [post(f"h{i}", i, None, 3) for i in range(4)]
    result = compute(hidden, FOLLOWERS).analytics
    engagement = result.engagement
    assert engagement.posts_considered == 0
    for name in ("mean_rate", "median_rate", "avg_likes"):
        assert not engagement.HasField(name), name
    assert engagement.absent_reason == "likes_hidden"
    assert engagement.avg_comments == pytest.approx(3)
    assert len(result.top_posts) == 0
    assert not result.sponsored.HasField("organic_engagement_rate")


def test_no_posts_leave_every_average_absent() -> None:
    result = compute([], FOLLOWERS).analytics
    assert result.engagement.absent_reason == "no_posts"
    assert not result.engagement.HasField("avg_comments")
    assert not result.sentiment.HasField("mean_score")
    assert result.sentiment.coverage.absent_reason == "no_posts_considered"


def test_pinned_sponsored_posts_are_counted_in_the_sponsored_summary() -> None:
    posts = [
        post("a", 5, 10, 1),
        post("pin1", 1, 10, 1, is_pinned=True, is_sponsored=True),
        post("pin2", 0, 10, 1, is_pinned=True, is_sponsored=True),
    ]
    sponsored = compute(posts, FOLLOWERS).analytics.sponsored
    assert (sponsored.sponsored_posts, sponsored.organic_posts) == (2, 1)


def test_sentiment_labels_come_from_the_score_band_so_they_never_disagree() -> None:
    posts = [
        post("weak", 3, 10, 0, analysis=analysis("positive", 0.04, "en", FIT)),
        post("strong", 2, 10, 0, analysis=analysis("neutral", 0.47, "en", FIT)),
        post("low", 1, 10, 0, analysis=analysis("negative", -0.3, "en", FIT)),
    ]
    summary = compute(posts, FOLLOWERS).analytics.sentiment
    assert (summary.positive, summary.neutral, summary.negative) == (1, 1, 1)
    assert sentiment_label(0.04) == "neutral" and sentiment_label(0.47) == "positive"
    assert sentiment_label(SENTIMENT_BAND) == "positive" and sentiment_label(-SENTIMENT_BAND) == "negative"
    assert sentiment_label(SENTIMENT_BAND - 0.01) == "neutral"


def test_low_confidence_and_unsupported_language_readings_are_left_out_and_counted() -> None:
    spanish = CaptionAnalysis(
        "analyzed",
        "",
        0.0,
        "es",
        0.99,
        "",
        0.0,
        sentiment_skipped="unsupported_language",
        category_skipped="unsupported_language",
    )
    posts = [
        post("sure", 4, 10, 0, analysis=analysis("positive", 0.8, "en", FIT, confidence=0.9)),
        post("unsure", 3, 10, 0, analysis=analysis("negative", -0.3, "en", FIT, confidence=0.4)),
        post("es", 2, 10, 0, analysis=spanish),
    ]
    analytics = compute(posts, FOLLOWERS, Thresholds(min_sentiment_confidence=0.5)).analytics
    summary = analytics.sentiment
    assert (summary.positive, summary.neutral, summary.negative) == (1, 0, 0)
    assert summary.mean_score == pytest.approx(0.8)
    assert summary.coverage.posts_considered == 1
    assert sorted((x.reason, x.count) for x in summary.coverage.left_out) == [
        ("low_confidence", 1),
        ("unsupported_language", 1),
    ]
    assert [(c.label, c.count) for c in analytics.categories] == [(FIT, 2)]
    assert [(x.reason, x.count) for x in analytics.category_coverage.left_out] == [("unsupported_language", 1)]
    assert [(lang.label, lang.count) for lang in analytics.languages] == [("en", 2), ("es", 1)]
