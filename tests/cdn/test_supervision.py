"""The claimer runs under the supervisor: an unexpected error from the driver does not stop claiming for good, a claim
that hangs past the deadline turns grpc.health NOT_SERVING, and every loop's last success is a Prometheus gauge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from asyncpg.exceptions import InternalClientError
from cdn.v1 import cdn_pb2
from prometheus_client import REGISTRY

from following.healthcheck import check
from services.cdn.jobs import ClaimedJob
from services.cdn.server import CdnApp
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, StartCdn, cdn_stub, wait_for_states

DONE = cdn_pb2.JOB_STATE_DONE
AVATAR = cdn_pb2.ASSET_KIND_AVATAR
Claim = Callable[..., Coroutine[Any, Any, list[ClaimedJob]]]


async def until(condition: Callable[[], Awaitable[bool]], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not await condition():
        if time.monotonic() > end:
            raise AssertionError(f"not {what} within {deadline_s} s")
        await asyncio.sleep(0.05)


def failing_once(claim: Claim, calls: list[float]) -> Claim:
    async def claim_or_fail(*args: Any) -> list[ClaimedJob]:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise InternalClientError("cannot switch to state 12; another operation (2) is in progress")
        return await claim(*args)

    return claim_or_fail


async def test_claiming_goes_on_after_an_unexpected_driver_error(
    start_cdn: StartCdn, image_server: ImageServer
) -> None:
    runner = await start_cdn()
    assert isinstance(runner.app, CdnApp)
    calls: list[float] = []
    runner.app.store.claim = failing_once(runner.app.store.claim, calls)  # type: ignore[method-assign,assignment]

    async def failed_once() -> bool:
        return len(calls) >= 1

    await until(failed_once, 5, "a claim attempted")
    image_server.routes["/after.jpg"] = Route(images.jpeg(64, 64, (0, 0, 200)))
    url = image_server.url("/after.jpg")
    channel, cdn, _ = cdn_stub(runner.address)
    async with channel:
        await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=AVATAR)]))
        await wait_for_states(cdn, [url], {DONE}, deadline_s=10)
    assert await check(runner.address) == "SERVING"


async def test_a_claimer_stuck_past_its_deadline_turns_health_not_serving_until_it_moves_again(
    start_cdn: StartCdn,
) -> None:
    runner = await start_cdn(BACKGROUND_DEADLINE_SECONDS="0.5")
    assert isinstance(runner.app, CdnApp)
    release = asyncio.Event()
    real_claim = runner.app.store.claim

    async def hanging_claim(*args: Any) -> list[ClaimedJob]:
        await release.wait()
        return await real_claim(*args)

    runner.app.store.claim = hanging_claim  # type: ignore[method-assign,assignment]

    async def status_is(expected: str) -> bool:
        return await check(runner.address) == expected

    try:
        await until(lambda: status_is("NOT_SERVING"), 10, "NOT_SERVING while the claimer hangs")
    finally:
        release.set()  # a failed check must not leave the claimer hanging through the service's stop
    await until(lambda: status_is("SERVING"), 10, "SERVING once the claimer completes an iteration")


async def test_each_loop_exports_the_time_of_its_last_completed_iteration(start_cdn: StartCdn) -> None:
    started = time.time()
    await start_cdn()

    async def recent() -> bool:
        values = [
            REGISTRY.get_sample_value("following_background_last_success_timestamp_seconds", {"loop": loop})
            for loop in ("cdn-claimer", "cdn-heartbeat", "cdn-scheduler", "cdn-rescuer", "cdn-retention", "cdn-gauges")
        ]
        return all(value is not None and value >= started for value in values)

    await until(recent, 5, "every loop's last success exported")
