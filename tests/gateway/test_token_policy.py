"""Token policy at the gateway: tokens must expire and live at most the configured lifetime, `sub` must be text a
header can carry, and the operator-only routes need the operator role; none of it ever answers 5xx."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import grpc
import pytest
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from client.tokens import mint
from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import StartGateway
from tests.gateway.tokens import ISSUER, Keys

PROTECTED = "/api/v1/creator/unlocked"
OPERATOR_ROUTES = [
    "/api/v1/cdn/metrics",
    "/api/v1/cdn/queue/status",
    "/api/v1/cdn/statistics?days=2",
    "/api/v1/cdn/dead-jobs?page_size=2",
]
DAY = 86400


async def get(
    http: aiohttp.ClientSession, gateway: EnvoyProcess, path: str, token: str | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(gateway.base_url + path, headers=headers) as response:
        assert response.headers["content-type"].startswith("application/json")
        return response.status, await response.json()


def lifetimes(now: int) -> dict[str, dict[str, Any]]:
    """Claims that break the lifetime rules with the default maximum of one day."""
    return {
        "no-exp": {"exp": None},
        "no-exp-no-iat": {"exp": None, "iat": None},
        "exp-minus-iat-over-a-day": {"iat": now - 60, "exp": now + DAY},
        "no-iat-exp-over-a-day-ahead": {"iat": None, "exp": now + DAY + 3600},
        "ten-years": {"exp": now + 10 * 365 * DAY},
    }


@pytest.mark.parametrize("case", list(lifetimes(0)))
async def test_tokens_that_never_expire_or_live_too_long_get_401(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys, case: str
) -> None:
    token = keys.hs256(**lifetimes(int(time.time()))[case])
    status, body = await get(http, gateway, PROTECTED, token)
    assert (status, body["code"]) == (401, 16), body
    assert body["message"]
    assert recorder.recorder.calls == []


async def test_a_token_within_the_lifetime_passes_with_or_without_iat(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    now = int(time.time())
    for claims in ({"iat": now, "exp": now + DAY - 60}, {"iat": None, "exp": now + 3600}):
        status, body = await get(http, gateway, PROTECTED, keys.hs256(**claims))
        assert status == 200, (claims, body)


async def test_the_maximum_lifetime_is_configurable(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(SUPABASE_JWT_MAX_LIFETIME_S="300")
    now = int(time.time())
    assert (await get(http, gateway, PROTECTED, keys.hs256(iat=now, exp=now + 600)))[0] == 401
    assert (await get(http, gateway, PROTECTED, keys.hs256(iat=now, exp=now + 240)))[0] == 200


BAD_SUBS: dict[str, Any] = {
    "empty": "",
    "newline": "user\nother",
    "carriage-return": "user\r\nx-user-id: admin",
    "space": "user one",
    "tab": "user\tone",
    "nul": "user\x00",
    "delete": "user\x7f",
    "non-ascii": "usér",
    "too-long": "u" * 129,
    "number": 12345,
    "list": ["a", "b"],
}


@pytest.mark.parametrize("case", list(BAD_SUBS))
async def test_a_sub_that_is_not_short_printable_text_gets_401_never_5xx(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys, case: str
) -> None:
    status, body = await get(http, gateway, PROTECTED, keys.hs256(sub=BAD_SUBS[case]))
    assert (status, body["code"]) == (401, 16), body
    assert "sub" in body["message"]
    assert recorder.recorder.calls == []


async def test_a_sub_of_128_printable_characters_passes(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    sub = "auth0|" + "x" * 122
    status, body = await get(http, gateway, PROTECTED, keys.hs256(sub=sub))
    assert status == 200, body
    assert recorder.recorder.calls[0].metadata["x-user-id"] == sub


async def test_a_bad_sub_over_native_grpc_is_unauthenticated(channel: grpc.aio.Channel, keys: Keys) -> None:
    creator = creator_pb2_grpc.CreatorServiceStub(channel)
    auth = (("authorization", "Bearer " + keys.hs256(sub=BAD_SUBS["newline"])),)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await creator.ListUnlocked(creator_pb2.ListUnlockedRequest(), metadata=auth)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


# The dead-letter tools change the queue: (path, JSON body), each posted only with the operator role.
OPERATOR_WRITES = [
    ("/api/v1/cdn/dead-jobs/retry", {"all": True}),
    ("/api/v1/cdn/dead-jobs/discard", {"job_ids": ["7"]}),
]


@pytest.mark.parametrize(("path", "body"), OPERATOR_WRITES, ids=[w[0] for w in OPERATOR_WRITES])
async def test_dead_job_tools_refuse_a_user_without_the_operator_role_and_answer_an_operator(
    gateway: EnvoyProcess,
    http: aiohttp.ClientSession,
    recorder: RunningTestBackend,
    keys: Keys,
    path: str,
    body: dict[str, Any],
) -> None:
    for token in (keys.hs256(), keys.hs256(app_metadata={"role": "user"}), keys.hs256(role="operator")):
        async with http.post(gateway.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
            answer = await r.json()
        assert (r.status, answer["code"]) == (403, 7), answer
        assert "operator" in answer["message"]
    assert recorder.recorder.calls == [], "no refused request reached the CDN"
    operator = keys.hs256(app_metadata={"role": "operator"})
    async with http.post(gateway.base_url + path, json=body, headers={"Authorization": f"Bearer {operator}"}) as r:
        assert r.status == 200, await r.text()
    assert len(recorder.recorder.calls) == 1


@pytest.mark.parametrize("path", OPERATOR_ROUTES)
async def test_operator_routes_refuse_a_user_without_the_operator_role(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys, path: str
) -> None:
    for token in (keys.hs256(), keys.hs256(app_metadata={"role": "user"}), keys.hs256(role="operator")):
        status, body = await get(http, gateway, path, token)
        assert (status, body["code"]) == (403, 7), body
        assert "operator" in body["message"]
    assert recorder.recorder.calls == []


@pytest.mark.parametrize("path", OPERATOR_ROUTES)
async def test_operator_routes_answer_an_operator(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys, path: str
) -> None:
    for token in (keys.hs256(app_metadata={"role": "operator"}), keys.es256(app_metadata={"role": "operator"})):
        status, body = await get(http, gateway, path, token)
        assert status == 200, body
    assert len(recorder.recorder.calls) == 2


async def test_operator_rpcs_over_native_grpc_need_the_role(
    channel: grpc.aio.Channel, recorder: RunningTestBackend, keys: Keys
) -> None:
    cdn = cdn_pb2_grpc.CdnStatusServiceStub(channel)
    user = (("authorization", f"Bearer {keys.hs256()}"),)
    operator = (("authorization", f"Bearer {keys.hs256(app_metadata={'role': 'operator'})}"),)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await cdn.GetQueueStatus(cdn_pb2.GetQueueStatusRequest(), metadata=user)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await cdn.GetQueueStatus(cdn_pb2.GetQueueStatusRequest(), metadata=operator)
    assert recorder.recorder.methods() == ["CdnGetQueueStatus"]


async def test_health_routes_stay_public(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend
) -> None:
    for path in ("/api/health", "/api/v1/cdn/health"):
        status, body = await get(http, gateway, path, None)
        assert status == 200, body


async def test_the_operator_claim_and_role_are_configurable(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    role = 'admin 1"]'  # characters that would break the check if they were spliced into its code
    gateway = await start_gateway(GATEWAY_OPERATOR_CLAIM="org.roles", GATEWAY_OPERATOR_ROLE=role)
    path = "/api/v1/cdn/metrics"
    assert (await get(http, gateway, path, keys.hs256(app_metadata={"role": "operator"})))[0] == 403
    assert (await get(http, gateway, path, keys.hs256(org={"roles": "admin"})))[0] == 403
    assert (await get(http, gateway, path, keys.hs256(org={"roles": ["viewer", role]})))[0] == 200
    assert (await get(http, gateway, path, keys.hs256(org={"roles": role})))[0] == 200


async def test_development_tokens_reach_the_operator_routes_only_when_minted_for_an_operator(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    path = "/api/v1/cdn/queue/status"
    assert (await get(http, gateway, path, mint(keys.secret, ISSUER, "ops", operator=True)))[0] == 200
    assert (await get(http, gateway, path, mint(keys.secret, ISSUER, "demo")))[0] == 403
    assert (await get(http, gateway, PROTECTED, mint(keys.secret, ISSUER, "demo")))[0] == 200
