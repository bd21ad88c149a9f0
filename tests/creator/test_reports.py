"""Per-post analysis as the API shows it: the one sentiment rule, confidence marks, skipped models and explicit states;
and the inference results as the creator reads them (filled by a fake reply, as a newer inference service would)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from creator.v1 import creator_pb2
from inference.v1 import inference_pb2

from services.creator.analytics import CaptionAnalysis, Thresholds
from services.creator.inference_client import caption_analysis
from services.creator.records import MediaInfo, StoredPost, StoredProfile
from services.creator.reports import ReportRules, analysis_message, post_message, rendered_report


def stored(caption: str | None, analysis: CaptionAnalysis | None, likes: int | None = 10) -> StoredPost:
    return StoredPost(
        instagram_id="1",
        shortcode="abc",
        type="image",
        taken_at=datetime(2026, 11, 1, tzinfo=UTC),
        caption=caption,
        likes=likes,
        comments=2,
        views=None,
        is_pinned=False,
        is_sponsored=False,
        hashtags=(),
        mentions=(),
        tagged_users=(),
        location_name="",
        image_url="",
        carousel_urls=(),
        analysis=analysis,
        followers=100,
    )


def reading(score: float, confidence: float, label: str = "positive") -> CaptionAnalysis:
    return CaptionAnalysis("analyzed", label, score, "en", 0.99, "Food", 0.6, sentiment_confidence=confidence)


def test_a_label_is_the_band_of_its_score_whatever_the_stored_label_says() -> None:
    weak = analysis_message(stored("nice", reading(0.04, 0.6, "positive")))
    strong = analysis_message(stored("nice", reading(0.47, 0.6, "neutral")))
    assert (weak.sentiment, strong.sentiment) == (creator_pb2.SENTIMENT_NEUTRAL, creator_pb2.SENTIMENT_POSITIVE)


def test_a_reading_below_the_threshold_is_marked_low_confidence() -> None:
    rules = Thresholds(min_sentiment_confidence=0.5, min_category_confidence=0.7)
    message = analysis_message(stored("nice", reading(0.8, 0.4)), rules)
    assert message.sentiment_confidence == 0.4
    assert message.sentiment_low_confidence and message.category_low_confidence
    assert not analysis_message(stored("nice", reading(0.8, 0.9)), rules).sentiment_low_confidence


def test_pending_and_missing_captions_have_an_explicit_state() -> None:
    pending = analysis_message(stored("nice", None))
    assert pending.state == creator_pb2.ANALYSIS_STATE_PENDING and not pending.analyzed
    silent = analysis_message(stored(None, None))
    assert silent.state == creator_pb2.ANALYSIS_STATE_COMPLETE
    assert silent.sentiment_skipped_reason == "no_caption"


def test_a_post_with_hidden_likes_has_no_engagement_rate_instead_of_zero() -> None:
    assert not post_message(stored("x", None, likes=None), {}).HasField("engagement_rate")
    assert post_message(stored("x", None, likes=10), {}).engagement_rate == 0.12


def sentiment_reply(score: float, probabilities: dict[str, float], **extra: object) -> inference_pb2.TextAnalysis:
    return inference_pb2.TextAnalysis(
        status=inference_pb2.TEXT_STATUS_ANALYZED,
        sentiment=inference_pb2.SentimentResult(
            label=inference_pb2.SENTIMENT_LABEL_POSITIVE,
            score=score,
            probabilities=[inference_pb2.LabelScore(label=k, score=v) for k, v in probabilities.items()],
            **extra,  # type: ignore[arg-type]
        ),
        language=inference_pb2.LanguageResult(code="en", confidence=0.99),
        category=inference_pb2.CategoryResult(label="Food", score=0.7),
    )


def test_the_creator_reads_the_banded_label_and_its_probability_as_confidence() -> None:
    result = caption_analysis(sentiment_reply(0.04, {"negative": 0.36, "neutral": 0.24, "positive": 0.40}))
    assert (result.sentiment, result.sentiment_confidence) == ("neutral", 0.24)


def test_a_skipped_reading_carries_its_reason_and_no_label() -> None:
    reply = sentiment_reply(0.0, {}, skipped_reason="unsupported_language")
    reply.category.skipped_reason = "unsupported_language"
    reply.category.label = ""
    result = caption_analysis(reply)
    assert (result.sentiment, result.sentiment_skipped) == ("", "unsupported_language")
    assert (result.category, result.category_skipped) == ("", "unsupported_language")
    message = analysis_message(stored("Déçue par cette marque", result))
    assert message.sentiment == creator_pb2.SENTIMENT_UNSPECIFIED
    assert message.sentiment_skipped_reason == "unsupported_language"
    assert message.category_skipped_reason == "unsupported_language"


def test_the_stored_summary_covers_the_summary_window_while_the_report_keeps_every_post() -> None:
    profile = StoredProfile(
        creator_id=1, instagram_id="9", username="chef", full_name="", biography="", external_url="", bio_links=(),
        is_private=False, is_verified=False, is_business=False, category="", followers=100, following=1,
        posts_count=3, avatar_url="https://img/a.jpg", fetched_at=datetime(2026, 11, 2, tzinfo=UTC),
    )  # fmt: skip
    newest = replace(stored("x", None, likes=10), instagram_id="3", taken_at=datetime(2026, 11, 1, tzinfo=UTC))
    older = [
        replace(newest, instagram_id=str(n), likes=90, taken_at=newest.taken_at - timedelta(days=n)) for n in (1, 2)
    ]
    mirrored = {"https://img/a.jpg": MediaInfo("https://img/a.jpg", creator_pb2.MEDIA_STATE_MIRRORED)}
    report, row = rendered_report(profile, [*older, newest], mirrored, ReportRules(summary_window=1))
    assert [post.instagram_id for post in report.recent_posts] == ["3", "1", "2"]
    assert row.mean_engagement_rate == 0.12 and row.engagement_posts_considered == 1
    assert report.analytics.engagement.posts_considered == 3
    assert row.analysis_pending and not row.media_pending
    assert creator_pb2.CreatorReport.FromString(row.report) == report
