"""What operators see: one JSON access-log line per request, Envoy's stats for Prometheus, admin on loopback only."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp

from services.gateway.process import EnvoyProcess
from tests.gateway.envoys import StartGateway
from tests.gateway.tokens import Keys


async def access_log_entry(gateway: EnvoyProcess, request_id: str, deadline_s: float = 5.0) -> dict[str, Any]:
    """Polls the access log until the line of `request_id` appears (Envoy flushes it within 200 ms)."""
    path = gateway.log_path.with_name("access.log")
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        for line in text.splitlines():
            entry: dict[str, Any] = json.loads(line)
            if entry.get("request_id") == request_id:
                return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id} within {deadline_s} s")


async def test_access_log_has_request_id_user_original_method_path_status_and_duration(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256('logged-user')}"}
    url = gateway.base_url + "/api/v1/creator/unlocked?page_size=2"
    async with http.get(url, headers=headers) as response:
        request_id = response.headers["x-request-id"]
    entry = await access_log_entry(gateway, request_id)
    assert entry["user_id"] == "logged-user"
    assert entry["method"] == "GET"  # the client's, not the POST of the transcoded call
    assert entry["path"] == "/api/v1/creator/unlocked"  # query strings (tokens!) are never logged
    assert entry["status"] == 200
    assert entry["route"] == "creator.v1.CreatorService.ListUnlocked"
    assert isinstance(entry["duration_ms"], int)
    assert entry["service"] == "gateway"


async def test_rejected_requests_are_logged_too(gateway: EnvoyProcess, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway.base_url + "/api/v1/creator/unlocked") as response:
        request_id = response.headers["x-request-id"]
    entry = await access_log_entry(gateway, request_id)
    assert entry["status"] == 401
    assert entry["user_id"] is None
    assert "jwt" in entry["details"]


async def test_prometheus_stats_count_requests_per_cluster(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    async with http.get(gateway.base_url + "/api/health") as response:
        assert response.status == 200
    stats = await asyncio.to_thread(gateway.admin, "/stats/prometheus")
    assert 'envoy_cluster_upstream_rq_total{envoy_cluster_name="creator"}' in stats
    assert "envoy_http_downstream_rq_total" in stats
    assert "jwt_authn" in stats


def test_admin_listens_on_loopback_only(gateway: EnvoyProcess) -> None:
    assert gateway.admin_url.startswith("http://127.0.0.1:")


async def test_metrics_listener_serves_only_the_prometheus_stats(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        admin_port = probe.getsockname()[1]
    gateway = await start_gateway(GATEWAY_ADMIN_LISTEN=f"127.0.0.1:{admin_port}", GATEWAY_METRICS_LISTEN="127.0.0.1:0")
    port = await asyncio.to_thread(gateway.listener_port, "metrics")
    async with http.get(f"http://127.0.0.1:{port}/stats/prometheus") as response:
        assert response.status == 200
        assert "envoy_http_downstream_rq_total" in await response.text()
    for verb, path in (("GET", "/quitquitquit"), ("POST", "/stats/prometheus"), ("GET", "/config_dump")):
        async with http.request(verb, f"http://127.0.0.1:{port}{path}") as response:
            assert response.status == 404
