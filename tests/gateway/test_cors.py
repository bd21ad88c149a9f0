"""CORS through a real Envoy: exact origins by default, optional one-label patterns (CORS_ORIGIN_PATTERNS), and a
preflight from a refused origin answered as a CORS refusal (403 CORS_ORIGIN_REFUSED), never as a token error."""

from __future__ import annotations

import aiohttp
import pytest

from services.gateway.process import EnvoyProcess
from services.gateway.settings import GatewaySettings, SettingsError
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import ORIGIN, StartGateway, gateway_env
from tests.gateway.test_error_reasons import assert_error
from tests.gateway.tokens import Keys

PREVIEW = "https://my-app-git-branch.vercel.app"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


@pytest.mark.parametrize("origin", ["https://evil.example", PREVIEW, ORIGIN + ".evil.example", "null"])
async def test_a_preflight_from_a_refused_origin_is_a_cors_refusal_not_a_token_error(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, origin: str
) -> None:
    async with http.options(gateway.base_url + "/api/v1/creator/search/alice", headers=preflight(origin)) as response:
        assert response.status == 403
        assert "access-control-allow-origin" not in response.headers
        body = await response.json()
    assert_error(body, 7, "CORS_ORIGIN_REFUSED", None, response.headers)
    assert "CORS_ORIGIN_PATTERNS" in body["message"]
    assert recorder.recorder.calls == []


async def test_origin_patterns_allow_one_label_and_nothing_else(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(CORS_ORIGIN_PATTERNS="https://*.vercel.app")
    url = gateway.base_url + "/api/v1/creator/search/alice"
    for allowed in (PREVIEW, ORIGIN):
        async with http.options(url, headers=preflight(allowed)) as response:
            assert response.status == 200
            assert response.headers["access-control-allow-origin"] == allowed
    for refused in ("https://vercel.app", "https://a.b.vercel.app", "http://x.vercel.app", "https://x.vercel.app.evil"):
        async with http.options(url, headers=preflight(refused)) as response:
            assert response.status == 403, refused
            assert (await response.json())["details"][0]["reason"] == "CORS_ORIGIN_REFUSED"
    headers = {"Origin": PREVIEW, "Authorization": f"Bearer {keys.hs256()}"}
    async with http.post(url, json={}, headers=headers) as response:
        assert response.status == 200
        assert response.headers["access-control-allow-origin"] == PREVIEW
    async with http.get(gateway.base_url + "/api/openapi.json", headers={"Origin": PREVIEW}) as response:
        assert response.headers["access-control-allow-origin"] == PREVIEW


@pytest.mark.parametrize("pattern", ["https://vercel.app", "ftp://*.vercel.app", "https://x*.vercel.app", "https://*."])
def test_a_malformed_origin_pattern_is_refused_naming_the_variable(
    backend: RunningTestBackend, keys: Keys, tmp_path: object, pattern: str
) -> None:
    env = gateway_env(backend, keys, tmp_path, CORS_ORIGIN_PATTERNS=pattern)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="CORS_ORIGIN_PATTERNS"):
        GatewaySettings.from_env(env)
