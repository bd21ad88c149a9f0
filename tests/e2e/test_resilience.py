"""The pieces survive each other's failures: restarts lose nothing, PostgreSQL comes back, inference can be down,
and an upstream 429 storm costs a bounded number of upstream requests and clear answers."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from client.api import ApiError
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually
from tests.e2e.test_flow import all_mirrored

pytestmark = pytest.mark.slow


def admin(e2e: E2E, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{e2e.upstream}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as reply:
        raw = reply.read()
    return json.loads(raw) if raw else None


def complete(report: dict[str, Any]) -> bool:
    return report["analysis_state"] == "ANALYSIS_STATE_COMPLETE"


def test_inference_down_answers_pending_and_completes_after_restart(e2e: E2E) -> None:
    client = e2e.client("grace")
    e2e.stack.stop("inference", signal.SIGKILL)
    try:
        started = time.monotonic()
        report = client.search("green.kai", refresh=True)
        assert time.monotonic() - started < 10, "the search does not hang on a dead inference service"
        assert report["analysis_state"] == "ANALYSIS_STATE_PENDING"
        assert report["analytics"]["dominant_category"] == ""
        sentiment = report["analytics"]["sentiment"]
        assert sentiment["coverage"]["state"] == "ANALYSIS_STATE_PENDING", "present, with an explicit state"
        assert sentiment["coverage"]["absent_reason"] == "analysis_pending" and "mean_score" not in sentiment
        captioned = [post["analysis"] for post in report["recent_posts"] if post["caption"].strip()]
        assert captioned and all(a["state"] == "ANALYSIS_STATE_PENDING" for a in captioned)
        assert report["profile"]["username"] == "green.kai"
    finally:
        e2e.stack.start("inference")
    eventually(lambda: client.search("green.kai"), complete, 90, "analysis completed after inference came back")


def test_killing_the_creator_service_with_analysis_pending_loses_nothing(e2e: E2E) -> None:
    client = e2e.client("heidi")
    e2e.stack.stop("inference", signal.SIGKILL)
    try:
        assert client.search("ines.paints", refresh=True)["analysis_state"] == "ANALYSIS_STATE_PENDING"
        e2e.stack.stop("creator", signal.SIGKILL)
    finally:
        e2e.stack.start("inference")
        e2e.stack.start("creator")
    eventually(lambda: client.search("ines.paints"), complete, 90, "pending analysis finished by the restarted creator")


def test_killing_the_cdn_mid_run_still_mirrors_every_image(e2e: E2E) -> None:
    client = e2e.client("ivan")
    client.search("techwithtariq", refresh=True)
    e2e.stack.stop("cdn", signal.SIGKILL)
    e2e.stack.start("cdn")
    eventually(lambda: client.search("techwithtariq"), all_mirrored, 120, "every image mirrored after a cdn crash")


def test_a_postgresql_restart_is_survived_without_restarting_services(e2e: E2E) -> None:
    client = e2e.client("judy")
    client.search("fit.bayann")
    pids = {name: e2e.stack.pid(name) for name in ("creator", "cdn", "inference", "gateway")}
    e2e.stack.pg.stop()
    try:
        started = time.monotonic()
        with pytest.raises(ApiError) as down:
            client.unlocked()
        assert down.value.status == 503
        assert time.monotonic() - started < 10
    finally:
        e2e.stack.pg.start()
    eventually(lambda: client.unlocked(), lambda r: len(r["creators"]) >= 1, 60, "reads work again")
    assert {name: e2e.stack.pid(name) for name in pids} == pids, "no service was restarted"


def test_an_upstream_429_storm_costs_bounded_requests_and_clear_answers(e2e: E2E) -> None:
    client = e2e.client("mallory", timeout=60)
    admin(e2e, "POST", "/__admin/faults", {"mode": "429", "retry_after": "1", "scope": "api"})
    before = admin(e2e, "GET", "/__admin/stats")["requests_total"]
    names = ["fit.bayann", "ines.paints", "green.kai", "techwithtariq"] * 5

    def attempt(name: str) -> tuple[int, dict[str, Any] | str]:
        try:
            return 200, client.search(name, refresh=True)
        except ApiError as exc:
            return exc.status, exc.message

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(attempt, names))
    finally:
        admin(e2e, "DELETE", "/__admin/faults")
    upstream_requests = admin(e2e, "GET", "/__admin/stats")["requests_total"] - before
    for status, body in outcomes:
        if status == 200:
            assert isinstance(body, dict), body
            # A stale copy, or (fetched moments ago by another test) the stored report without a fetch at all.
            assert body["freshness"]["stale"] or body["freshness"]["refresh_skipped"], "a 200 is a stored copy"
        else:
            assert status in (429, 503), (status, body)
            assert isinstance(body, str) and body
    assert upstream_requests <= 40, f"{upstream_requests} upstream requests for {len(names)} searches"


def test_restarting_the_gateway_loses_nothing(e2e: E2E) -> None:
    client = e2e.client("niaj")
    before = client.search("fit.bayann")
    e2e.stack.stop("gateway", signal.SIGKILL)
    with pytest.raises(ApiError) as down:
        client.unlocked()
    assert down.value.status == 0, "nothing listens while the gateway is down"
    e2e.stack.start("gateway")
    after = client.search("fit.bayann")
    assert after["profile"]["instagram_id"] == before["profile"]["instagram_id"]
    assert after["freshness"]["from_cache"], "the stored report survived: no new fetch was needed"
    assert "fit.bayann" in [c["username"] for c in client.unlocked()["creators"]]
