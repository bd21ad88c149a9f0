"""The console's server: it serves the bundle and its config, mints development tokens only on loopback, and never
serves a file outside the bundle."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jwt
import pytest

from following.settings import EnvReader, SettingsError
from scripts.console import ConsoleSettings, handler_for
from tests.loopback import serve_http

SECRET = "console-test-secret-with-enough-bytes"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    bundle = tmp_path / "dist"
    bundle.mkdir()
    (bundle / "index.html").write_text("<title>console</title>")
    (tmp_path / "secret.txt").write_text("outside the bundle")
    env = {"CONSOLE_LISTEN": "127.0.0.1:0", "SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWT_ISSUER": "http://issuer"}
    settings = replace(ConsoleSettings.from_env(EnvReader(env)), bundle=bundle)
    with serve_http(handler_for(settings)) as url:
        yield url


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_console_serves_the_page_and_names_the_gateway(console: str) -> None:
    assert get(f"{console}/") == (200, b"<title>console</title>")
    status, body = get(f"{console}/config.json")
    assert status == 200
    assert json.loads(body) == {"gateway": "http://127.0.0.1:8080", "devTokens": True}


def test_dev_token_is_signed_with_the_stack_secret_for_the_named_user(console: str) -> None:
    status, body = get(f"{console}/dev-token?user=web-alice")
    assert status == 200
    claims = jwt.decode(json.loads(body)["token"], SECRET, algorithms=["HS256"], audience="authenticated")
    assert claims["email"] == "web-alice@example.com"
    assert claims["iss"] == "http://issuer"
    assert get(f"{console}/dev-token?user=bad%20name")[0] == 400


def test_files_outside_the_bundle_are_not_served(console: str) -> None:
    assert get(f"{console}/../secret.txt")[0] == 404
    assert get(f"{console}/%2e%2e/secret.txt")[0] == 404


def test_dev_tokens_are_off_when_listening_beyond_loopback() -> None:
    env = {"CONSOLE_LISTEN": "0.0.0.0:3000", "SUPABASE_JWT_SECRET": SECRET}
    assert ConsoleSettings.from_env(EnvReader(env)).dev_secret is None


def test_a_gateway_url_that_is_not_http_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CONSOLE_GATEWAY_URL"):
        ConsoleSettings.from_env(EnvReader({"CONSOLE_GATEWAY_URL": "ftp://x"}))
