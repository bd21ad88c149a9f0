"""`x-http-status` on the health checks only: a health answer that asks for 503 gets it (body kept, header dropped);
other routes run no Lua for it and never pass the header on."""

from __future__ import annotations

import aiohttp
import yaml

from services.gateway.config import render
from services.gateway.process import EnvoyProcess
from services.gateway.settings import GatewaySettings
from tests.gateway.backends import HTTP_STATUS, TEST_HTTP_STATUS
from tests.gateway.tokens import ISSUER, Keys

ASK_503 = {TEST_HTTP_STATUS: "503"}


async def test_a_health_answer_asking_for_503_gets_it_with_its_json_body(
    gateway: EnvoyProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway.base_url}/api/health", headers=ASK_503) as response:
        body = await response.json()
    assert response.status == 503
    assert body["status"] == "HEALTH_STATUS_SERVING"  # the service's own body, untouched
    assert HTTP_STATUS not in response.headers
    async with http.get(f"{gateway.base_url}/api/health") as response:
        assert response.status == 200


async def test_other_routes_keep_their_status_and_never_pass_the_header_on(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256()}", **ASK_503}
    async with http.get(f"{gateway.base_url}/api/v1/creator/unlocked", headers=headers) as response:
        body = await response.json()
    assert response.status == 200, body
    assert HTTP_STATUS not in response.headers


def _route_filters(settings: GatewaySettings) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    listener = yaml.safe_load(render(settings).yaml)["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    filters = {f["name"]: f["typed_config"] for f in manager["http_filters"]}
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    return filters["health-status"], {r["name"]: r.get("typed_per_filter_config", {}) for r in routes}


def test_the_status_script_runs_on_the_health_routes_only(keys: Keys) -> None:
    settings = GatewaySettings.from_env(
        {"SUPABASE_JWT_SECRET": keys.secret, "SUPABASE_JWT_ISSUER": ISSUER, "GATEWAY_ACCESS_LOG": "/dev/null"}
    )
    status_filter, per_route = _route_filters(settings)
    assert "default_source_code" not in status_filter  # no script on the other routes: no Lua call per answer
    with_script = sorted(name for name, config in per_route.items() if "health-status" in config)
    assert with_script == ["cdn.v1.CdnStatusService.GetHealth", "creator.v1.SystemService.GetHealth"]
