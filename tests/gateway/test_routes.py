"""Every REST route and every RPC of the gateway-facing services, through a real Envoy, from REST and native gRPC."""

from __future__ import annotations

from typing import Any

import aiohttp
import grpc
import pytest
from cdn.v1 import cdn_pb2, cdn_pb2_grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from services.gateway.contract import gateway_methods, load_descriptor_set
from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.tokens import Keys

# The operator routes need this claim; it is harmless on the others, so every case carries it.
OPERATOR = {"role": "operator"}

# (verb, path, JSON body, backend method (none: Envoy answers itself), expected fragment of the JSON answer)
REST_CASES: list[tuple[str, str, dict[str, Any] | None, str, dict[str, Any]]] = [
    ("POST", "/api/v1/creator/search/alice", {"refresh": True, "post_limit": 5}, "SearchCreatorJson", {}),
    ("GET", "/api/v1/creator/unlocked?page_size=3", None, "ListUnlocked", {"next_page_token": "after-3"}),
    ("GET", "/api/v1/creator/alice/posts?page_token=t1", None, "ListPosts", {"next_page_token": "t1"}),
    ("GET", "/api/v1/creator/alice/history?limit=3", None, "GetHistory", {"username": "alice"}),
    ("POST", "/api/v1/creator/alice/track", {}, "TrackCreator", {}),
    ("DELETE", "/api/v1/creator/alice/track", None, "UntrackCreator", {"was_tracked": True}),
    ("GET", "/api/v1/creator/tracked?page_size=4", None, "ListTracked", {"next_page_token": "after-4"}),
    (
        "GET",
        "/api/v1/creator/alice/similar?page_size=2",
        None,
        "SimilarCreators",
        {"creators": [{"username": "like-alice", "similarity": 0.5, "shared_topics": ["food"]}]},
    ),
    (
        "POST",
        "/api/v1/discover",
        {"query": "baking", "min_followers": "1000", "categories": ["food"], "page_size": 5},
        "Discover",
        {"next_page_token": "after-5"},
    ),
    ("GET", "/api/health", None, "GetHealth", {"status": "HEALTH_STATUS_SERVING"}),
    ("GET", "/api/openapi.json", None, "", {"openapi": "3.1.0"}),
    ("GET", "/api/v1/cdn/health", None, "CdnGetHealth", {"status": "COMPONENT_STATUS_OK"}),
    ("GET", "/api/v1/cdn/metrics", None, "CdnGetMetrics", {"jobs_done": "3"}),
    ("GET", "/api/v1/cdn/queue/status", None, "CdnGetQueueStatus", {"active_workers": 2}),
    ("GET", "/api/v1/cdn/statistics?days=2", None, "CdnGetStatistics", {}),
    ("GET", "/api/v1/cdn/dead-jobs?page_size=5", None, "CdnAdminListDeadJobs", {"total_size": "1"}),
    ("POST", "/api/v1/cdn/dead-jobs/retry", {"job_ids": ["7", "8"]}, "CdnAdminRetryDeadJobs", {"retried": 2}),
    ("POST", "/api/v1/cdn/dead-jobs/discard", {"all": True}, "CdnAdminDiscardDeadJobs", {"discarded": 0}),
]


def test_the_route_table_covers_every_annotated_rpc() -> None:
    annotated = {
        (m.binding.verb.upper(), m.binding.path.replace("{username}", "alice"))
        for m in gateway_methods(load_descriptor_set())
        if m.binding
    }
    tested = {(verb, path.split("?")[0]) for verb, path, *_ in REST_CASES}
    assert tested == annotated


@pytest.mark.parametrize(("verb", "path", "body", "method", "expected"), REST_CASES, ids=[c[1] for c in REST_CASES])
async def test_rest_route_reaches_its_rpc_with_the_verified_user(
    gateway: EnvoyProcess,
    http: aiohttp.ClientSession,
    recorder: RunningTestBackend,
    keys: Keys,
    verb: str,
    path: str,
    body: dict[str, Any] | None,
    method: str,
    expected: dict[str, Any],
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256('user-42', app_metadata=OPERATOR)}"}
    async with http.request(verb, gateway.base_url + path, json=body, headers=headers) as response:
        answer = await response.json()
        assert response.status == 200, answer
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-request-id"]
    assert {k: answer[k] for k in expected} == expected
    assert recorder.recorder.methods() == ([method] if method else [])
    if not method:
        return
    metadata = recorder.recorder.calls[0].metadata
    public = path.startswith(("/api/health", "/api/openapi.json", "/api/v1/cdn/health"))
    assert metadata.get("x-user-id") == (None if public else "user-42")
    assert metadata["x-request-id"] == response.headers["x-request-id"]
    assert "authorization" not in metadata


