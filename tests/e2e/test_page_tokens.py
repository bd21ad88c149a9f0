"""Crafted page tokens through the gateway: 400 with a JSON message, never a 5xx (which would also count against the
backend in the gateway's outlier detection)."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from tests.e2e.conftest import E2E
from tests.e2e.test_bad_input import raw

pytestmark = pytest.mark.slow


def forge(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


AT = "2026-11-29T10:00:00+00:00"
TOKENS = [
    forge(["unlocked", AT, 2**70]),
    forge(["unlocked", "9999-12-31T23:59:59-14:00", 1]),
    forge(["unlocked", 1_795_000_000_000_000, 2**64]),
    forge(["unlocked", 10**30, 1]),
    forge(["posts", AT, "abc\x00def"]),
    forge(["posts", 1_795_000_000_000_000, "\ud800"]),
    forge(["posts", 1_795_000_000_000_000, 7]),
    "\x00",
    "A" * 2000,
    "%%%",
]


@pytest.mark.parametrize("path", ["/api/v1/creator/unlocked", "/api/v1/creator/fit.bayann/posts"])
def test_crafted_page_tokens_get_400_json_with_a_message(e2e: E2E, path: str) -> None:
    e2e.client("badinput").search("fit.bayann")  # unlocked, so the posts route reaches its page token
    answers = [raw(e2e, "GET", f"{path}?{urllib.parse.urlencode({'page_token': token})}") for token in TOKENS]
    assert [status for status, _ in answers] == [400] * len(TOKENS), answers
    # NUL in a query is refused by the gateway before any service reads the token; every other one by the service.
    assert all(body["message"] for _, body in answers), answers
    assert sum(str(body["message"]).startswith("page_token: ") for _, body in answers) >= len(TOKENS) - 1, answers
