"""SearchCreatorJson through the real creator service: the same search as SearchCreator (unlock, cache, refresh,
pending analysis, quota, errors, metrics), answering its report as the API's JSON."""

from __future__ import annotations

import grpc
import pytest
from creator.v1 import creator_pb2
from google.protobuf import json_format
from prometheus_client import REGISTRY

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.creators import CREATORS
from scripts.pgcluster import free_port
from tests.creator.conftest import Creator, StartCreator, user_md

PUBLIC = [c.username for c in CREATORS if not c.private]


async def search_json(
    creator: Creator, username: str, user: str = "alice", refresh: bool = False, post_limit: int = 0
) -> creator_pb2.CreatorReport:
    request = creator_pb2.SearchCreatorRequest(username=username, refresh=refresh, post_limit=post_limit)
    body = await creator.stub.SearchCreatorJson(request, metadata=user_md(user), timeout=30)
    assert body.content_type == "application/json"
    return json_format.Parse(body.data, creator_pb2.CreatorReport())


def but_for_age(report: creator_pb2.CreatorReport) -> creator_pb2.CreatorReport:
    """The report without the one part two answers of the same search differ in: how old the report was."""
    copy = creator_pb2.CreatorReport()
    copy.CopyFrom(report)
    copy.freshness.ClearField("age_seconds")
    return copy


def json_misses() -> float:
    return REGISTRY.get_sample_value("creator_report_json_total", {"cache": "miss"}) or 0.0


def handled(method: str) -> float:
    labels = {"grpc_service": "creator.v1.CreatorService", "grpc_method": method, "grpc_code": "OK"}
    return REGISTRY.get_sample_value("grpc_server_handled_total", {"grpc_type": "unary", **labels}) or 0.0


async def test_fresh_and_cached_json_searches_answer_the_report_grpc_answers(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    misses, calls = json_misses(), handled("SearchCreatorJson")
    fresh = await search_json(creator, "chef.marco")
    assert not fresh.freshness.from_cache and fresh.unlocked_at.seconds > 0 and len(fresh.recent_posts) == 12
    cached = await search_json(creator, "chef.marco")
    assert cached.freshness.from_cache
    assert but_for_age(cached) == but_for_age(await creator.search("chef.marco"))
    fresh.freshness.from_cache = True
    assert but_for_age(fresh) == but_for_age(cached)
    assert json_misses() == misses + 1, "the stored report is rendered once, by the fresh search"
    assert handled("SearchCreatorJson") == calls + 2  # the RPC metrics name the method
    other_user = await search_json(creator, "chef.marco", user="bob")
    assert other_user.unlocked_at != cached.unlocked_at  # per-response parts are the caller's
    assert json_misses() == misses + 1


async def test_refresh_skipped_and_a_smaller_post_limit_answer_as_grpc_does(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_MIN_REFRESH_S="300")
    await creator.search("wander.lena")
    skipped = await search_json(creator, "wander.lena", refresh=True, post_limit=4)
    assert skipped.freshness.refresh_skipped and len(skipped.recent_posts) == 4
    assert but_for_age(skipped) == but_for_age(await creator.search("wander.lena", refresh=True, post_limit=4))


async def test_a_json_search_answers_pending_analysis_as_grpc_does(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    down = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{free_port()}")
    pending = await search_json(down, "cocina.sofia")
    assert pending.analysis_state == creator_pb2.ANALYSIS_STATE_PENDING and not pending.models
    again = await down.search("cocina.sofia")
    pending.freshness.from_cache = True
    assert but_for_age(pending) == but_for_age(again)


@pytest.mark.parametrize(
    ("username", "post_limit", "user", "code"),
    [
        ("two..dots", 0, "alice", grpc.StatusCode.INVALID_ARGUMENT),
        ("chef.marco", 51, "alice", grpc.StatusCode.INVALID_ARGUMENT),
        ("nobody.at.all", 0, "alice", grpc.StatusCode.NOT_FOUND),
        ("chef.marco", 0, "", grpc.StatusCode.UNAUTHENTICATED),
    ],
)
async def test_json_search_errors_are_the_grpc_searchs_errors(
    start_creator: StartCreator, upstream: SampleAdmin, username: str, post_limit: int, user: str, code: grpc.StatusCode
) -> None:
    creator = await start_creator()
    request = creator_pb2.SearchCreatorRequest(username=username, post_limit=post_limit)
    metadata = user_md(user) if user else ()
    errors = []
    for call in (creator.stub.SearchCreator, creator.stub.SearchCreatorJson):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, metadata=metadata, timeout=30)
        errors.append((caught.value.code(), caught.value.details(), dict(caught.value.trailing_metadata() or ())))
    assert errors[0][0] == code
    assert errors[0][:2] == errors[1][:2]
    assert errors[0][2].keys() == errors[1][2].keys()  # the rich status (ErrorInfo reason) travels alike


async def test_the_fetch_quota_counts_json_and_grpc_searches_alike(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator(CREATOR_USER_FETCHES_PER_HOUR="2")
    await search_json(creator, PUBLIC[0], user="hog")
    await creator.search(PUBLIC[1], user="hog")
    for call in (creator.stub.SearchCreatorJson, creator.stub.SearchCreator):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(creator_pb2.SearchCreatorRequest(username=PUBLIC[2]), metadata=user_md("hog"), timeout=30)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await search_json(creator, PUBLIC[0], user="hog")).freshness.from_cache  # stored reports still answer
