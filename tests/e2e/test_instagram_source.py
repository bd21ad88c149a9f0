"""`INSTAGRAM_SOURCE=web` and the other upstream settings given to the local stack reach the creator and the CDN.

Nothing here can reach Instagram, so the "real" upstream is a second sample upstream started apart, on its own port,
reached only through the `web` source settings (INSTAGRAM_BASE_URL, CDN_ALLOWED_HOSTS), as an operator would point
the stack at instagram.com.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.api import GatewayClient
from client.tokens import mint
from scripts.pgcluster import free_port
from scripts.stack import Stack, private_stack
from tests.e2e.polling import eventually
from tests.processes import ROOT

pytestmark = pytest.mark.slow


def _stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/__admin/stats", timeout=5) as reply:
        stats: dict[str, Any] = json.loads(reply.read())
    return stats


@pytest.fixture(scope="module")
def apart_upstream() -> Iterator[str]:
    """A sample upstream that is not part of the stack, standing in for Instagram."""
    listen = f"127.0.0.1:{free_port()}"
    log = Path(tempfile.mkstemp(prefix="following-apart-upstream-", suffix=".log")[1])
    env = {**os.environ, "SAMPLE_UPSTREAM_LISTEN": listen, "SAMPLE_UPSTREAM_PUBLIC_URL": f"http://{listen}"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fakes.instagram.server"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        eventually(lambda: _stats(f"http://{listen}"), lambda s: "requests_total" in s, 60, "apart upstream answers")
        yield f"http://{listen}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def web_stack(apart_upstream: str) -> Iterator[Stack]:
    host_port = apart_upstream.removeprefix("http://")
    stack = private_stack(
        "following-web-",
        {
            "INSTAGRAM_SOURCE": "web",
            "INSTAGRAM_BASE_URL": apart_upstream,
            "INSTAGRAM_EXTRA_HEADERS": '{"x-ig-test": "1"}',
            "CDN_ALLOWED_HOSTS": host_port,
            "CDN_ALLOW_PRIVATE_NETWORKS": "true",
        },
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(stack.run, ignore_errors=True)


def test_the_web_source_settings_reach_the_creator_and_the_cdn(web_stack: Stack) -> None:
    creator = web_stack.component("creator").env(web_stack)
    assert creator["INSTAGRAM_SOURCE"] == "web"
    assert creator["INSTAGRAM_EXTRA_HEADERS"] == '{"x-ig-test": "1"}'
    cdn = web_stack.component("cdn").env(web_stack)
    assert cdn["CDN_ALLOWED_HOSTS"] == web_stack.values["INSTAGRAM_BASE_URL"].removeprefix("http://")
    assert web_stack.describe_source().startswith(f"web ({web_stack.values['INSTAGRAM_BASE_URL']}")
    assert f"Instagram source web ({web_stack.values['INSTAGRAM_BASE_URL']}" in web_stack.describe()


def test_up_on_another_source_says_the_running_creator_must_restart(
    web_stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert web_stack.running_source() == "web"
    monkeypatch.setenv("INSTAGRAM_SOURCE", "sample")
    again = Stack(web_stack.run)  # what `INSTAGRAM_SOURCE=sample make up` sees on this run folder
    again.start("creator")
    assert "runs on the web source, not sample: make down && make up" in capsys.readouterr().err


def test_a_search_on_the_web_source_fetches_from_the_configured_upstream_and_mirrors_its_images(
    web_stack: Stack, apart_upstream: str
) -> None:
    own = f"http://{web_stack.values['SAMPLE_UPSTREAM_LISTEN']}"
    values = web_stack.values
    client = GatewayClient(
        f"http://{values['GATEWAY_LISTEN']}", mint(values["SUPABASE_JWT_SECRET"], values["SUPABASE_JWT_ISSUER"]), 60
    )
    report = client.search("fit.bayann")
    assert report["profile"]["username"] == "fit.bayann"
    assert _stats(apart_upstream)["requests_total"] > 0, "the search went to the configured upstream"
    assert _stats(own)["requests_total"] == 0, "the stack's own sample upstream was not asked"
    mirrored = eventually(
        lambda: client.search("fit.bayann"),
        lambda r: r["profile"]["avatar"]["state"] == "MEDIA_STATE_MIRRORED",
        90,
        "the avatar mirrored from the configured upstream",
    )
    assert mirrored["profile"]["avatar"]["original_url"].startswith(apart_upstream)


def test_the_sample_source_stays_the_default_and_ignores_a_callers_instagram_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSTAGRAM_SOURCE", "web")
    stack = private_stack("following-default-")
    try:
        assert stack.source == "sample", "a private stack reads only its own stack.env"
        creator = stack.component("creator").env(stack)
        assert creator["INSTAGRAM_SOURCE"] == "sample"
        assert creator["INSTAGRAM_BASE_URL"] == f"http://{stack.values['SAMPLE_UPSTREAM_LISTEN']}"
        assert stack.component("cdn").env(stack)["CDN_ALLOWED_HOSTS"] == stack.values["SAMPLE_UPSTREAM_LISTEN"]
    finally:
        shutil.rmtree(stack.run, ignore_errors=True)


def test_make_up_reads_the_source_from_the_callers_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSTAGRAM_SOURCE", "web")
    monkeypatch.setenv("INSTAGRAM_PROXY_URL", "http://127.0.0.1:3128")
    monkeypatch.setenv("CDN_ALLOWED_HOSTS", "*.cdninstagram.com")
    stack = Stack(tmp_path)
    creator = stack.component("creator").env(stack)
    assert creator["INSTAGRAM_SOURCE"] == "web"
    assert creator["INSTAGRAM_PROXY_URL"] == "http://127.0.0.1:3128"
    assert "INSTAGRAM_BASE_URL" not in creator, "the web source's own default (instagram.com) applies"
    cdn = stack.component("cdn").env(stack)
    assert cdn["CDN_ALLOWED_HOSTS"] == "*.cdninstagram.com"
    assert "CDN_ALLOW_PRIVATE_NETWORKS" not in cdn
    assert stack.describe_source().startswith("web (https://www.instagram.com")
