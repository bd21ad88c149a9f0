"""A corpus of hostile input sent through the whole stack (Envoy, creator, cdn, PostgreSQL): crafted paths,
usernames, query values, page tokens, headers and bodies. Every answer comes within the deadline, below 500, with a
JSON body that has a message when it is an error."""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.slow

DEADLINE_S = 30.0  # a hang shows as a timeout here, well before any test runner's limit


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def token(*parts: Any, raw: bytes | None = None) -> str:
    """A page token as the creator writes them (unpadded urlsafe base64 of a JSON list), or of raw bytes."""
    data = raw if raw is not None else json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


USERNAMES = [
    "%FF",
    "%C0%AF",
    "%ED%A0%80",
    "%F4%90%80%80",
    "%E2%82",
    "%00",
    "a%00b",
    "%0A",
    "%0D%0Ax-user-id:%20admin",
    "%20",
    "%09",
    "a" * 31,
    "a" * 300,
    "a" * 3000,
    "b" * 20_000,
    "..",
    "...",
    ".",
    "a..b",
    "_" * 30,
    "%2E%2E",
    "%2Fetc%2Fpasswd",
    "a%2Fb",
    "a%5Cb",
    "https:%2F%2Fwww.instagram.com%2Fx%2F",
    "@",
    "@@x",
    "%40x",
    "%F0%9F%98%80",
    "%E2%80%AE",
    "%EF%BB%BF",
    "%C3%BCn%C3%AFc%C3%B6d%C3%A9",
    "'%20OR%201=1--",
    "robert');DROP%20TABLE%20creators;--",
    "%25",
    "%25FF",
    "%3Cscript%3E",
    "x%3Fy",
    "x%23y",
    "%E3%80%80",
    "NUL",
    "CON",
    "-x",
    "x-",
    "%7F",
    "%1B%5B31m",
]

INT64_MAX = 2**63 - 1
PAGE_TOKENS = [
    ("int-over-int64", token("posts", "2026-01-01T00:00:00+00:00", INT64_MAX + 1)),
    ("int-under-int64", token("posts", "2026-01-01T00:00:00+00:00", -(2**63) - 1)),
    ("int-huge", token("posts", "2026-01-01T00:00:00+00:00", 10**400)),
    ("unlocked-int-over-int64", token("unlocked", "2026-01-01T00:00:00+00:00", 2**64)),
    ("unlocked-negative", token("unlocked", "2026-01-01T00:00:00+00:00", -1)),
    ("datetime-max-east", token("posts", "9999-12-31T23:59:59-14:00", "1")),
    ("datetime-min-west", token("posts", "0001-01-01T00:00:00+14:00", "1")),
    ("unlocked-datetime-max", token("unlocked", "9999-12-31T23:59:59.999999-23:59", 1)),
    ("datetime-naive", token("posts", "2026-01-01T00:00:00", "1")),
    ("unlocked-datetime-naive", token("unlocked", "2026-01-01T00:00:00", 1)),
    ("datetime-year-0", token("posts", "0000-01-01T00:00:00+00:00", "1")),
    ("datetime-garbage", token("posts", "yesterday", "1")),
    ("key-nul", token("posts", "2026-01-01T00:00:00+00:00", "a\x00b")),
    ("unlocked-key-nul", token("unlocked", "2026-01-01T00:00:00+00:00", "\x00")),
    ("key-bool", token("posts", "2026-01-01T00:00:00+00:00", True)),
    ("key-float", token("posts", "2026-01-01T00:00:00+00:00", 1.5)),
    ("key-null", token("posts", "2026-01-01T00:00:00+00:00", None)),
    ("key-list", token("posts", "2026-01-01T00:00:00+00:00", [1])),
    ("key-long", token("posts", "2026-01-01T00:00:00+00:00", "k" * 1000)),
    ("wrong-kind", token("unlocked", "2026-01-01T00:00:00+00:00", 1)),
    ("too-few", token("posts", "2026-01-01T00:00:00+00:00")),
    ("too-many", token("posts", "2026-01-01T00:00:00+00:00", "1", "2")),
    ("object", token(raw=b'{"kind": "posts"}')),
    ("not-json", token(raw=b"\xff\xfe\x00garbage")),
    ("empty-list", token(raw=b"[]")),
    ("nan", token(raw=b'["posts", "2026-01-01T00:00:00+00:00", NaN]')),
    ("not-base64", "!!!***"),
    ("nul-raw", "%00"),
    ("percent-ff", "%FF"),
    ("very-long", "A" * 1500),
]

PAGE_TOKEN_ROUTES = {"posts": "/api/v1/creator/fit.bayann/posts", "unlocked": "/api/v1/creator/unlocked"}

QUERY_VALUES = [
    "page_size=-1",
    "page_size=4294967296",
    "page_size=18446744073709551616",
    "page_size=1e3",
    "page_size=0x10",
    "page_size=",
    "page_size=%201",
    "page_size=1&page_size=2",
    "page_size=NaN",
    "page_size=99999",
    "limit=-1",
    "limit=4294967295",
    "limit=1.5",
    "limit=%00",
    "foo=bar",
    "page_size[]=1",
    "=x",
    "&&&",
    "%FF=1",
    "page_token=a&page_token=b",
]

HEADERS = [
    {"grpc-encoding": "bogus"},
    {"grpc-timeout": "garbage"},
    {"grpc-timeout": "1n"},
    {"grpc-timeout": "0S"},
    {"grpc-accept-encoding": "x"},
    {"grpc-status": "0"},
    {"te": "trailers"},
    {"te": "gzip, deflate"},
    {"content-type": "application/grpc"},
    {"content-type": "application/grpc-web"},
    {"content-type": "text/plain"},
    {"content-type": "application/json; charset=latin-1"},
    {"accept": "application/grpc"},
    {"x-user-id": "admin"},
    {"x-envoy-original-path": "/api/health"},
    {"x-forwarded-for": "1.2.3.4, ::1"},
    {"x-request-id": "x" * 4000},
    {"user-agent": "\x7fbot"},
    {"x-big": "v" * 20_000},
    {"authorization2": "x"},
]

