"""Machine-readable errors through a real Envoy: every reason the gateway itself gives, and the services' details
passed through, answer the google.rpc.Status JSON shape with an ErrorInfo reason (and RetryInfo + Retry-After when
retrying helps); every reason is one of errors.v1.ErrorReason."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest
from errors.v1 import errors_pb2

from services.gateway.process import EnvoyProcess
from tests.gateway.envoys import ORIGIN, StartGateway
from tests.gateway.tokens import Keys

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def assert_error(body: Any, code: int, reason: str, retry_after: str | None, headers: Any) -> None:
    """The one error shape: code, message, ErrorInfo first (domain following), RetryInfo exactly when retrying helps."""
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    info = body["details"][0]
    assert info == {"@type": ERROR_INFO, "reason": reason, "domain": "following", "metadata": info["metadata"]}, body
    assert isinstance(info["metadata"], dict)
    assert reason in errors_pb2.ErrorReason.keys()
    retry = [d for d in body["details"] if d["@type"] == RETRY_INFO]
    if retry_after is None:
        assert retry == [] and "retry-after" not in headers, body
    else:
        assert retry == [{"@type": RETRY_INFO, "retry_delay": f"{retry_after}s"}], body
        assert headers["retry-after"] == retry_after


def token(keys: Keys, kind: str) -> str | None:
    if kind == "none":
        return None
    if kind == "garbage":
        return "Bearer test"
    if kind == "expired":
        return "Bearer " + keys.hs256(exp=1_000_000_000, iat=999_999_000)
    if kind == "audience":
        return "Bearer " + keys.hs256(aud="someone-else")
    if kind == "bad-signature":
        good = keys.hs256()
        return "Bearer " + good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    return "Bearer " + keys.hs256()


# (reason, verb, path, body, token kind, status, gRPC code, Retry-After)
GATEWAY_CASES = [
    ("TOKEN_MISSING", "GET", "/api/v1/creator/unlocked", None, "none", 401, 16, None),
    ("TOKEN_INVALID", "GET", "/api/v1/creator/unlocked", None, "garbage", 401, 16, None),
    ("TOKEN_INVALID", "GET", "/api/v1/creator/unlocked", None, "bad-signature", 401, 16, None),
    ("TOKEN_EXPIRED", "GET", "/api/v1/creator/unlocked", None, "expired", 401, 16, None),
    ("WRONG_AUDIENCE", "GET", "/api/v1/creator/unlocked", None, "audience", 403, 7, None),
    ("FORBIDDEN_ROLE", "GET", "/api/v1/cdn/queue/status", None, "user", 403, 7, None),
    ("ROUTE_NOT_FOUND", "GET", "/api/v1/nope", None, "user", 404, 5, None),
    ("ROUTE_NOT_FOUND", "GET", "/api/v1/creators/alice", None, "user", 404, 5, None),
    ("METHOD_NOT_ALLOWED", "GET", "/api/v1/creator/search/alice", None, "user", 405, 12, None),
    ("METHOD_NOT_ALLOWED", "DELETE", "/api/health", None, "user", 405, 12, None),
    ("INVALID_ARGUMENT", "GET", "/api/v1/creator/unlocked?foo=1", None, "user", 400, 3, None),
    ("INVALID_ARGUMENT", "POST", "/api/v1/creator/search/alice", '{"refresh": "yes"}', "user", 400, 3, None),
    ("INVALID_ARGUMENT", "POST", "/api/v1/creator/search/%00", "{}", "user", 400, 3, None),
    ("REQUEST_TOO_LARGE", "GET", "/api/v1/creator/" + "a" * 9000 + "/posts", None, "user", 414, 3, None),
    # The services' own details, passed through by the transcoder.
    ("CREATOR_NOT_FOUND", "POST", "/api/v1/creator/search/missing", "{}", "user", 404, 5, None),
    ("UPSTREAM_THROTTLED", "POST", "/api/v1/creator/search/unavailable", "{}", "user", 503, 14, "60"),
]


@pytest.mark.parametrize(
    ("reason", "verb", "path", "body", "kind", "status", "code", "retry_after"),
    GATEWAY_CASES,
    ids=[f"{c[0]} {c[4]} {c[1]} {c[2][:40]}" for c in GATEWAY_CASES],
)
async def test_every_gateway_error_carries_its_reason_in_the_status_shape(
    gateway: EnvoyProcess,
    http: aiohttp.ClientSession,
    keys: Keys,
    reason: str,
    verb: str,
    path: str,
    body: str | None,
    kind: str,
    status: int,
    code: int,
    retry_after: str | None,
) -> None:
    headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    authorization = token(keys, kind)
    if authorization is not None:
        headers["Authorization"] = authorization
    async with http.request(verb, gateway.base_url + path, data=body, headers=headers) as response:
        assert response.status == status, await response.text()
        assert response.headers["content-type"].startswith("application/json")
        assert_error(await response.json(), code, reason, retry_after, response.headers)


async def test_rate_limited_carries_retry_info_and_retry_after(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway(GATEWAY_RATE_LIMIT_RPS="1", GATEWAY_RATE_LIMIT_BURST="1")
    for _ in range(5):
        async with http.get(gateway.base_url + "/api/health", headers={"Origin": ORIGIN}) as response:
            if response.status == 429:
                assert_error(await response.json(), 8, "RATE_LIMITED", "1", response.headers)
                return
    pytest.fail("no request was rate limited")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_service_that_is_down_answers_service_unavailable_with_a_retry(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(CREATOR_ADDR=f"127.0.0.1:{_free_port()}")
    headers = {"Origin": ORIGIN, "Authorization": f"Bearer {keys.hs256()}"}
    async with http.get(gateway.base_url + "/api/v1/creator/unlocked", headers=headers) as response:
        assert response.status == 503
        assert_error(await response.json(), 14, "SERVICE_UNAVAILABLE", "1", response.headers)
