"""`following track`, `untrack` and `tracked`: what they send to the gateway (a local HTTP server records it) and what
they print."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from client.__main__ import main
from tests.loopback import recording_gateway

ANSWERS: dict[str, dict[str, Any]] = {
    "POST": {"creator": {"username": "chef.marco", "next_refresh_at": "2026-12-01T00:00:00Z"}},
    "DELETE": {"was_tracked": True},
    "GET": {
        "creators": [
            {
                "username": "chef.marco",
                "followers_count": "823410",
                "last_refreshed_at": "2026-11-30T00:00:00Z",
                "growth": {"windows": [{"days": 7, "absent_reason": "history_too_short"}]},
            }
        ],
        "next_page_token": "NEXT",
    },
}


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in gateway on loopback that records each request and answers the canned body of its verb."""
    with recording_gateway(lambda method, path: ANSWERS[method]) as served:
        yield served


def test_track_posts_an_empty_body_and_untrack_deletes_the_same_path(
    gateway: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = gateway
    assert main(["--gateway", url, "--token", "t", "track", "https://www.instagram.com/chef.marco/"]) == 0
    assert "tracking @chef.marco" in capsys.readouterr().out
    assert main(["--gateway", url, "--token", "t", "untrack", "chef.marco"]) == 0
    assert capsys.readouterr().out.strip() == "stopped tracking"
    assert seen == [
        {"method": "POST", "path": "/api/v1/creator/chef.marco/track", "body": {}},
        {"method": "DELETE", "path": "/api/v1/creator/chef.marco/track", "body": None},
    ]


def test_tracked_asks_for_a_page_and_prints_growth_and_the_next_token(
    gateway: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = gateway
    assert main(["--gateway", url, "--token", "t", "tracked", "--page-size", "5", "--page-token", "PREV"]) == 0
    assert seen == [{"method": "GET", "path": "/api/v1/creator/tracked?page_size=5&page_token=PREV", "body": None}]
    out = capsys.readouterr().out
    assert "chef.marco" in out and "history_too_short" in out and "NEXT" in out