BODIES = [
    b'{"refresh": "yes"}',
    b'{"refresh": "true"}',
    b'{"refresh": 1}',
    b'{"refresh": {}}',
    b'{"refresh": []}',
    b'{"post_limit": -1}',
    b'{"post_limit": 4294967296}',
    b'{"post_limit": 1e400}',
    b'{"post_limit": "1e3"}',
    b'{"post_limit": 51}',
    b'{"post_limit": null}',
    b'{"username": "other"}',
    b'{"unknown": "\\u0000"}',
    b"{not json",
    b"[]",
    b'"x"',
    b"null",
    b"1",
    b"",
    b"\xff\xfe",
    b'{"a":' * 200 + b"1" + b"}" * 200,
    b'{"refresh": true' + b" " * 60_000 + b"}",
    b'{"x": "' + b"a" * 70_000 + b'"}',
    b"\x00",
    b'{"post_limit": 3, "post_limit": "x"}',
    b'{"refresh": true}\n{"refresh": false}',
    b'{"\\ud800": 1}',
    b'{"post_limit": 0.0000001}',
    b'{"post_limit": true}',
    b'{"refresh": "\\u0000"}',
]

OTHER = [
    Hostile("verb-put", "PUT", "/api/v1/creator/search/x"),
    Hostile("verb-delete", "DELETE", "/api/v1/creator/unlocked"),
    Hostile("verb-patch", "PATCH", "/api/v1/creator/x/posts"),
    Hostile("verb-custom", "PURGE", "/api/v1/creator/unlocked"),
    Hostile("grpc-path-as-rest", "POST", "/creator.v1.CreatorService/SearchCreator", b"{}"),
    Hostile("internal-service", "POST", "/inference.v1.InferenceService/ListModels", b"{}"),
    Hostile("cdn-internal", "POST", "/cdn.v1.CdnService/ListDeadJobs", b"{}"),
    Hostile("double-slash", "GET", "//api//v1//creator//unlocked"),
    Hostile("dot-segments", "GET", "/api/v1/creator/x/../../../health"),
    Hostile("trailing-slash", "GET", "/api/v1/creator/unlocked/"),
    Hostile("upper-case", "GET", "/API/V1/CREATOR/UNLOCKED"),
    Hostile("statistics-days-huge", "GET", "/api/v1/cdn/statistics?days=4294967295"),
    Hostile("statistics-days-negative", "GET", "/api/v1/cdn/statistics?days=-5"),
    Hostile("history-limit-max", "GET", "/api/v1/creator/fit.bayann/history?limit=4294967295"),
    Hostile("long-query", "GET", "/api/v1/creator/unlocked?page_token=" + "A" * 5000),
]


def corpus() -> list[Hostile]:
    cases: list[Hostile] = []
    for i, name in enumerate(USERNAMES):
        cases.append(Hostile(f"search-username-{i}", "POST", f"/api/v1/creator/search/{name}", b"{}"))
        cases.append(Hostile(f"posts-username-{i}", "GET", f"/api/v1/creator/{name}/posts"))
        cases.append(Hostile(f"history-username-{i}", "GET", f"/api/v1/creator/{name}/history"))
    for name, value in PAGE_TOKENS:
        for route, path in PAGE_TOKEN_ROUTES.items():
            encoded = value if value.startswith("%") else quote(value, safe="")
            cases.append(Hostile(f"page-token-{route}-{name}", "GET", f"{path}?page_token={encoded}"))
    for i, query in enumerate(QUERY_VALUES):
        cases.append(Hostile(f"query-unlocked-{i}", "GET", f"/api/v1/creator/unlocked?{query}"))
        cases.append(Hostile(f"query-history-{i}", "GET", f"/api/v1/creator/fit.bayann/history?{query}"))
    for i, headers in enumerate(HEADERS):
        cases.append(Hostile(f"header-search-{i}", "POST", "/api/v1/creator/search/fit.bayann", b"{}", headers))
        cases.append(Hostile(f"header-posts-{i}", "GET", "/api/v1/creator/fit.bayann/posts", None, headers))
    for i, body in enumerate(BODIES):
        cases.append(Hostile(f"body-{i}", "POST", "/api/v1/creator/search/fit.bayann", body))
    return cases + OTHER


def params() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in corpus()]


def send(e2e: E2E, case: Hostile) -> tuple[int, str, bytes]:
    parts = urlsplit(e2e.gateway)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=DEADLINE_S)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {e2e.token('hostile')}"}
        headers.update(case.headers)
        connection.putrequest(case.method, case.path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value.encode("latin-1"))
        body = case.body if case.body is not None else b""
        if case.method in ("POST", "PUT", "PATCH") or body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


def test_the_corpus_has_at_least_200_cases() -> None:
    assert len(corpus()) >= 200
    assert len({case.name for case in corpus()}) == len(corpus())


@pytest.mark.parametrize("case", params())
def test_hostile_input_never_gets_a_5xx_a_hang_or_a_non_json_answer(e2e: E2E, case: Hostile) -> None:
    status, content_type, body = send(e2e, case)
    assert status < 500, (status, body[:300])
    assert content_type.startswith("application/json"), (status, content_type, body[:300])
    answer = json.loads(body)
    if status >= 400:
        assert answer.get("message"), (status, answer)
