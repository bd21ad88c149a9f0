"""Discovery end to end through Envoy: after searching some sample creators, and once their captions are embedded,
`similar` and `discover` answer sensible, exactly filtered and paginated results with a token, and 401 without one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from client.api import ApiError, GatewayClient
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually

pytestmark = pytest.mark.slow

BEAUTY = ("glow.yuna", "hidden.hana", "pod.pauline")
FASHION = ("style.amara", "boost.brandon")
OTHERS = ("fit.bayann", "techwithtariq")
SEARCHED = (*BEAUTY, *FASHION, *OTHERS)
EMBEDDED_WITHIN_S = 180


def embedded(client: GatewayClient, username: str) -> bool:
    try:
        client.similar(username, 1)
    except ApiError as exc:
        if "not embedded yet" in exc.message:
            return False
        raise
    return True


@pytest.fixture(scope="module")
def searched(e2e: E2E) -> GatewayClient:
    """The sample creators searched, and polled until every one of them has its embedding."""
    client = e2e.client("discoverer", timeout=60)
    for username in SEARCHED:
        client.search(username)
    for username in SEARCHED:
        wait_embedded(client, username)
    return client


def wait_embedded(client: GatewayClient, username: str) -> None:
    eventually(lambda: embedded(client, username), bool, EMBEDDED_WITHIN_S, f"the embedding of {username}")


def names(answer: dict[str, Any]) -> list[str]:
    return [c["username"] for c in answer["creators"]]


def test_similar_lists_lookalikes_from_the_same_niche_first(searched: GatewayClient) -> None:
    answer = searched.similar("glow.yuna", 10)
    found = names(answer)
    assert "glow.yuna" not in found
    assert set(found) >= set(SEARCHED) - {"glow.yuna"}
    assert found[0] in BEAUTY, found
    similarities = [c["similarity"] for c in answer["creators"]]
    assert similarities == sorted(similarities, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in similarities)
    top = answer["creators"][0]
    assert top["profile"]["followers_count"].isdigit()
    assert set(top["shared_topics"]) <= set(top["profile"]["topics"])
    assert names(searched.similar("style.amara", 1)) == ["boost.brandon"]


def test_discover_ranks_by_meaning_with_exact_filters(searched: GatewayClient) -> None:
    answer = searched.discover("skincare routine, serums and makeup looks")
    assert answer["lookalikes_of"] == ""
    assert names(answer)[0] in BEAUTY, names(answer)
    scores = [c["score"] for c in answer["creators"]]
    assert scores == sorted(scores, reverse=True)
    assert answer["creators"][0]["matching_posts"], "the best match shows its closest captions"
    assert len(answer["creators"][0]["matching_posts"]) <= 3

    big = searched.discover("skincare routine, serums and makeup looks", {"min_followers": "1000000"})
    assert big["creators"]
    assert all(int(c["profile"]["followers_count"]) >= 1_000_000 for c in big["creators"])
    assert "glow.yuna" in names(big) and "hidden.hana" not in names(big)
    english = searched.discover("workouts", {"languages": ["en"], "min_engagement_rate": 0.0})
    assert all("en" in c["profile"]["languages"] for c in english["creators"])
    assert all("mean_engagement_rate" in c["profile"] for c in english["creators"])

    lookalikes = searched.discover("@glow.yuna", {"page_size": 2})
    assert lookalikes["lookalikes_of"] == "glow.yuna"
    assert names(lookalikes)[0] in BEAUTY


def test_discover_pages_repeat_and_skip_no_creator(searched: GatewayClient) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(50):
        page = searched.discover("fashion, style and beauty", {"page_size": 2, "page_token": token})
        assert len(page["creators"]) <= 2
        seen += names(page)
        token = page["next_page_token"]
        if not token:
            break
    assert not token, "the last page has no token"
    assert len(seen) == len(set(seen))
    assert set(seen) >= set(SEARCHED)
    assert seen == names(searched.discover("fashion, style and beauty", {"page_size": 50}))


def test_discovery_needs_a_token(e2e: E2E, searched: GatewayClient) -> None:
    for method, path, body in (
        ("GET", "/api/v1/creator/glow.yuna/similar", None),
        ("POST", "/api/v1/discover", {"query": "makeup"}),
    ):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{e2e.gateway}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["details"][0]["reason"] == "TOKEN_MISSING"


@pytest.mark.usefixtures("searched")
def test_a_creator_is_pending_while_inference_is_down_and_listed_once_it_is_back(e2e: E2E) -> None:
    # A niche creator no other end-to-end test searches: the resilience tests need creators never analysed before.
    client = e2e.client("discoverer-2", timeout=60)
    e2e.stack.stop("inference")
    try:
        client.search("derm.notes.ana")
        with pytest.raises(ApiError) as pending:
            client.similar("derm.notes.ana")
        assert pending.value.status == 400
        assert "not embedded yet" in pending.value.message
        with pytest.raises(ApiError) as unavailable:
            client.discover("indoor plants")
        assert unavailable.value.status == 503
    finally:
        e2e.stack.start("inference")
    wait_embedded(client, "derm.notes.ana")
    assert "derm.notes.ana" in names(client.discover("@glow.yuna", {"page_size": 50}))
