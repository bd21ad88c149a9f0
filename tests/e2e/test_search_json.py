"""The REST search through Envoy (SearchCreatorJson, rendered by the creator and passed through) answers the report
that native gRPC through the same Envoy (SearchCreator) answers."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.protobuf import json_format

from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually

pytestmark = pytest.mark.slow


def but_for_age(report: creator_pb2.CreatorReport) -> creator_pb2.CreatorReport:
    copy = creator_pb2.CreatorReport()
    copy.CopyFrom(report)
    copy.freshness.ClearField("age_seconds")
    return copy


def test_the_rest_search_answers_the_report_native_grpc_answers(e2e: E2E) -> None:
    token = e2e.token("judy")
    e2e.client("judy").search("chef.marco")  # stored and unlocked: both calls below answer from the store
    url = f"{e2e.gateway}/api/v1/creator/search/chef.marco"
    channel = grpc.insecure_channel(e2e.stack.values["GATEWAY_LISTEN"])
    stub = creator_pb2_grpc.CreatorServiceStub(channel)

    def both() -> tuple[creator_pb2.CreatorReport, creator_pb2.CreatorReport, str]:
        request = urllib.request.Request(url, data=b"{}", method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as reply:
            content_type = reply.headers["content-type"]
            rest = json_format.Parse(reply.read(), creator_pb2.CreatorReport())
        native = stub.SearchCreator(
            creator_pb2.SearchCreatorRequest(username="chef.marco"),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=30,
        )
        return but_for_age(rest), but_for_age(native), content_type

    try:
        # Images mirrored between the two calls re-render the stored report: poll until both read one version.
        rest, _, content_type = eventually(both, lambda pair: pair[0] == pair[1], 60, "equal answers")
    finally:
        channel.close()
    assert content_type == "application/json"
    assert rest.freshness.from_cache and rest.profile.username == "chef.marco" and len(rest.recent_posts) == 12
