"""`following similar` and `following discover`: what they send to the gateway (a local HTTP server records it) and
how their answers print, as tables and as --json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from client.__main__ import main, show
from tests.loopback import recording_gateway

DISCOVERED = {
    "creators": [
        {
            "username": "crumb.and.crust",
            "score": 0.8123,
            "profile": {
                "full_name": "Crumb",
                "followers_count": "48200",
                "mean_engagement_rate": 0.031,
                "languages": ["en"],
                "topics": ["food", "family"],
            },
            "matching_posts": [
                {"shortcode": "Cx1", "caption": "Day three of the rye starter:\nbubbly", "similarity": 0.77},
                {"shortcode": "Cx2", "caption": "Second post", "similarity": 0.5},
            ],
        }
    ],
    "next_page_token": "TOKEN2",
    "lookalikes_of": "",
}
SIMILAR = {
    "creators": [
        {
            "username": "rye.and.rise",
            "similarity": 0.9134,
            "profile": {"followers_count": "1200", "topics": ["food"]},
            "shared_topics": ["food"],
        }
    ]
}


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in gateway on loopback that records each request and answers the matching canned body."""
    with recording_gateway(lambda method, path: SIMILAR if "/similar" in path else DISCOVERED) as served:
        yield served


def test_discover_sends_the_query_and_every_filter(
    gateway: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = gateway
    argv = ["--gateway", url, "--token", "t", "discover", "home baking", "--min-followers", "1000"]
    argv += ["--max-followers", "90000", "--category", "food", "--category", "family", "--language", "en"]
    argv += ["--min-er", "0.02", "--limit", "5", "--page-token", "TOKEN1", "--json"]
    assert main(argv) == 0
    assert seen == [
        {
            "method": "POST",
            "path": "/api/v1/discover",
            "body": {
                "query": "home baking",
                "min_followers": "1000",
                "max_followers": "90000",
                "categories": ["food", "family"],
                "languages": ["en"],
                "min_engagement_rate": 0.02,
                "page_size": 5,
                "page_token": "TOKEN1",
            },
        }
    ]
    assert json.loads(capsys.readouterr().out) == DISCOVERED


def test_discover_without_filters_sends_the_query_alone(gateway: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = gateway
    assert main(["--gateway", url, "--token", "t", "discover", "@chef.marco"]) == 0
    assert seen[0]["body"] == {"query": "@chef.marco"}


def test_similar_asks_for_the_lookalikes_of_the_named_creator(
    gateway: tuple[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = gateway
    assert (
        main(["--gateway", url, "--token", "t", "similar", "https://www.instagram.com/chef.marco/", "--limit", "3"])
        == 0
    )
    assert seen == [{"method": "GET", "path": "/api/v1/creator/chef.marco/similar?page_size=3", "body": None}]
    out = capsys.readouterr().out
    assert "rye.and.rise" in out and "0.913" in out


def test_the_discover_table_shows_score_profile_and_the_closest_caption_on_one_line() -> None:
    text = show("discover", DISCOVERED)
    lines = text.splitlines()
    assert lines[0].split() == ["creator", "score", "followers", "ER", "languages", "topics", "closest", "post"]
    assert "crumb.and.crust  0.812" in lines[2]
    assert "3.10%" in lines[2] and "food, family" in lines[2]
    assert "Day three of the rye starter: bubbly" in lines[2]
    assert lines[-1] == "more: --page-token TOKEN2"
    lookalikes = show("discover", {**DISCOVERED, "next_page_token": "", "lookalikes_of": "chef.marco"})
    assert lookalikes.splitlines()[0] == "lookalikes of @chef.marco"
    assert "more:" not in lookalikes


def test_the_similar_table_shows_similarity_and_shared_topics() -> None:
    text = show("similar", SIMILAR)
    header, _, row = text.splitlines()
    assert header.split() == ["creator", "similarity", "followers", "ER", "topics", "shared", "topics"]
    assert row.split()[:2] == ["rye.and.rise", "0.913"]
    assert row.endswith("food")
    assert "-" in row.split()  # no engagement rate: absent, not 0
