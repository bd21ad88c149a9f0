"""The JSON search answer: the stored report's cached JSON with the per-response members spliced in is the JSON of the
completed message, in the API's convention; the cache renders a stored report once and stays within its bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from creator.v1 import creator_pb2
from google.protobuf import json_format

from services.creator import report_json, wire
from tests.creator.test_wire import MODELS, UNLOCKED, completed, stored_report

CACHE_BYTES = 1 << 20


def answer(report: creator_pb2.CreatorReport, stale_reason: str = "", refresh_skipped: bool = False) -> wire.Answer:
    """The answer completed() describes, as the search builds it."""
    return wire.Answer(
        wire.StoredReport(report.SerializeToString()),
        age_seconds=42.5,
        from_cache=True,
        stale_reason=stale_reason,
        refresh_skipped=refresh_skipped,
        unlocked_at=UNLOCKED,
        models=MODELS,
    )


def misses() -> float:
    return report_json.RENDERS.labels("miss")._value.get()


@pytest.mark.parametrize(("posts", "stale_reason", "refresh_skipped"), [(12, "", False), (3, "upstream down", True)])
def test_the_spliced_json_is_the_json_of_the_completed_message(
    posts: int, stale_reason: str, refresh_skipped: bool
) -> None:
    report = stored_report(posts)
    body = report_json.ReportJson(CACHE_BYTES).render(answer(report, stale_reason, refresh_skipped))
    expected = completed(report, stale_reason, refresh_skipped)
    assert json.loads(body) == report_json.message_json(expected)
    assert json_format.Parse(body, creator_pb2.CreatorReport()) == expected
    assert expected == creator_pb2.CreatorReport.FromString(answer(report, stale_reason, refresh_skipped).encoded())


def test_the_json_follows_the_api_convention() -> None:
    report = stored_report(2)
    report.profile.bio_links[:] = []
    body: dict[str, Any] = json.loads(report_json.ReportJson(CACHE_BYTES).render(answer(report)))
    profile = body["profile"]
    assert profile["followers_count"] == "12345678901"  # int64 as a string
    assert profile["is_private"] is False and profile["full_name"] == "" and profile["bio_links"] == []  # zero values
    assert "instagramId" not in profile and "instagram_id" in profile  # proto field names
    assert body["analysis_state"] == "ANALYSIS_STATE_COMPLETE"  # enums by name
    assert body["unlocked_at"] == "2026-11-30T01:02:03.456789Z"  # RFC 3339, UTC
    assert body["freshness"]["fetched_at"] == "2026-11-29T08:30:15.123456Z"
    assert body["freshness"]["age_seconds"] == 42.5 and body["freshness"]["stale"] is False
    assert [m["task"] for m in body["models"]] == ["sentiment", "language"]
    assert "authenticity" not in body  # an unset message is absent, as the gateway printed it


def test_a_report_without_models_or_posts_still_prints_their_empty_lists() -> None:
    bare = creator_pb2.CreatorReport(freshness=creator_pb2.ReportFreshness())
    completed_answer = wire.Answer(
        wire.StoredReport(bare.SerializeToString()), 0.0, False, "", False, UNLOCKED, models=()
    )
    body = json.loads(report_json.ReportJson(CACHE_BYTES).render(completed_answer))
    assert body["models"] == [] and body["recent_posts"] == []
    assert body["analysis_state"] == "ANALYSIS_STATE_UNSPECIFIED"


def test_a_stored_report_is_rendered_once_and_a_new_version_again() -> None:
    cache = report_json.ReportJson(CACHE_BYTES)
    report = stored_report(5)
    before = misses()
    first = cache.render(answer(report))
    again = cache.render(answer(report, stale_reason="upstream down"))
    assert misses() == before + 1
    assert json.loads(again)["freshness"]["stale_reason"] == "upstream down"  # per-response parts are not cached
    assert json.loads(again)["profile"] == json.loads(first)["profile"]
    report.profile.full_name = "Bayann, renamed"  # the stored report re-rendered: other bytes
    renamed = cache.render(answer(report))
    assert misses() == before + 2
    assert json.loads(renamed)["profile"]["full_name"] == "Bayann, renamed"


def test_the_cache_keeps_the_most_recently_used_reports_within_its_bytes() -> None:
    reports = []
    for index in range(4):
        report = stored_report(3)
        report.profile.username = f"creator.{index}"
        reports.append(report)
    one = 32 + len(report_json.stored_members(reports[0].SerializeToString()))  # a digest and the JSON
    cache = report_json.ReportJson(one * 2 + one // 2)  # room for two
    for report in reports[:2]:
        cache.render(answer(report))
    cache.render(answer(reports[0]))  # reports[0] is now the most recently used
    cache.render(answer(reports[2]))  # evicts reports[1]
    assert len(cache) == 2 and cache.cached_bytes <= one * 2 + one // 2
    before = misses()
    cache.render(answer(reports[0]))
    assert misses() == before
    cache.render(answer(reports[1]))
    assert misses() == before + 1


def test_a_report_larger_than_the_cache_is_answered_and_not_kept() -> None:
    cache = report_json.ReportJson(100)
    report = stored_report(3)
    body = cache.render(answer(report))
    assert json_format.Parse(body, creator_pb2.CreatorReport()) == completed(report, "", False)
    assert len(cache) == 0 and cache.cached_bytes == 0
