"""Misbehaviour on demand: global rules through the admin endpoint (count, probability, match, scope), one-shot
faults per request (header or query), the answers each mode gives, and the request counters."""

from __future__ import annotations

import json

import aiohttp
import pytest

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.server import SampleUpstream

PROFILE = "/api/v1/users/web_profile_info/?username="


async def get(http: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, dict[str, str], bytes]:
    async with http.get(url, allow_redirects=False, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, dict(response.headers), await response.read()


async def test_count_limits_a_rule_to_that_many_answers(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("5xx", status=502, count=2)
    statuses = [(await get(http, upstream.url + PROFILE + "chef.marco"))[0] for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert await admin.faults() == []  # a spent rule is removed


async def test_429_carries_retry_after_only_when_asked(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("429", retry_after=7, count=1)
    await admin.add_fault("429", count=1)
    status, headers, body = await get(http, upstream.url + PROFILE + "chef.marco")
    assert status == 429 and headers["Retry-After"] == "7"
    assert json.loads(body)["message"].startswith("Please wait a few minutes")
    status, headers, _ = await get(http, upstream.url + PROFILE + "chef.marco")
    assert status == 429 and "Retry-After" not in headers


async def test_match_restricts_a_rule_to_one_username(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("401-wait", match="username=chef.marco")
    assert (await get(http, upstream.url + PROFILE + "chef.marco"))[0] == 401
    assert (await get(http, upstream.url + PROFILE + "wander.lena"))[0] == 200


async def test_scope_separates_api_from_media(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("5xx", scope="media")
    assert (await get(http, upstream.url + PROFILE + "chef.marco"))[0] == 200
    assert (await get(http, upstream.url + "/media/chef.marco/avatar_150x150.jpg"))[0] == 503


async def test_probability_spoils_about_that_share_of_answers(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("5xx", probability=0.5)
    statuses = [(await get(http, upstream.url + PROFILE + "empty.eddie"))[0] for _ in range(100)]
    assert 25 <= statuses.count(503) <= 75
    assert set(statuses) == {200, 503}


async def test_login_redirect_points_at_the_login_page(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("login-redirect", count=1)
    status, headers, _ = await get(http, upstream.url + PROFILE + "chef.marco")
    assert status == 302
    assert headers["Location"].startswith(upstream.url + "/accounts/login/?next=")
    status, headers, body = await get(http, headers["Location"])
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"Log in" in body


async def test_truncated_answer_is_the_real_json_cut_short(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    _, _, whole = await get(http, upstream.url + PROFILE + "chef.marco")
    await admin.add_fault("truncated", count=1)
    status, _, cut = await get(http, upstream.url + PROFILE + "chef.marco")
    assert status == 200 and whole.startswith(cut) and len(cut) == len(whole) // 2
    with pytest.raises(ValueError):
        json.loads(cut)


async def test_checkpoint_answers_400_checkpoint_required(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await admin.add_fault("checkpoint", count=1)
    status, _, body = await get(http, upstream.url + PROFILE + "chef.marco")
    assert status == 400 and json.loads(body)["message"] == "checkpoint_required"


async def test_one_request_can_ask_for_a_fault_by_header_or_query(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    status, headers, _ = await get(
        http, upstream.url + PROFILE + "chef.marco", headers={"X-Sample-Fault": "429;retry_after=3"}
    )
    assert status == 429 and headers["Retry-After"] == "3"
    status, _, _ = await get(http, upstream.url + PROFILE + "chef.marco&__fault=5xx;status=500")
    assert status == 500
    assert (await get(http, upstream.url + PROFILE + "chef.marco"))[0] == 200  # nothing global was left behind
    status, _, body = await get(http, upstream.url + PROFILE + "chef.marco", headers={"X-Sample-Fault": "melt"})
    assert status == 400 and b"mode must be one of" in body


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"mode": "explode"}, "mode must be one of"),
        ({"mode": "429", "count": 0}, "count must be a positive integer"),
        ({"mode": "5xx", "status": 404}, "status must be a 5xx code"),
        ({"mode": "slow", "delay_ms": -1}, "delay_ms"),
        ({"mode": "429", "probability": 1.5}, "probability"),
        ({"mode": "429", "when": "now"}, "unknown fault fields"),
    ],
)
async def test_invalid_rules_are_refused_with_the_reason(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession, rule: dict[str, object], complaint: str
) -> None:
    async with http.post(upstream.url + "/__admin/faults", json=rule) as response:
        assert response.status == 400
        assert complaint in (await response.json())["error"]
    assert await admin.faults() == []


async def test_stats_count_requests_by_endpoint_but_not_admin_calls(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    await get(http, upstream.url + PROFILE + "wander.lena")
    await get(http, upstream.url + PROFILE + "nobody.here.at.all")
    await get(http, upstream.url + "/media/wander.lena/avatar_150x150.jpg")
    await admin.faults()
    stats = await admin.stats()
    assert stats["requests_total"] == 3
    assert stats["by_endpoint"] == {"profile": 2, "media": 1}
    assert stats["by_status"] == {"200": 2, "404": 1}
    await admin.reset_stats()
    assert await admin.requests() == 0


async def test_feed_refuses_private_accounts_bad_cursors_and_unknown_ids(
    upstream: SampleUpstream, admin: SampleAdmin, http: aiohttp.ClientSession
) -> None:
    _, _, body = await get(http, upstream.url + PROFILE + "private.pia")
    private_id = json.loads(body)["data"]["user"]["id"]
    status, _, body = await get(http, f"{upstream.url}/api/v1/feed/user/{private_id}/")
    assert status == 400 and b"Not authorized" in body
    _, _, body = await get(http, upstream.url + PROFILE + "wander.lena")
    lena_id = json.loads(body)["data"]["user"]["pk"]
    assert (await get(http, f"{upstream.url}/api/v1/feed/user/{lena_id}/?max_id=123_456"))[0] == 400
    assert (await get(http, f"{upstream.url}/api/v1/feed/user/1/"))[0] == 404
    assert (await get(http, upstream.url + PROFILE))[0] == 400
