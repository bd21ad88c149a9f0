"""Bad input through the gateway: generated cases from the OpenAPI document and hand-written ones. Never a 5xx,
never a hang, always a JSON error body."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.slow


def test_generated_requests_never_get_a_server_error_or_a_hang(e2e: E2E) -> None:
    """Schemathesis generates requests for every operation of the served OpenAPI document."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{e2e.gateway}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {e2e.token('fuzzer')}",
            "--checks",
            "not_a_server_error",
            "--max-response-time",
            "30",
            "--request-timeout",
            "30",
            "--max-examples",
            "25",
            "--generation-deterministic",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def raw(e2e: E2E, method: str, path: str, body: bytes | None = None, token: str | None = "ok") -> tuple[int, Any]:
    request = urllib.request.Request(f"{e2e.gateway}{path}", data=body, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {e2e.token('badinput') if token == 'ok' else token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


BAD_USERNAMES = [
    "a" * 10_000,
    "%20",
    "%C3%BCn%C3%AFc%C3%B6d%C3%A9",
    "..%2F..%2Fetc%2Fpasswd",
    "'%20OR%201=1--",
    "robert');DROP%20TABLE%20creators;--",
    "%00",
    "a..b",
    "name%20with%20spaces",
    "%F0%9F%98%80",
]


@pytest.mark.parametrize("username", BAD_USERNAMES)
def test_bad_usernames_get_a_4xx_json_error_that_says_why(e2e: E2E, username: str) -> None:
    status, body = raw(e2e, "POST", f"/api/v1/creator/search/{username}", b"{}")
    assert 400 <= status < 500, (status, body)
    assert body["message"], body


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"refresh": "maybe"}', "wrong type"),
        (b'{"post_limit": "lots"}', "wrong type"),
        (b'{"post_limit": 500}', "out of range"),
        (b"{not json", "malformed"),
        (b"[]", "not an object"),
        (b'{"refresh": true, "username": "other"}', "body/path collision"),
    ],
)
def test_bad_bodies_get_a_4xx_json_error(e2e: E2E, body: bytes, why: str) -> None:
    status, answer = raw(e2e, "POST", "/api/v1/creator/search/fit.bayann", body)
    assert 400 <= status < 500, (why, status, answer)
    assert answer["message"], answer


def test_an_oversized_body_is_refused_with_json(e2e: E2E) -> None:
    status, answer = raw(
        e2e, "POST", "/api/v1/creator/search/fit.bayann", b'{"refresh": true, "x": "' + b"a" * 3_000_000 + b'"}'
    )
    assert status in (400, 413), status
    assert answer["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/creator/unlocked?page_size=abc"),
        ("GET", "/api/v1/creator/unlocked?page_size=100000"),
        ("GET", "/api/v1/creator/fit.bayann/posts?page_token=%00garbage"),
        ("GET", "/api/v1/nothing/here"),
    ],
)
def test_bad_queries_and_paths_get_a_4xx_json_error(e2e: E2E, method: str, path: str) -> None:
    status, answer = raw(e2e, method, path)
    assert 400 <= status < 500, (path, status, answer)
    assert answer["message"]
