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

from services.creator.analytics import SENTIMENT_BAND
from tests.e2e.conftest import E2E
from tests.processes import ROOT

pytestmark = pytest.mark.slow


def band(score: float) -> str:
    if score >= SENTIMENT_BAND:
        return "SENTIMENT_POSITIVE"
    return "SENTIMENT_NEGATIVE" if score <= -SENTIMENT_BAND else "SENTIMENT_NEUTRAL"


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
    images = [p["image"]["original_url"] for p in first["recent_posts"] if p["image"]["url"]]
    originals = list(dict.fromkeys([avatar_original, *images]))
    cdn_url = f"http://{e2e.stack.values['CDN_HTTP_LISTEN']}/"
    channel = grpc.insecure_channel(e2e.stack.values["CDN_ADDR"])
    stub = cdn_pb2_grpc.CdnServiceStub(channel)
    settled = {cdn_pb2.JOB_STATE_DONE: "MEDIA_STATE_MIRRORED", cdn_pb2.JOB_STATE_DEAD: "MEDIA_STATE_FAILED"}
    # Per image: when the CDN first said it was done, and when the answers first showed it.
    cdn_done: dict[str, tuple[float, str]] = {}
    shown: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(shown) < len(originals):
            now = time.monotonic()
            for asset in stub.GetAssets(cdn_pb2.GetAssetsRequest(source_urls=originals), timeout=5).assets:
                if asset.state in settled and asset.source_url not in cdn_done:
                    cdn_done[asset.source_url] = (now, settled[asset.state])
            # Only reads that never ask the CDN themselves: the unlocked list and the posts pages.
            avatar = unlocked_by_name(e2e, "figures-images")["beats.theo"]["avatar_url"]
            answers = {p["image"]["original_url"]: p["image"]["state"] for p in client.posts("beats.theo")["posts"]}
            answers[avatar_original] = "MEDIA_STATE_MIRRORED" if avatar.startswith(cdn_url) else "MEDIA_STATE_PENDING"
            for url, (_, state) in cdn_done.items():
                if url not in shown and (
                    answers.get(url) == state or (url == avatar_original and state != "MEDIA_STATE_MIRRORED")
                ):
                    shown[url] = now
            time.sleep(0.1)  # the poll interval
    finally:
        channel.close()
    ended = time.monotonic()
    assert avatar_original in shown, "the avatar settled in the answers"
    lags = {url: shown[url] - cdn_done[url][0] for url in shown}
    assert max(lags.values()) <= 3.0, lags
    finished_early = {url for url, (at, _) in cdn_done.items() if at <= ended - 3.0}
    assert finished_early <= set(shown), "every image the CDN finished 3 s before the end is in the answers"
    report = client.search("beats.theo")
    media = [report["profile"]["avatar"]] + [p["image"] for p in report["recent_posts"] if p["image"]["url"]]
    for m in media:
        if m["original_url"] in cdn_done:
            assert m["state"] == cdn_done[m["original_url"]][1]
            assert m["state"] != "MEDIA_STATE_MIRRORED" or m["url"].startswith(cdn_url)
