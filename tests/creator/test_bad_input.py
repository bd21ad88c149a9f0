"""Crafted client input through the real creator service: page tokens and usernames. Every one is INVALID_ARGUMENT
with a message, never a 5xx (tokens that passed the old decoder failed in PostgreSQL as INTERNAL, and URLs that the
URL parser rejects raised out of the username rules)."""

from __future__ import annotations

import base64
import json

import grpc
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from tests.creator.conftest import StartCreator, user_md


def forge(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


AT = "2026-11-29T10:00:00+00:00"
GOOD_MICROS = 1_795_000_000_000_000
UNLOCKED_TOKENS = [
    forge(["unlocked", AT, 2**70]),  # an id past int64
    forge(["unlocked", AT, -(2**63) - 1]),
    forge(["unlocked", "9999-12-31T23:59:59-14:00", 1]),  # a moment past what datetime holds in UTC
    forge(["unlocked", "0001-01-01T00:00:00+14:00", 1]),
    forge(["unlocked", GOOD_MICROS, 2**64]),
    forge(["unlocked", 10**30, 1]),
    forge(["unlocked", GOOD_MICROS, True]),
    forge(["unlocked", GOOD_MICROS]),
    forge(["posts", GOOD_MICROS, "1"]),
    "%00",
    "\x00",
    "A" * 4000,
]
POST_TOKENS = [
    forge(["posts", AT, "abc\x00def"]),  # NUL: PostgreSQL text cannot hold it
    forge(["posts", AT, "\ud800"]),  # a lone surrogate: not encodable as UTF-8
    forge(["posts", "9999-12-31T23:59:59-14:00", "1"]),
    forge(["posts", GOOD_MICROS, "x" * 10_000]),
    forge(["posts", GOOD_MICROS, 12]),
    forge(["unlocked", GOOD_MICROS, 12]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
]


async def test_crafted_unlocked_list_tokens_are_invalid_arguments(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", user="alice")
    answers = []
    for token in UNLOCKED_TOKENS:
        try:
            await creator.stub.ListUnlocked(
                creator_pb2.ListUnlockedRequest(page_token=token), metadata=user_md("alice"), timeout=5
            )
            answers.append((token, "OK", ""))
        except grpc.aio.AioRpcError as exc:
            answers.append((token, exc.code().name, exc.details() or ""))
    wrong = [(t[:40], code, details) for t, code, details in answers if code != "INVALID_ARGUMENT"]
    assert not wrong, wrong
    assert all(details.startswith("page_token: ") for _, _, details in answers)


async def test_crafted_post_list_tokens_are_invalid_arguments(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    await creator.search("chef.marco", user="alice")
    answers = []
    for token in POST_TOKENS:
        try:
            await creator.stub.ListPosts(
                creator_pb2.ListPostsRequest(username="chef.marco", page_token=token),
                metadata=user_md("alice"),
                timeout=5,
            )
            answers.append((token, "OK", ""))
        except grpc.aio.AioRpcError as exc:
            answers.append((token, exc.code().name, exc.details() or ""))
    wrong = [(t[:40], code, details) for t, code, details in answers if code != "INVALID_ARGUMENT"]
    assert not wrong, wrong
    assert all(details.startswith("page_token: ") for _, _, details in answers)


HOSTILE_USERNAMES = [
    "https://[x]/abc",
    "http://[::1/x",
    "https://www.insta\u2100gram.com/abc",
    "a" * 100_000,
    "https://www.instagram.com/" + "b" * 100_000 + "/",
]


async def test_hostile_and_over_long_usernames_are_invalid_arguments(
    start_creator: StartCreator, upstream: SampleAdmin
) -> None:
    creator = await start_creator()
    codes = []
    for username in HOSTILE_USERNAMES:
        for call in (
            creator.stub.SearchCreator(creator_pb2.SearchCreatorRequest(username=username), metadata=user_md("a")),
            creator.stub.ListPosts(creator_pb2.ListPostsRequest(username=username), metadata=user_md("a")),
            creator.stub.GetHistory(creator_pb2.GetHistoryRequest(username=username), metadata=user_md("a")),
        ):
            try:
                await call
                codes.append((username[:40], "OK"))
            except grpc.aio.AioRpcError as exc:
                codes.append((username[:40], exc.code().name))
    assert {code for _, code in codes} == {"INVALID_ARGUMENT"}, codes
    assert await upstream.requests() == 0
