"""The encoded search answer spliced from the stored report's bytes is the message the parse-and-complete path gave."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from creator.v1 import creator_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.creator import wire
from services.creator.inference_client import ModelLanguages
from services.creator.reports import post_message
from tests.creator.test_reports import reading, stored

FETCHED = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)
UNLOCKED = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)
MODELS = (
    ModelLanguages("sentiment", "minilm-l6-heads 4f02", ("en",)),
    ModelLanguages("language", "langid-nb 8e8e", ("de", "en", "fr")),
)


def stored_report(posts: int) -> creator_pb2.CreatorReport:
    """A report as the store keeps it: every part but the per-response ones (freshness has fetched_at only)."""
    fetched = Timestamp()
    fetched.FromDatetime(FETCHED)
    analysis = reading(0.91, 0.93)
    report = creator_pb2.CreatorReport(
        recent_posts=[post_message(stored(f"caption {i} #gym", analysis, likes=10 + i), {}) for i in range(posts)],
        freshness=creator_pb2.ReportFreshness(fetched_at=fetched),
        analysis_state=creator_pb2.ANALYSIS_STATE_COMPLETE,
    )
    report.profile.username = "fit.bayann"
    report.profile.followers_count = 12_345_678_901
    report.analytics.top_hashtags.add(term="gym", count=posts)
    return report


def completed(report: creator_pb2.CreatorReport, stale_reason: str, refresh_skipped: bool) -> creator_pb2.CreatorReport:
    """The per-response parts set on the parsed message, as the answer was built before."""
    answer = creator_pb2.CreatorReport()
    answer.CopyFrom(report)
    answer.freshness.age_seconds = 42.5
    answer.freshness.from_cache = True
    answer.freshness.stale = bool(stale_reason)
    answer.freshness.stale_reason = stale_reason
    answer.freshness.refresh_skipped = refresh_skipped
    answer.unlocked_at.FromDatetime(UNLOCKED)
    for model in MODELS:
        answer.models.add(task=model.task, model=model.model, languages=model.languages)
    return answer


@pytest.mark.parametrize(("posts", "stale_reason", "refresh_skipped"), [(12, "", False), (3, "upstream down", True)])
def test_the_spliced_answer_has_the_bytes_of_the_completed_message(
    posts: int, stale_reason: str, refresh_skipped: bool
) -> None:
    report = stored_report(posts)
    spliced = wire.StoredReport(report.SerializeToString()).answer(
        age_seconds=42.5,
        from_cache=True,
        stale_reason=stale_reason,
        refresh_skipped=refresh_skipped,
        unlocked_at=UNLOCKED,
        models=MODELS,
    )
    expected = completed(report, stale_reason, refresh_skipped)
    assert spliced == expected.SerializeToString()
    parsed = creator_pb2.CreatorReport.FromString(spliced)
    assert parsed == expected
    assert parsed.freshness.fetched_at.ToDatetime(UTC) == FETCHED  # the stored part of freshness is kept


def test_the_post_count_is_read_from_the_encoded_report() -> None:
    assert wire.StoredReport(stored_report(7).SerializeToString()).post_count == 7
    assert wire.StoredReport(b"").post_count == 0


def test_bytes_that_are_not_a_whole_message_are_refused() -> None:
    encoded = stored_report(2).SerializeToString()
    with pytest.raises(ValueError, match="truncated"):
        wire.top_level_fields(encoded[:-3])