async def test_search_body_and_path_reach_the_rpc_in_the_documented_json_convention(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    headers = {"Authorization": f"Bearer {keys.es256('user-es')}"}
    url = gateway.base_url + "/api/v1/creator/search/alice"
    async with http.post(url, json={"post_limit": 7}, headers=headers) as response:
        report = await response.json()
    assert response.status == 200, report
    assert report["profile"]["username"] == "alice"
    assert report["profile"]["full_name"] == "user-es"  # the backend echoes x-user-id here
    assert report["profile"]["followers_count"] == "12345678901"  # int64 as a string
    assert report["profile"]["is_private"] is False  # zero values are printed, snake_case names
    assert report["recent_posts"][0]["likes_count"] == "7"
    assert report["analysis_state"] == "ANALYSIS_STATE_COMPLETE"


async def test_public_routes_need_no_token(gateway: EnvoyProcess, http: aiohttp.ClientSession) -> None:
    for path in ("/api/health", "/api/openapi.json", "/api/v1/cdn/health"):
        async with http.get(gateway.base_url + path) as response:
            assert response.status == 200, await response.text()


async def test_openapi_route_serves_the_generated_document(gateway: EnvoyProcess, http: aiohttp.ClientSession) -> None:
    from services.gateway.openapi import load_document

    async with http.get(gateway.base_url + "/api/openapi.json") as response:
        assert response.headers["content-type"] == "application/json"
        assert await response.read() == load_document()


async def test_native_grpc_reaches_every_rpc_with_the_verified_user(
    channel: grpc.aio.Channel, recorder: RunningTestBackend, keys: Keys
) -> None:
    auth = (("authorization", f"Bearer {keys.hs256('user-g', app_metadata=OPERATOR)}"),)
    creator = creator_pb2_grpc.CreatorServiceStub(channel)
    system = creator_pb2_grpc.SystemServiceStub(channel)
    cdn = cdn_pb2_grpc.CdnStatusServiceStub(channel)
    report = await creator.SearchCreator(creator_pb2.SearchCreatorRequest(username="bob"), metadata=auth)
    assert report.profile.full_name == "user-g"
    await creator.ListUnlocked(creator_pb2.ListUnlockedRequest(), metadata=auth)
    await creator.ListPosts(creator_pb2.ListPostsRequest(username="bob"), metadata=auth)
    await creator.GetHistory(creator_pb2.GetHistoryRequest(username="bob"), metadata=auth)
    await system.GetHealth(creator_pb2.GetHealthRequest())  # public: no token
    await system.GetOpenApi(creator_pb2.GetOpenApiRequest())
    await cdn.GetHealth(cdn_pb2.GetCdnHealthRequest(), metadata=auth)
    await cdn.GetMetrics(cdn_pb2.GetCdnMetricsRequest(), metadata=auth)
    await cdn.GetQueueStatus(cdn_pb2.GetQueueStatusRequest(), metadata=auth)
    await cdn.GetStatistics(cdn_pb2.GetStatisticsRequest(days=1), metadata=auth)
    assert len(recorder.recorder.calls) == 10
    authenticated = [c for c in recorder.recorder.calls if c.method not in ("GetHealth", "GetOpenApi", "CdnGetHealth")]
    assert {c.metadata.get("x-user-id") for c in authenticated} == {"user-g"}


async def test_native_grpc_errors_pass_through_unchanged(channel: grpc.aio.Channel, keys: Keys) -> None:
    auth = (("authorization", f"Bearer {keys.hs256()}"),)
    creator = creator_pb2_grpc.CreatorServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await creator.SearchCreator(creator_pb2.SearchCreatorRequest(username="missing"), metadata=auth)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no Instagram account 'missing'"


async def test_backend_errors_become_json_with_the_grpc_code_and_http_status(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256()}"}
    for username, status, code in (("missing", 404, 5), ("unavailable", 503, 14)):
        url = f"{gateway.base_url}/api/v1/creator/search/{username}"
        async with http.post(url, json={}, headers=headers) as response:
            body = await response.json()
        assert (response.status, body["code"]) == (status, code), body
        assert body["message"]


async def test_internal_services_are_unreachable_even_with_a_valid_token(
    gateway: EnvoyProcess,
    channel: grpc.aio.Channel,
    http: aiohttp.ClientSession,
    recorder: RunningTestBackend,
    keys: Keys,
) -> None:
    auth = (("authorization", f"Bearer {keys.hs256()}"),)
    calls = [
        inference_pb2_grpc.InferenceServiceStub(channel).ListModels(inference_pb2.ListModelsRequest(), metadata=auth),
        cdn_pb2_grpc.CdnServiceStub(channel).ListDeadJobs(cdn_pb2.ListDeadJobsRequest(), metadata=auth),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "not exposed by the gateway" in (caught.value.details() or "")
    for path in ("/inference.v1.InferenceService/ListModels", "/cdn.v1.CdnService/ListDeadJobs"):
        async with http.post(gateway.base_url + path, json={}, headers={"Authorization": auth[0][1]}) as response:
            assert response.status == 404
            assert (await response.json())["code"] == 5
    assert recorder.recorder.calls == []
