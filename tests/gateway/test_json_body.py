"""The search's JSON, rendered by the creator service (SearchCreatorJson), through a real Envoy: it passes through
untouched, and it reads exactly as the gateway's own transcoding of the same messages does."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from creator.v1 import creator_pb2

from services.creator.report_json import encode, message_json
from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend, rich_posts, search_json, search_report
from tests.gateway.tokens import Keys


def same_json(left: Any, right: Any, path: str = "$") -> None:
    """Equal JSON values of the same JSON type (a number is a number however it is written: 1 and 1.0 are equal; a
    string is never a number, a boolean never a number)."""
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), f"{path}: members {sorted(left)} != {sorted(right)}"
        for key in left:
            same_json(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right), f"{path}: {len(left)} items != {len(right)}"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            same_json(a, b, f"{path}[{index}]")
    elif isinstance(left, bool) or isinstance(right, bool):
        assert left is right, f"{path}: {left!r} != {right!r}"
    elif isinstance(left, int | float) and isinstance(right, int | float):
        assert left == right, f"{path}: {left!r} != {right!r}"
    else:
        assert type(left) is type(right) and left == right, f"{path}: {left!r} != {right!r}"


async def test_the_search_json_passes_through_the_gateway_byte_for_byte(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256('user-7')}"}
    url = gateway.base_url + "/api/v1/creator/search/alice"
    async with http.post(url, json={"post_limit": 3}, headers=headers) as response:
        body = await response.read()
        assert response.status == 200, body
        assert response.headers["content-type"] == "application/json"
    request = creator_pb2.SearchCreatorRequest(username="alice", post_limit=3)
    assert body == search_json(search_report(request, "user-7"))
    assert recorder.recorder.methods() == ["SearchCreatorJson"]


async def test_the_creators_json_reads_as_the_gateways_transcoding_of_the_same_messages(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys
) -> None:
    # ListPosts is still transcoded by Envoy; its posts are the bulk of a report and have every kind of field.
    headers = {"Authorization": f"Bearer {keys.hs256()}"}
    async with http.get(gateway.base_url + "/api/v1/creator/rich/posts", headers=headers) as response:
        transcoded = await response.json()
        assert response.status == 200, transcoded
    rendered = json.loads(encode(message_json(creator_pb2.ListPostsResponse(posts=rich_posts()))))
    same_json(transcoded, rendered)
    assert "engagement_rate" not in transcoded["posts"][1]  # an unset optional field is absent in both
    assert transcoded["posts"][0]["likes_count"] == "9007199254740993"
