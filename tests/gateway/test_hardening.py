"""Hostile input at the gateway: what a gRPC service would choke on is answered 400/414 JSON with a message before it
reaches one, gRPC transport headers from REST clients are dropped, strings are not booleans, one user's burst leaves
the others served, and answers a client can provoke never eject the service's host."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import StartGateway
from tests.gateway.tokens import Keys


def send(
    base_url: str, method: str, path: str, token: str | None, headers: dict[str, str] | None = None, body: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path exactly as given (aiohttp and yarl re-encode paths)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body.encode() if method == "POST" else None, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


async def call(gateway: EnvoyProcess, method: str, path: str, token: str | None, **kwargs: Any) -> tuple[int, Any]:
    status, headers, body = await asyncio.to_thread(send, gateway.base_url, method, path, token, **kwargs)
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    return status, json.loads(body)


UNDECODABLE = [
    ("GET", "/api/v1/creator/%FF/posts"),
    ("GET", "/api/v1/creator/%C0%AF/posts"),
    ("GET", "/api/v1/creator/%ED%A0%80/history"),
    ("GET", "/api/v1/creator/%F5%80%80%80/posts"),
    ("GET", "/api/v1/creator/a%E2%82/posts"),
    ("POST", "/api/v1/creator/search/%FF"),
    ("POST", "/api/v1/creator/search/%C0%AF"),
    ("GET", "/api/v1/creator/alice/posts?page_token=%FF"),
    ("GET", "/api/v1/creator/unlocked?page_token=%C0%80"),
    ("GET", "/api/v1/creator/alice/posts?page_token=a%00b"),
]


@pytest.mark.parametrize(("method", "path"), UNDECODABLE)
async def test_paths_and_queries_that_are_not_utf8_get_400_json_before_any_service(
    gateway: EnvoyProcess, recorder: RunningTestBackend, keys: Keys, method: str, path: str
) -> None:
    status, body = await call(gateway, method, path, keys.hs256(), body="{}")
    assert (status, body["code"]) == (400, 3), body
    assert body["message"]
    assert recorder.recorder.calls == []


@pytest.mark.parametrize("length", [2100, 10_000, 20_000])
async def test_over_long_paths_get_414_json_not_429(
    gateway: EnvoyProcess, recorder: RunningTestBackend, keys: Keys, length: int
) -> None:
    paths = (("GET", f"/api/v1/creator/{'a' * length}/posts"), ("POST", f"/api/v1/creator/search/{'b' * length}"))
    for method, path in paths:
        status, body = await call(gateway, method, path, keys.hs256(), body="{}")
        assert (status, body["code"]) == (414, 3), body
        assert "at most" in body["message"]
    assert recorder.recorder.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/creator/search/a%2Fb",
        "/api/v1/creator/search/https:%2F%2Fwww.instagram.com%2Falice%2F",
        "/api/v1/creator/search/a%5Cb",
        "/api/v1/creator/search/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/creator/search/%00",
    ],
)
async def test_every_malformed_path_gets_a_400_with_a_message(
    gateway: EnvoyProcess, recorder: RunningTestBackend, keys: Keys, path: str
) -> None:
    status, body = await call(gateway, "POST", path, keys.hs256(), body="{}")
    assert (status, body["code"]) == (400, 3), body
    assert "malformed" in body["message"]
    assert recorder.recorder.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"grpc-encoding": "bogus"},
        {"grpc-timeout": "garbage"},
        {"grpc-timeout": "1n"},
        {"grpc-accept-encoding": "bogus"},
        {"grpc-status": "13", "grpc-message": "injected"},
        {"te": "trailers"},
        {"te": "gzip"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
async def test_grpc_transport_headers_from_a_rest_client_are_dropped(
    gateway: EnvoyProcess, recorder: RunningTestBackend, keys: Keys, headers: dict[str, str]
) -> None:
    for method, path in (("GET", "/api/v1/creator/alice/posts"), ("POST", "/api/v1/creator/search/alice")):
        status, body = await call(gateway, method, path, keys.hs256(), headers=headers, body="{}")
        assert status == 200, body
    for recorded in recorder.recorder.calls:
        assert not {"grpc-encoding", "grpc-status", "grpc-message"} & set(recorded.metadata), recorded.metadata


@pytest.mark.parametrize(
    "body",
    [
        '{"refresh": "yes"}',
        '{"refresh": "true"}',
        '{"refresh": "1"}',
        '{"refresh" : "t"}',
        '{"post_limit": 3, "refresh": "no"}',
        '{"refresh": true, "refresh": "yes"}',
        '{"refr\\u0065sh": "y"}',
    ],
)
async def test_a_string_for_a_boolean_field_is_refused_with_a_message(
    gateway: EnvoyProcess, recorder: RunningTestBackend, keys: Keys, body: str
) -> None:
    status, answer = await call(gateway, "POST", "/api/v1/creator/search/alice", keys.hs256(), body=body)
    assert (status, answer["code"]) == (400, 3), answer
    assert answer["message"].startswith("refresh:")
    assert recorder.recorder.calls == []


@pytest.mark.parametrize(
    "body", ['{"refresh": true}', '{"refresh": false}', '{"refresh": null}', "{}", '{"note": "refresh: \\"yes\\""}']
)
async def test_booleans_and_strings_elsewhere_still_pass(gateway: EnvoyProcess, keys: Keys, body: str) -> None:
    status, answer = await call(gateway, "POST", "/api/v1/creator/search/alice", keys.hs256(), body=body)
    assert status == 200, answer


async def test_one_user_over_the_per_user_rate_gets_429_while_another_is_served(
    start_gateway: StartGateway, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    gateway = await start_gateway(GATEWAY_USER_RATE_LIMIT_RPS="1", GATEWAY_USER_RATE_LIMIT_BURST="5")
    url = gateway.base_url + "/api/v1/creator/unlocked"
    greedy = {"Authorization": f"Bearer {keys.hs256('greedy')}"}
    limited: list[tuple[str | None, Any]] = []
    for _ in range(20):
        async with http.get(url, headers=greedy) as response:
            if response.status == 429:
                limited.append((response.headers.get("retry-after"), await response.json()))
    assert len(limited) >= 14, limited
    retry_after, body = limited[0]
    assert retry_after == "1"
    assert body["code"] == 8
    for other in (keys.hs256("patient"), keys.hs256("another")):
        async with http.get(url, headers={"Authorization": f"Bearer {other}"}) as response:
            assert response.status == 200, await response.text()
    async with http.get(gateway.base_url + "/api/health") as response:
        assert response.status == 200


async def test_service_errors_a_client_provokes_never_eject_the_host(start_gateway: StartGateway, keys: Keys) -> None:
    gateway = await start_gateway()
    token = keys.hs256()
    for username in ["internal"] * 12 + ["unavailable"] * 6:
        status, body = await call(gateway, "GET", f"/api/v1/creator/{username}/posts", token)
        assert status in (500, 503), body
    status, body = await call(gateway, "GET", "/api/v1/creator/alice/posts", token)
    assert status == 200, body
    # With one host Envoy routes to it even when ejected (panic mode), so the ejection counter is what shows it.
    stats = await asyncio.to_thread(gateway.admin, "/stats?filter=creator.outlier_detection.ejections_enforced_total")
    assert stats.strip().endswith(": 0"), stats


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """A raw HTTP/1.1 exchange, for requests no client library would send; the gateway closes after an error."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize(
    "request_line",
    [
        b"QUERY /api/health HTTP/1.1",
        b"GET /api/health#fragment HTTP/1.1",
        b"GET /api/v1/creator/x#/posts HTTP/1.1",
        b"GET api/health HTTP/1.1",
        b"GET /api/health HTTP/1.1\r\nBad Header: x",
        b"GET /api/health HTTP/1.1\r\nContent-Length: abc",
    ],
)
async def test_requests_envoy_refuses_before_any_filter_still_get_a_json_message(
    gateway: EnvoyProcess, request_line: bytes
) -> None:
    request = request_line + b"\r\nHost: gateway\r\nConnection: close\r\n\r\n"
    status, body = await asyncio.to_thread(exchange, gateway.listen_port, request)
    assert status in (400, 405), body
    assert json.loads(body)["message"], body


async def test_a_host_that_refuses_connections_is_still_ejected(start_gateway: StartGateway, keys: Keys) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{unused.getsockname()[1]}"  # bound, never listening: connections are refused
        gateway = await start_gateway(CREATOR_ADDR=closed, GATEWAY_READ_RETRIES="0")
        for _ in range(6):
            status, body = await call(gateway, "GET", "/api/v1/creator/alice/posts", keys.hs256())
            assert status == 503, body
    stats = await asyncio.to_thread(gateway.admin, "/stats?filter=creator.outlier_detection.ejections_enforced_total")
    assert not stats.strip().endswith(": 0"), stats
