"""The product end to end through Envoy: search, analytics, mirrored images, unlocks, pagination, isolation."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from client.api import ApiError
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually
from tests.processes import ROOT

pytestmark = pytest.mark.slow


def media_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [report["profile"]["avatar"]] + [post["image"] for post in report["recent_posts"]]


def all_mirrored(report: dict[str, Any]) -> bool:
    return all(m["state"] == "MEDIA_STATE_MIRRORED" for m in media_of(report))


def test_search_answers_the_whole_report_in_one_response(e2e: E2E) -> None:
    report = e2e.client("alice").search("fit.bayann")
    profile = report["profile"]
    assert profile["username"] == "fit.bayann"
    assert int(profile["followers_count"]) > 1_000_000
    assert len(report["recent_posts"]) == 12
    assert report["analysis_state"] == "ANALYSIS_STATE_COMPLETE"
    analytics = report["analytics"]
    assert analytics["engagement"]["posts_considered"] > 0
    assert 0 < analytics["engagement"]["mean_rate"] < 1
    assert analytics["dominant_category"] == "Fitness & Health"
    assert -1 <= analytics["sentiment"]["mean_score"] <= 1
    assert analytics["languages"][0]["label"] == "en"
    analysed = [p for p in report["recent_posts"] if p["caption"]]
    assert analysed and all(p["analysis"]["analyzed"] for p in analysed)
    assert all(m["url"] for m in media_of(report)), "every image has a URL (the original until mirrored)"


def test_images_are_mirrored_to_our_storage_and_served(e2e: E2E) -> None:
    client = e2e.client("alice")
    client.search("fit.bayann")
    report = eventually(lambda: client.search("fit.bayann"), all_mirrored, 90, "every image of fit.bayann mirrored")
    avatar = report["profile"]["avatar"]
    assert avatar["url"].startswith(f"http://{e2e.stack.values['CDN_HTTP_LISTEN']}/")
    assert avatar["url"] != avatar["original_url"]
    with urllib.request.urlopen(avatar["url"], timeout=5) as reply:
        head = reply.read(16)
    assert head.startswith(b"RIFF") or head.startswith(b"\xff\xd8\xff"), "a WebP or JPEG image"


def test_unlocked_list_and_posts_pagination(e2e: E2E) -> None:
    client = e2e.client("carol")
    for name in ("chef.marco", "wander.lena"):
        client.search(name)
    unlocked = client.unlocked()
    assert [c["username"] for c in unlocked["creators"]][:2] == ["wander.lena", "chef.marco"], "newest first"
    seen: list[str] = []
    token = ""
    for _ in range(20):
        page = client.posts("chef.marco", page_size=5, page_token=token)
        assert len(page["posts"]) <= 5
        seen += [p["instagram_id"] for p in page["posts"]]
        token = page["next_page_token"]
        if not token:
            break
    assert len(seen) >= 12
    assert len(seen) == len(set(seen)), "no post twice across pages"
    history = client.history("chef.marco")
    assert len(history["snapshots"]) >= 1


def test_two_users_are_isolated_end_to_end(e2e: E2E) -> None:
    dave, erin = e2e.client("dave"), e2e.client("erin")
    dave.search("techwithtariq")
    assert "techwithtariq" in [c["username"] for c in dave.unlocked()["creators"]]
    assert "techwithtariq" not in [c["username"] for c in erin.unlocked()["creators"]]
    with pytest.raises(ApiError) as denied:
        erin.posts("techwithtariq")
    assert denied.value.status == 403
    assert "search" in denied.value.message.lower()


def test_the_command_line_client_prints_a_report(e2e: E2E) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "client",
            "--gateway",
            e2e.gateway,
            "--token",
            e2e.token("frank"),
            "search",
            "fit.bayann",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "@fit.bayann" in result.stdout and "engagement" in result.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "client", "--gateway", e2e.gateway, "--token", e2e.token("frank"), "--json", "unlocked"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(as_json.stdout)["creators"][0]["username"] == "fit.bayann"
    refused = subprocess.run(
        [sys.executable, "-m", "client", "--gateway", e2e.gateway, "--token", "test", "unlocked"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "HTTP 401" in refused.stderr
