"""Every documented error reason through the whole stack (real Envoy, real services, real upstream faults): each
answers its HTTP status with the google.rpc.Status JSON shape, its ErrorInfo reason, and RetryInfo + Retry-After
exactly when retrying helps."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from client.tokens import user_id_for
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually
from tests.e2e.test_resilience import admin
from tests.gateway.test_error_reasons import assert_error

pytestmark = pytest.mark.slow

Reply = tuple[int, dict[str, str], Any]


def call(e2e: E2E, verb: str, path: str, authorization: str | None, body: Any = None) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{e2e.gateway}{path}", data=data, method=verb)
    request.add_header("Content-Type", "application/json")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read() or b"{}")


def signed(e2e: E2E, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id_for("reasons"),
        "aud": "authenticated",
        "iss": e2e.stack.values["SUPABASE_JWT_ISSUER"],
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return "Bearer " + jwt.encode(claims, e2e.stack.values["SUPABASE_JWT_SECRET"].encode(), algorithm="HS256")


def check(reply: Reply, status: int, code: int, reason: str, retry: bool = False) -> None:
    got_status, headers, body = reply
    assert got_status == status, reply
    assert_error(body, code, reason, headers.get("retry-after") if retry else None, headers)
    if retry:
        assert int(headers["retry-after"]) >= 1


def test_every_gateway_reason_through_the_stack(e2e: E2E) -> None:
    user = "Bearer " + e2e.token("reasons")
    unlocked = "/api/v1/creator/unlocked"
    check(call(e2e, "GET", unlocked, None), 401, 16, "TOKEN_MISSING")
    check(call(e2e, "GET", unlocked, "Bearer test"), 401, 16, "TOKEN_INVALID")
    check(call(e2e, "GET", unlocked, signed(e2e, iat=1_000_000_000, exp=1_000_000_600)), 401, 16, "TOKEN_EXPIRED")
    check(call(e2e, "GET", unlocked, signed(e2e, aud="another-api")), 403, 7, "WRONG_AUDIENCE")
    check(call(e2e, "GET", "/api/v1/cdn/queue/status", user), 403, 7, "FORBIDDEN_ROLE")
    check(call(e2e, "GET", "/api/v1/nothing/here", user), 404, 5, "ROUTE_NOT_FOUND")
    check(call(e2e, "GET", "/api/v1/creator/search/fit.bayann", user), 405, 12, "METHOD_NOT_ALLOWED")
    check(call(e2e, "GET", unlocked + "?sort=new", user), 400, 3, "INVALID_ARGUMENT")


def test_every_service_reason_through_the_stack(e2e: E2E) -> None:
    user = "Bearer " + e2e.token("reasons-service")
    search = "/api/v1/creator/search/"
    check(call(e2e, "POST", search + "two..dots", user, {}), 400, 3, "INVALID_USERNAME")
    check(call(e2e, "POST", search + "nobody.at.all", user, {}), 404, 5, "CREATOR_NOT_FOUND")
    check(call(e2e, "GET", "/api/v1/creator/fit.bayann/posts", user), 403, 7, "NOT_UNLOCKED")
    check(call(e2e, "POST", "/api/v1/creator/fit.bayann/track", user, {}), 403, 7, "NOT_UNLOCKED")
    check(call(e2e, "GET", "/api/v1/creator/unlocked?page_size=100000", user), 400, 3, "INVALID_ARGUMENT")
    for mode, creator, reason in (
        ("429", "mama.noor", "UPSTREAM_THROTTLED"),
        ("5xx", "milo.the.pup", "UPSTREAM_UNAVAILABLE"),
    ):
        admin(e2e, "POST", "/__admin/faults", {"mode": mode, "scope": "api"})
        try:
            check(call(e2e, "POST", search + creator, user, {}), 503, 14, reason, retry=True)
        finally:
            admin(e2e, "DELETE", "/__admin/faults")


@pytest.fixture
def one_fetch_an_hour(e2e: E2E) -> Iterator[None]:
    e2e.stack.stop("creator")
    e2e.stack.start("creator", {"CREATOR_USER_FETCHES_PER_HOUR": "1"})
    try:
        yield
    finally:
        e2e.stack.stop("creator")
        e2e.stack.start("creator")


@pytest.mark.usefixtures("one_fetch_an_hour")
def test_quota_and_a_stopped_service_answer_their_reasons_with_a_retry(e2e: E2E) -> None:
    user = "Bearer " + e2e.token("reasons-quota")
    search = "/api/v1/creator/search/"
    check(call(e2e, "POST", search + "nobody.first", user, {}), 404, 5, "CREATOR_NOT_FOUND")
    check(call(e2e, "POST", search + "nobody.second", user, {}), 429, 8, "QUOTA_EXCEEDED", retry=True)
    e2e.stack.stop("creator")
    check(call(e2e, "GET", "/api/v1/creator/unlocked", user), 503, 14, "SERVICE_UNAVAILABLE", retry=True)


@pytest.fixture
def one_request_a_second(e2e: E2E) -> Iterator[None]:
    e2e.stack.stop("gateway")
    e2e.stack.start("gateway", {"GATEWAY_USER_RATE_LIMIT_RPS": "1", "GATEWAY_USER_RATE_LIMIT_BURST": "1"})
    try:
        yield
    finally:
        e2e.stack.stop("gateway")
        e2e.stack.start("gateway")


@pytest.mark.usefixtures("one_request_a_second")
def test_rate_limited_through_the_stack(e2e: E2E) -> None:
    user = "Bearer " + e2e.token("reasons-rate")
    replies = [call(e2e, "GET", "/api/v1/creator/unlocked", user) for _ in range(5)]
    limited = [reply for reply in replies if reply[0] == 429]
    assert limited, [reply[0] for reply in replies]
    check(limited[0], 429, 8, "RATE_LIMITED", retry=True)


@pytest.fixture
def inference_down(e2e: E2E) -> Iterator[None]:
    e2e.stack.stop("inference")
    try:
        yield
    finally:
        e2e.stack.start("inference")


@pytest.mark.usefixtures("inference_down")
def test_discovery_of_a_creator_whose_captions_wait_for_embeddings_answers_embedding_pending(e2e: E2E) -> None:
    user = "Bearer " + e2e.token("reasons-discovery")
    # An upstream fault of an earlier test may still hold searches back for its Retry-After.
    eventually(
        lambda: call(e2e, "POST", "/api/v1/creator/search/pixel.pilgrim", user, {}),
        lambda reply: reply[0] == 200,
        60,
        "a search of pixel.pilgrim",
    )
    check(call(e2e, "GET", "/api/v1/creator/pixel.pilgrim/similar", user), 400, 9, "EMBEDDING_PENDING", retry=True)
