"""The figures a marketing team acts on, read as JSON through the gateway: every average says what it covers, absent
figures are absent with a reason (never 0), the sponsored summary matches the post flags, the unlocked list agrees
with the report, labels agree with scores, and images settle in every answer without another search."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import grpc
import pytest
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from tests.e2e.conftest import E2E
from tests.processes import ROOT

pytestmark = pytest.mark.slow


def band(score: float) -> str:
    return "SENTIMENT_POSITIVE" if score >= 0.2 else "SENTIMENT_NEGATIVE" if score <= -0.2 else "SENTIMENT_NEUTRAL"


def unlocked_by_name(e2e: E2E, user: str) -> dict[str, dict[str, Any]]:
    return {row["username"]: row for row in e2e.client(user).unlocked(page_size=100)["creators"]}


def test_hidden_private_and_empty_creators_have_no_engagement_figure_but_a_reason(e2e: E2E) -> None:
    client = e2e.client("figures-hidden")
    reasons = {"hidden.hana": "likes_hidden", "private.pia": "no_posts", "empty.eddie": "no_posts"}
    for name, reason in reasons.items():
        engagement = client.search(name)["analytics"]["engagement"]
        assert "mean_rate" not in engagement and "avg_likes" not in engagement, (name, engagement)
        assert engagement["absent_reason"] == reason
    hana = client.search("hidden.hana")
    assert hana["analytics"]["engagement"]["posts_considered"] == 0
    assert all("engagement_rate" not in post for post in hana["recent_posts"])
    listed = unlocked_by_name(e2e, "figures-hidden")
    for name, reason in reasons.items():
        assert "mean_engagement_rate" not in listed[name], listed[name]
        assert listed[name]["engagement_absent_reason"] == reason


def test_every_average_has_its_post_count_beside_it(e2e: E2E) -> None:
    analytics = e2e.client("figures-counts").search("fit.bayann")["analytics"]
    engagement = analytics["engagement"]
    assert engagement["posts_considered"] > 0 and 0 < engagement["mean_rate"] < 1, "a fraction, not a percentage"
    assert engagement["comments_posts_considered"] >= engagement["posts_considered"]
    assert {x["reason"] for x in engagement["left_out"]} == {"pinned"}
    assert analytics["frequency"]["posts_considered"] == engagement["comments_posts_considered"]
    sentiment = analytics["sentiment"]
    counted = sentiment["positive"] + sentiment["neutral"] + sentiment["negative"]
    assert counted == sentiment["coverage"]["posts_considered"] > 0
    assert analytics["category_coverage"]["posts_considered"] > 0


def test_the_sponsored_summary_counts_every_flagged_post_pinned_included(e2e: E2E) -> None:
    report = e2e.client("figures-sponsored").search("style.amara")
    flagged = [post for post in report["recent_posts"] if post["is_sponsored"]]
    sponsored = report["analytics"]["sponsored"]
    assert sponsored["sponsored_posts"] == len(flagged)
    assert sponsored["sponsored_posts"] + sponsored["organic_posts"] == len(report["recent_posts"])


def test_the_unlocked_list_shows_the_reports_engagement_rate_over_the_same_window(e2e: E2E) -> None:
    client = e2e.client("figures-window")
    client.search("gg.kenji", post_limit=40)
    report = client.search("gg.kenji")
    listed = unlocked_by_name(e2e, "figures-window")["gg.kenji"]
    assert listed["mean_engagement_rate"] == report["analytics"]["engagement"]["mean_rate"]
    assert listed["engagement_posts_considered"] == report["analytics"]["engagement"]["posts_considered"]


def test_sentiment_labels_and_scores_never_disagree(e2e: E2E) -> None:
    client = e2e.client("figures-sentiment")
    for name in ("fit.bayann", "chef.marco", "techwithtariq", "glow.yuna"):
        for post in client.search(name)["recent_posts"]:
            analysis = post["analysis"]
            if analysis["sentiment"] != "SENTIMENT_UNSPECIFIED":
                assert analysis["sentiment"] == band(analysis["sentiment_score"]), (name, post["shortcode"], analysis)
                assert 0 < analysis["sentiment_confidence"] <= 1


def test_the_report_says_which_languages_each_model_reads(e2e: E2E) -> None:
    report = e2e.client("figures-models").search("fit.bayann")
    assert {model["task"] for model in report["models"]} == {"sentiment", "language", "category"}


def cli(e2e: E2E, user: str) -> list[str]:
    return [sys.executable, "-m", "client", "--gateway", e2e.gateway, "--token", e2e.token(user)]


def test_at_name_works_as_username_and_the_cli_takes_a_profile_url(e2e: E2E) -> None:
    request = urllib.request.Request(
        f"{e2e.gateway}/api/v1/creator/search/@wander.lena",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {e2e.token('figures-names')}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert json.loads(reply.read())["profile"]["username"] == "wander.lena"
    result = subprocess.run(
        [*cli(e2e, "figures-names"), "--json", "search", "https://www.instagram.com/wander.lena/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"]["username"] == "wander.lena"


def test_images_settle_in_later_answers_within_3_s_of_the_cdn_without_another_search(e2e: E2E) -> None:
    client = e2e.client("figures-images")
    first = client.search("beats.theo")
    avatar_original = first["profile"]["avatar"]["original_url"]
    originals = list(
        dict.fromkeys(
            [avatar_original] + [p["image"]["original_url"] for p in first["recent_posts"] if p["image"]["url"]]
        )
    )
    cdn_url = f"http://{e2e.stack.values['CDN_HTTP_LISTEN']}/"
    channel = grpc.insecure_channel(e2e.stack.values["CDN_ADDR"])
    stub = cdn_pb2_grpc.CdnServiceStub(channel)
    settled = {cdn_pb2.JOB_STATE_DONE: "MEDIA_STATE_MIRRORED", cdn_pb2.JOB_STATE_DEAD: "MEDIA_STATE_FAILED"}
    cdn_done_at = answers_done_at = 0.0
    expected: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not answers_done_at:
            now = time.monotonic()
            if not cdn_done_at:
                assets = stub.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=originals), timeout=5).assets
                if {a.source_url for a in assets} == set(originals) and all(a.state in settled for a in assets):
                    cdn_done_at = now
                    expected = {a.source_url: settled[a.state] for a in assets}
            # Only reads that never ask the CDN themselves: the unlocked list and the posts pages.
            avatar = unlocked_by_name(e2e, "figures-images")["beats.theo"]["avatar_url"]
            posts = client.posts("beats.theo", page_size=len(first["recent_posts"]))["posts"]
            states = {p["image"]["original_url"]: p["image"]["state"] for p in posts if p["image"]["url"]}
            avatar_ok = avatar.startswith(cdn_url) or expected.get(avatar_original) == "MEDIA_STATE_FAILED"
            if cdn_done_at and avatar_ok and all(expected.get(url) == state for url, state in states.items()):
                answers_done_at = now
            time.sleep(0.1)  # the poll interval
    finally:
        channel.close()
    assert cdn_done_at and answers_done_at, (cdn_done_at, answers_done_at, expected)
    assert answers_done_at - cdn_done_at <= 3.0
    report = client.search("beats.theo")
    media = [report["profile"]["avatar"]] + [p["image"] for p in report["recent_posts"] if p["image"]["url"]]
    assert all(expected[m["original_url"]] == m["state"] for m in media)
    assert all(m["url"].startswith(cdn_url) for m in media if m["state"] == "MEDIA_STATE_MIRRORED")
