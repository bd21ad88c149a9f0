"""The web adapter against the sample upstream over real HTTP on loopback: paging, private and empty accounts, and
every failure mode (retries bounded, Retry-After honoured, throttling, 5xx, truncated JSON, timeouts, checkpoint,
circuit breaker closed -> open -> half-open -> closed) plus the request budget hook."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from fakes.instagram.admin import SampleAdmin
from fakes.instagram.server import SampleUpstream
from following.breaker import BreakerState
from services.creator.upstream import (
    CircuitOpen,
    PostType,
    Throttled,
    UpstreamProtocolError,
    UpstreamSettings,
    UpstreamUnavailable,
    UserNotFound,
)
from services.creator.upstream.source import RequestBudget
from services.creator.upstream.web import WebSource

SourceFactory = Callable[..., WebSource]


@pytest.fixture
async def make_source(sample_upstream: SampleUpstream) -> AsyncIterator[SourceFactory]:
    """Web sources aimed at the sample upstream with fast backoff; keyword arguments override settings."""
    opened: list[WebSource] = []
    base = UpstreamSettings(
        source="sample",
        base_url=sample_upstream.url,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        backoff_jitter_s=0.01,
        request_timeout_s=5.0,
        max_retry_after_s=5.0,
        breaker_threshold=50,
        breaker_cooldown_s=0.3,
    )

    def make(budget: RequestBudget | None = None, **overrides: object) -> WebSource:
        source = WebSource(replace(base, **overrides), budget=budget)  # type: ignore[arg-type]
        opened.append(source)
        return source

    yield make
    for source in opened:
        await source.aclose()


async def wait_for_state(source: WebSource, state: BreakerState, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while source.breaker_state is not state:
        assert time.monotonic() < deadline, f"breaker stayed {source.breaker_state} instead of {state}"
        await asyncio.sleep(0.01)


async def wait_for_requests(admin: SampleAdmin, expected: int, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while (seen := await admin.requests()) < expected:
        assert time.monotonic() < deadline, f"upstream saw {seen} requests, expected {expected}"
        await asyncio.sleep(0.01)


async def test_fetch_returns_profile_and_twelve_posts_in_one_request(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    fetch = await make_source().fetch_profile("fit.bayann")
    assert fetch.profile.username == "fit.bayann"
    assert fetch.profile.followers == 1_412_388 and fetch.profile.is_verified
    assert fetch.profile.avatar_url is not None and fetch.profile.avatar_url.endswith("_320x320.jpg")
    assert len(fetch.posts) == 12
    assert fetch.requests_made == 1 and await admin.requests() == 1
    assert fetch.source == "sample"
    assert fetch.posts[0].is_pinned  # Instagram serves pinned posts first


async def test_fetch_pages_by_cursor_up_to_fifty_distinct_posts(make_source: SourceFactory, admin: SampleAdmin) -> None:
    fetch = await make_source().fetch_profile("fit.bayann", post_limit=50)
    ids = [post.instagram_id for post in fetch.posts]
    assert len(ids) == 50 and len(set(ids)) == 50
    unpinned = [post.taken_at for post in fetch.posts if not post.is_pinned]
    assert unpinned == sorted(unpinned, reverse=True)
    stats = await admin.stats()
    assert stats["by_endpoint"] == {"profile": 1, "feed": 2}  # 12 embedded + 33 + 5
    assert any("max_id=" in record["path"] for record in stats["recent"])


async def test_v1_shaped_account_takes_its_posts_from_the_feed(make_source: SourceFactory, admin: SampleAdmin) -> None:
    fetch = await make_source().fetch_profile("wander.lena", post_limit=12)
    assert fetch.profile.followers == 312_775
    assert len(fetch.posts) == 12
    assert (await admin.stats())["by_endpoint"] == {"profile": 1, "feed": 1}


async def test_private_account_is_flagged_with_no_posts_and_no_feed_request(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    fetch = await make_source().fetch_profile("private.pia")
    assert fetch.profile.is_private and fetch.posts == ()
    assert (await admin.stats())["by_endpoint"] == {"profile": 1}


async def test_account_without_posts_answers_empty(make_source: SourceFactory) -> None:
    fetch = await make_source().fetch_profile("empty.eddie")
    assert fetch.posts == () and fetch.profile.posts_count == 0 and fetch.requests_made == 1


async def test_unknown_user_is_not_found_without_retrying(make_source: SourceFactory, admin: SampleAdmin) -> None:
    with pytest.raises(UserNotFound, match=r"no\.such\.creator"):
        await make_source().fetch_profile("no.such.creator")
    assert await admin.requests() == 1


async def test_post_limit_zero_fetches_the_profile_only_and_above_fifty_is_refused(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    source = make_source()
    fetch = await source.fetch_profile("fit.bayann", post_limit=0)
    assert fetch.posts == () and await admin.requests() == 1
    with pytest.raises(ValueError, match="between 0 and 50"):
        await source.fetch_profile("fit.bayann", post_limit=51)


async def test_429_without_retry_after_is_retried_then_succeeds(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("429", count=2)
    fetch = await make_source(max_attempts=3).fetch_profile("chef.marco")
    assert fetch.profile.username == "chef.marco"
    assert fetch.requests_made == 3 and await admin.requests("profile") == 3


async def test_persistent_429_gives_up_after_max_attempts_with_a_retry_hint(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    await admin.add_fault("429")
    with pytest.raises(Throttled) as caught:
        await make_source(max_attempts=3, breaker_cooldown_s=45.0).fetch_profile("chef.marco")
    assert caught.value.retry_after_seconds == 45.0
    assert "429" in caught.value.reason
    assert await admin.requests() == 3


async def test_retry_after_is_honoured_before_the_next_attempt(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("429", retry_after=1, count=1)
    await make_source().fetch_profile("chef.marco")
    first, second = (record["time"] for record in (await admin.stats())["recent"])
    assert second - first >= 0.95  # backoff alone would wait ~0.01 s


async def test_retry_after_longer_than_allowed_fails_at_once_with_that_hint(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    await admin.add_fault("429", retry_after=120)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        await make_source(max_retry_after_s=5.0).fetch_profile("chef.marco")
    assert caught.value.retry_after_seconds == 120
    assert time.monotonic() - started < 2.0
    assert await admin.requests() == 1


async def test_401_please_wait_is_throttling(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("401-wait")
    with pytest.raises(Throttled, match="Please wait a few minutes"):
        await make_source(max_attempts=2).fetch_profile("chef.marco")
    assert await admin.requests() == 2


async def test_redirect_to_login_page_is_throttling_and_not_followed(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    await admin.add_fault("login-redirect")
    with pytest.raises(Throttled, match="login"):
        await make_source(max_attempts=2).fetch_profile("chef.marco")
    assert (await admin.stats())["by_endpoint"] == {"profile": 2}  # the login page itself was never fetched


async def test_login_wall_served_as_html_is_throttling(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("login-page")
    with pytest.raises(Throttled, match="login page"):
        await make_source(max_attempts=2).fetch_profile("chef.marco")
    assert await admin.requests() == 2


async def test_5xx_is_retried_then_unavailable(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("5xx", status=502)
    with pytest.raises(UpstreamUnavailable, match="502"):
        await make_source(max_attempts=3).fetch_profile("chef.marco")
    assert await admin.requests() == 3


async def test_one_5xx_is_absorbed_by_a_retry(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("5xx", count=1)
    fetch = await make_source().fetch_profile("chef.marco")
    assert fetch.requests_made == 2


async def test_truncated_json_is_retried_then_a_protocol_error(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("truncated")
    with pytest.raises(UpstreamProtocolError, match="truncated"):
        await make_source(max_attempts=2).fetch_profile("chef.marco")
    assert await admin.requests() == 2


async def test_truncated_feed_page_once_is_absorbed(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("truncated", match="/api/v1/feed/", count=1)
    fetch = await make_source().fetch_profile("wander.lena", post_limit=20)
    assert len(fetch.posts) == 20
    assert (await admin.stats())["by_endpoint"] == {"profile": 1, "feed": 2}


async def test_slow_upstream_times_out_on_every_attempt(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("slow", delay_ms=3000)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match=r"did not answer within 0\.2 s"):
        await make_source(request_timeout_s=0.2, max_attempts=2).fetch_profile("chef.marco")
    assert time.monotonic() - started < 2.0
    await wait_for_requests(admin, 2)


async def test_checkpoint_opens_the_breaker_at_once(make_source: SourceFactory, admin: SampleAdmin) -> None:
    await admin.add_fault("checkpoint", count=1)
    source = make_source(breaker_cooldown_s=30.0)
    with pytest.raises(UpstreamUnavailable, match="checkpoint_required"):
        await source.fetch_profile("chef.marco")
    assert source.breaker_state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await source.fetch_profile("chef.marco")
    assert await admin.requests() == 1


async def test_breaker_opens_fails_fast_half_opens_and_closes(make_source: SourceFactory, admin: SampleAdmin) -> None:
    source = make_source(breaker_threshold=3, breaker_cooldown_s=0.3, max_attempts=3)
    await admin.add_fault("5xx")
    with pytest.raises(UpstreamUnavailable):
        await source.fetch_profile("chef.marco")
    assert source.breaker_state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await source.fetch_profile("chef.marco")
    assert caught.value.retry_after_seconds is not None
    assert await admin.requests() == 3  # the open breaker sent nothing

    await wait_for_state(source, BreakerState.HALF_OPEN)
    with pytest.raises(CircuitOpen):  # the half-open trial fails: open again, no retries behind it
        await source.fetch_profile("chef.marco")
    assert await admin.requests() == 4
    assert source.breaker_state is BreakerState.OPEN

    await admin.clear_faults()
    await wait_for_state(source, BreakerState.HALF_OPEN)
    fetch = await source.fetch_profile("chef.marco")
    assert fetch.requests_made == 1
    assert source.breaker_state is BreakerState.CLOSED


class CountingBudget:
    """A request budget that allows `allow` requests, then refuses with a 42 s hint."""

    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.calls = 0

    async def acquire(self) -> None:
        self.calls += 1
        if self.calls > self.allow:
            raise Throttled(42.0, "request budget for the sample source is spent")


async def test_budget_is_acquired_before_every_request_including_retries(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    await admin.add_fault("429", count=2)
    budget = CountingBudget(allow=10)
    await make_source(budget=budget).fetch_profile("wander.lena")
    assert budget.calls == await admin.requests() == 4  # profile x3, then one feed page


async def test_spent_budget_stops_the_fetch_without_touching_upstream_or_breaker(
    make_source: SourceFactory, admin: SampleAdmin
) -> None:
    budget = CountingBudget(allow=0)
    source = make_source(budget=budget, breaker_threshold=1)
    with pytest.raises(Throttled) as caught:
        await source.fetch_profile("chef.marco")
    assert caught.value.retry_after_seconds == 42.0
    assert await admin.requests() == 0
    assert source.breaker_state is BreakerState.CLOSED


async def test_configured_headers_reach_the_upstream(make_source: SourceFactory, admin: SampleAdmin) -> None:
    # The sample upstream obeys a per-request fault header: seeing the fault proves the extra header was sent.
    source = make_source(extra_headers={"X-Sample-Fault": "5xx;status=504"}, max_attempts=2)
    with pytest.raises(UpstreamUnavailable, match="504"):
        await source.fetch_profile("chef.marco")
    assert (await admin.stats())["faults_served"] == 2


async def test_concurrent_fetches_share_one_source(make_source: SourceFactory, admin: SampleAdmin) -> None:
    source = make_source()
    names = ["fit.bayann", "chef.marco", "wander.lena", "techwithtariq", "glow.yuna", "cocina.sofia"] * 3
    fetches = await asyncio.gather(*(source.fetch_profile(name) for name in names))
    assert [fetch.profile.username for fetch in fetches] == names
    assert all(len(fetch.posts) == 12 for fetch in fetches)
    kinds = {post.type for fetch in fetches for post in fetch.posts}
    assert kinds == {PostType.IMAGE, PostType.VIDEO, PostType.CAROUSEL, PostType.REEL}


async def test_requests_go_through_the_configured_proxy(
    make_source: SourceFactory, admin: SampleAdmin, sample_upstream: SampleUpstream
) -> None:
    seen: list[str] = []

    async def forward(request: web.Request) -> web.Response:
        # An HTTP forward proxy receives absolute-form targets ("GET http://host/path HTTP/1.1").
        seen.append(f"{request.method} {request.url}")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "proxy-connection")}
        async with aiohttp.ClientSession() as http, http.get(request.url, headers=headers) as answer:
            body = await answer.read()
            return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    runner = web.AppRunner(web.Application(), handle_signals=False)
    runner.app.router.add_route("GET", "/{tail:.*}", forward)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        fetch = await make_source(proxy_url=f"http://{host}:{port}").fetch_profile("wander.lena")
    finally:
        await runner.cleanup()
    assert len(fetch.posts) == 12
    assert len(seen) == 2 and all(line.startswith(f"GET {sample_upstream.url}/api/v1/") for line in seen)
    assert await admin.requests() == 2
