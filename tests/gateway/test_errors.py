"""Errors through a real Envoy: JSON bodies for everything, CORS on errors, strict transcoding, hints for known
client mistakes, limits, timeouts, retries, rate limiting, and an upstream that is down."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import grpc
import pytest
import yarl
from creator.v1 import creator_pb2, creator_pb2_grpc

from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import ORIGIN, StartGateway
from tests.gateway.tokens import Keys


def auth(keys: Keys) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.hs256()}", "Origin": ORIGIN}


async def test_preflight_is_answered_by_the_gateway_with_cors_headers(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend
) -> None:
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with http.options(gateway.base_url + "/api/v1/creator/search/alice", headers=headers) as response:
        assert response.status == 200
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"]
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["access-control-max-age"] == "86400"
    assert recorder.recorder.calls == []


async def test_a_disallowed_origin_gets_no_cors_headers(gateway: EnvoyProcess, http: aiohttp.ClientSession) -> None:
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    async with http.options(gateway.base_url + "/api/v1/creator/unlocked", headers=headers) as response:
        assert "access-control-allow-origin" not in response.headers
    async with http.get(gateway.base_url + "/api/health", headers={"Origin": "https://evil.example"}) as response:
        assert "access-control-allow-origin" not in response.headers


# (verb, path, body, needs token, expected status, gRPC code, fragment of the message)
ERROR_CASES = [
    ("GET", "/api/v1/creator/unlocked", None, False, 401, 16, "Jwt is missing"),
    ("GET", "/api/v1/nope", None, True, 404, 5, "Could not resolve"),
    ("GET", "/nope", None, True, 404, 5, "Could not resolve"),
    ("GET", "/api/v1/creator/unlocked?foo=1", None, True, 400, 3, "foo"),
    ("POST", "/api/v1/creator/search/alice", {"username": "bob"}, True, 400, 3, "username"),
    ("POST", "/api/v1/creator/search/alice", "{not json", True, 400, 3, ""),
    ("POST", "/api/v1/creator/search/missing", {}, True, 404, 5, "no Instagram account"),
    ("GET", "/api/v1/creators/alice", None, True, 404, 5, "singular"),
    ("GET", "/api/v1/creators/alice/posts", None, True, 404, 5, "singular"),
    ("GET", "/api/v1/creator/alice/media", None, True, 404, 5, "no /media route"),
    ("GET", "/api/v1/media/123", None, True, 404, 5, "no /media route"),
    ("GET", "/api/v1/creator/search/alice", None, True, 405, 12, "Search is POST"),
    ("POST", "/api/v1/creator/alice/posts", {}, True, 405, 12, "only answers GET"),
    ("DELETE", "/api/health", None, True, 405, 12, "only answers GET"),
    ("POST", "/api/v1/creator/search/..%2F..%2Fetc%2Fpasswd", {}, True, 400, 3, "path is malformed"),
    ("POST", "/api/v1/creator/search/%00", {}, True, 400, 3, "path is malformed"),
]


@pytest.mark.parametrize(
    ("verb", "path", "body", "token", "status", "code", "fragment"),
    ERROR_CASES,
    ids=[f"{c[0]} {c[1]}" for c in ERROR_CASES],
)
async def test_errors_are_json_with_a_grpc_code_and_cors_headers(
    gateway: EnvoyProcess,
    http: aiohttp.ClientSession,
    keys: Keys,
    verb: str,
    path: str,
    body: object,
    token: bool,
    status: int,
    code: int,
    fragment: str,
) -> None:
    headers = auth(keys) if token else {"Origin": ORIGIN}
    url = yarl.URL(gateway.base_url + path, encoded=True)  # sent as written, escapes and all
    if isinstance(body, str):
        request = http.request(verb, url, data=body, headers={**headers, "content-type": "application/json"})
    else:
        request = http.request(verb, url, json=body, headers=headers)
    async with request as response:
        assert response.headers["content-type"].startswith("application/json")
        answer = await response.json()
        assert (response.status, answer["code"]) == (status, code), answer
        assert fragment in answer["message"]
        assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_get_on_the_search_route_says_allow_post(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    async with http.get(gateway.base_url + "/api/v1/creator/search/alice", headers=auth(keys)) as response:
        assert response.status == 405
        assert response.headers["allow"] == "POST"


async def test_a_creator_named_like_a_mistake_still_has_its_routes(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    for path in ("/api/v1/creator/media/posts", "/api/v1/creator/search/posts"):
        async with http.get(gateway.base_url + path, headers=auth(keys)) as response:
            assert response.status == 200, await response.text()


async def test_oversized_body_is_rejected_before_the_service(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    body = {"refresh": True, "padding": "x" * 200_000}
    async with http.post(gateway.base_url + "/api/v1/creator/search/alice", json=body, headers=auth(keys)) as response:
        answer = await response.json()
        assert response.status in (400, 413), answer
        assert answer["code"] in (3, 8)
        assert response.headers["access-control-allow-origin"] == ORIGIN
    assert recorder.recorder.calls == []


async def test_reads_are_retried_on_unavailable_and_writes_are_not(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    async with http.get(gateway.base_url + "/api/v1/creator/unavailable/posts", headers=auth(keys)) as response:
        assert response.status == 503
    assert recorder.recorder.methods() == ["ListPosts"] * 3
    recorder.recorder.clear()
    async with http.post(
        gateway.base_url + "/api/v1/creator/search/unavailable", json={}, headers=auth(keys)
    ) as response:
        assert response.status == 503
    assert recorder.recorder.methods() == ["SearchCreatorJson"]


async def test_route_timeout_gives_504_json(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(GATEWAY_WRITE_TIMEOUT_S="0.3")
    started = time.monotonic()
    async with http.post(gateway.base_url + "/api/v1/creator/search/slow", json={}, headers=auth(keys)) as response:
        answer = await response.json()
    assert (response.status, answer["code"]) == (504, 4), answer
    assert time.monotonic() - started < 2.0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_upstream_down_gives_503_json_within_the_timeout(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    dead = f"127.0.0.1:{_closed_port()}"
    gateway = await start_gateway(CREATOR_ADDR=dead, CDN_ADDR=dead, GATEWAY_READ_TIMEOUT_S="2")
    for verb, path in (
        ("GET", "/api/v1/creator/unlocked"),
        ("POST", "/api/v1/creator/search/a"),
        ("GET", "/api/health"),
    ):
        started = time.monotonic()
        async with http.request(verb, gateway.base_url + path, json={}, headers=auth(keys)) as response:
            answer = await response.json()
            assert (response.status, answer["code"]) == (503, 14), answer
            assert response.headers["access-control-allow-origin"] == ORIGIN
        assert time.monotonic() - started < 2.0
    async with grpc.aio.insecure_channel(gateway.grpc_target) as channel:
        stub = creator_pb2_grpc.CreatorServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListUnlocked(
                creator_pb2.ListUnlockedRequest(), metadata=(("authorization", auth(keys)["Authorization"]),)
            )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rate_limit_answers_429_json_with_retry_after(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(GATEWAY_RATE_LIMIT_RPS="1", GATEWAY_RATE_LIMIT_BURST="2")
    statuses = []
    limited: dict[str, object] = {}
    for _ in range(6):
        async with http.get(gateway.base_url + "/api/health", headers={"Origin": ORIGIN}) as response:
            statuses.append(response.status)
            if response.status == 429:
                limited = await response.json()
                assert response.headers["retry-after"] == "1"
                assert response.headers["access-control-allow-origin"] == ORIGIN
    assert statuses[:2] == [200, 200]
    assert 429 in statuses
    assert limited["code"] == 8
    async with grpc.aio.insecure_channel(gateway.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await creator_pb2_grpc.SystemServiceStub(channel).GetHealth(creator_pb2.GetHealthRequest())
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_circuit_breaker_sheds_requests_over_the_cluster_limit_with_503_json(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(
        GATEWAY_MAX_REQUESTS="1", GATEWAY_MAX_PENDING_REQUESTS="1", GATEWAY_WRITE_TIMEOUT_S="1"
    )

    async def slow_search() -> tuple[int, dict[str, object]]:
        url = gateway.base_url + "/api/v1/creator/search/slow"
        async with http.post(url, json={}, headers=auth(keys)) as response:
            return response.status, await response.json()

    answers = await asyncio.gather(*(slow_search() for _ in range(4)))
    statuses = sorted(status for status, _ in answers)
    assert 504 in statuses  # the one admitted request hits the route timeout
    shed = [body for status, body in answers if status == 503]
    assert shed, statuses
    assert all(body["code"] == 14 for body in shed)
    stats = await asyncio.to_thread(gateway.admin, "/stats?filter=cluster.creator.upstream_rq_.*_overflow")
    overflows = sum(int(line.split(":")[1]) for line in stats.splitlines() if line.strip())
    assert overflows == len(shed), stats


async def test_oversized_headers_are_rejected_with_431_json(gateway: EnvoyProcess, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway.base_url + "/api/health", headers={"x-padding": "x" * 40_000}) as response:
        assert response.status == 431
        assert (await response.json())["code"] == 8


async def test_responses_over_one_mebibyte_are_transcoded_whole(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    url = gateway.base_url + "/api/v1/creator/alice/history?limit=40000"
    async with http.get(url, headers=auth(keys)) as response:
        body = await response.read()
        assert response.status == 200, body[:200]
    assert len(body) > 1 << 20
    assert body.count(b'"followers_count"') == 40000


async def test_header_names_grpc_cannot_carry_get_400_json_not_a_service_error(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    async with http.get(gateway.base_url + "/api/v1/cdn/health", headers={**auth(keys), "x~debug": "1"}) as response:
        answer = await response.json()
        assert (response.status, answer["code"]) == (400, 3), answer
        assert "x~debug" in answer["message"]
        assert response.headers["access-control-allow-origin"] == ORIGIN
    assert recorder.recorder.calls == []
