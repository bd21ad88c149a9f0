"""`/api/health` through the gateway while PostgreSQL is down: HTTP 503 with the usual JSON body, the CDN reported as
`/api/v1/cdn/health` reports it, and no host, port or exception name shown. Stops and restarts the stack's cluster."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually

pytestmark = pytest.mark.slow


def get(e2e: E2E, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"{e2e.gateway}{path}", headers={"Authorization": f"Bearer {e2e.token('ops')}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_answers_503_with_its_body_and_agrees_with_cdn_health_while_postgresql_is_down(e2e: E2E) -> None:
    status, body = get(e2e, "/api/health")
    assert status == 200, body
    e2e.stack.pg.stop()
    try:
        status, body = get(e2e, "/api/health")
        _, cdn = get(e2e, "/api/v1/cdn/health")
    finally:
        e2e.stack.pg.start()
    assert status == 503, body
    assert body.get("status") == "HEALTH_STATUS_NOT_SERVING", body
    components = {c["name"]: c for c in body["components"]}
    assert components["database"]["status"] == "HEALTH_STATUS_NOT_SERVING"
    assert cdn.get("status") == "COMPONENT_STATUS_DOWN", cdn
    assert components["cdn"]["status"] == "HEALTH_STATUS_NOT_SERVING", components["cdn"]
    port = str(e2e.stack.pg.port)
    for text in [*(c.get("detail", "") for c in components.values()), cdn.get("detail", "")]:
        assert port not in text and "127.0.0.1" not in text and "Error" not in text, text
    eventually(lambda: get(e2e, "/api/health"), lambda answer: answer[0] == 200, 60, "health back to 200")
