"""The docs page with its bundled viewer: Envoy serves the page and every file it loads from the same origin while
every service is down, a real Chromium renders the routes with no console error, and without the viewer the page
falls back to the plain reference."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.gateway.docs import DOCS_PATH, VIEWER_CSP, VIEWER_DIST, docs_documents, viewer_installed
from services.gateway.openapi import load_document
from services.gateway.process import EnvoyProcess
from tests.clients.npm import require_installed
from tests.gateway.envoys import StartGateway

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ROUTE = "/api/v1/creator/search/{username}"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def require(ready: bool, message: str) -> None:
    """Skips without the viewer or Chromium, unless FOLLOWING_REQUIRE_CLIENTS=1 (`make test`), where it fails."""
    if not ready:
        if os.environ.get("FOLLOWING_REQUIRE_CLIENTS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(load_document())
    return loaded


async def gateway_with_every_service_down(start_gateway: StartGateway) -> EnvoyProcess:
    require(viewer_installed(), "the docs viewer is not installed: run `make setup`")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    return await start_gateway(CREATOR_ADDR=nowhere, CDN_ADDR=nowhere)


def referenced(page: str) -> list[str]:
    return [url for url in re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"', page) if url != "data:,"]


async def test_docs_page_and_each_viewer_file_answer_from_the_same_origin_while_every_service_is_down(
    start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    gateway = await gateway_with_every_service_down(start_gateway)
    async with http.get(gateway.base_url + "/api/v1/creator/unlocked") as down:
        assert down.status in (401, 503)
    async with http.get(gateway.base_url + DOCS_PATH) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-security-policy"] == VIEWER_CSP
        page = await response.text()
    assets = referenced(page)
    assert sorted(assets) == [f"{DOCS_PATH}/{name}" for name in ("start.js", "swagger-ui-bundle.js", "swagger-ui.css")]
    assert "<script>" not in page  # no inline script: the policy allows only 'self'
    files = {d.path: d.file for d in docs_documents(json.loads(load_document()))}
    for asset in assets:
        async with http.get(gateway.base_url + asset) as response:
            assert response.status == 200, asset
            assert response.headers["content-type"] == CONTENT_TYPES[Path(asset).suffix]
            assert response.headers["x-content-type-options"] == "nosniff"
            body = await response.read()
        source = files[asset]
        assert source is not None and body == source.read_bytes()
    async with http.get(gateway.base_url + f"{DOCS_PATH}/swagger-initializer.js") as other:
        assert other.status != 200  # only the files the page loads are served, not the package folder


def test_without_the_viewer_the_docs_page_is_the_plain_reference_and_says_so(
    document: dict[str, Any], tmp_path: Path
) -> None:
    missing = {"swagger-ui-bundle.js": (tmp_path / "swagger-ui-bundle.js", "text/javascript")}
    pages = docs_documents(document, missing)
    assert [page.path for page in pages] == [DOCS_PATH]
    assert "viewer is not installed" in pages[0].body and "<script" not in pages[0].body
    assert ROUTE in pages[0].body


async def test_chromium_renders_the_route_list_with_the_bundled_viewer_and_no_console_error(
    start_gateway: StartGateway,
) -> None:
    web = require_installed("web")
    require(shutil.which(CHROMIUM) is not None, f"{CHROMIUM} is missing: run `make setup` (apt-get install chromium)")
    gateway = await gateway_with_every_service_down(start_gateway)
    shots = ROOT / ".run" / "docs"
    shots.mkdir(parents=True, exist_ok=True)
    check = await asyncio.create_subprocess_exec(
        "node",
        str(Path(__file__).with_name("docs_viewer_check.cjs")),
        env={
            **os.environ,
            "DOCS_URL": gateway.base_url + DOCS_PATH,
            "ROUTE": ROUTE,
            "SCREENSHOT": str(shots / "viewer.png"),
            "PLAYWRIGHT_CORE": str(web / "node_modules" / "playwright-core"),
            "CHROMIUM_PATH": CHROMIUM,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(check.communicate(), timeout=120)
    assert check.returncode == 0, out.decode()[-4000:] + err.decode()[-4000:]
    stdout = out.decode()
    seen = json.loads(stdout.strip().splitlines()[-1])
    assert seen["problems"] == [] and seen["outside"] == []
    assert seen["routes"] == sum(len(operations) for operations in json.loads(load_document())["paths"].values())


def test_the_image_installs_the_locked_viewer_and_carries_every_file_the_page_loads() -> None:
    dockerfile = (ROOT / "services" / "gateway" / "Dockerfile").read_text()
    assert "COPY services/gateway/docs-viewer/package.json services/gateway/docs-viewer/package-lock.json" in dockerfile
    assert "npm ci --ignore-scripts" in dockerfile
    dist = VIEWER_DIST.relative_to(ROOT)
    assert f"COPY --from=viewer /out {dist.parent}" in dockerfile
    for page in docs_documents(json.loads(load_document()))[1:]:
        assert page.file is not None
        if page.file.is_relative_to(VIEWER_DIST):
            assert f"node_modules/swagger-ui-dist/{page.file.name}" in dockerfile, page.file.name
