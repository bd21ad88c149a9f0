"""SystemService: health of the database and every service, and the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from creator.v1 import creator_pb2

from following.healthcheck import check
from scripts.pgcluster import free_port
from tests.creator.conftest import StartCdn, StartCreator, eventually


async def test_health_is_serving_when_every_component_answers(start_creator: StartCreator, start_cdn: StartCdn) -> None:
    cdn = await start_cdn()
    creator = await start_creator(CDN_ADDR=cdn.address)
    health = await creator.system.GetHealth(creator_pb2.GetHealthRequest(), timeout=5)
    assert health.status == creator_pb2.HEALTH_STATUS_SERVING
    assert {c.name: c.status for c in health.components} == {
        "database": creator_pb2.HEALTH_STATUS_SERVING,
        "creator": creator_pb2.HEALTH_STATUS_SERVING,
        "inference": creator_pb2.HEALTH_STATUS_SERVING,
        "cdn": creator_pb2.HEALTH_STATUS_SERVING,
    }
    assert all(c.latency_ms >= 0 for c in health.components)
    assert health.checked_at.seconds > 0


async def test_health_is_degraded_when_inference_or_cdn_is_down(start_creator: StartCreator) -> None:
    creator = await start_creator(INFERENCE_ADDR=f"127.0.0.1:{free_port()}", CREATOR_HEALTH_TIMEOUT_S="0.3")
    health = await creator.system.GetHealth(creator_pb2.GetHealthRequest(), timeout=5)
    assert health.status == creator_pb2.HEALTH_STATUS_DEGRADED
    by_name = {c.name: c for c in health.components}
    assert by_name["inference"].status == creator_pb2.HEALTH_STATUS_NOT_SERVING and by_name["inference"].detail
    assert by_name["cdn"].status == creator_pb2.HEALTH_STATUS_NOT_SERVING
    assert by_name["database"].status == creator_pb2.HEALTH_STATUS_SERVING


def test_the_creator_service_does_not_load_the_gateway_package() -> None:
    """The creator image ships no services/gateway: no module of the service may name it, even through importlib."""
    creator = Path(__file__).resolve().parents[2] / "services" / "creator"
    naming = [str(p) for p in creator.rglob("*.py") if "services.gateway" in p.read_text()]
    assert naming == []


async def test_a_background_loop_stuck_past_its_deadline_shows_in_health_until_it_moves_again(
    start_creator: StartCreator,
) -> None:
    creator = await start_creator(BACKGROUND_DEADLINE_SECONDS="0.5")
    relay = creator.app.relay
    assert relay is not None
    release = asyncio.Event()

    async def hanging_pass() -> int:
        await release.wait()
        return 0

    relay.run_once = hanging_pass  # type: ignore[method-assign]

    async def creator_component() -> creator_pb2.ComponentHealth:
        health = await creator.system.GetHealth(creator_pb2.GetHealthRequest(), timeout=5)
        return next(c for c in health.components if c.name == "creator")

    try:
        await eventually(
            lambda: _is(creator_component(), creator_pb2.HEALTH_STATUS_NOT_SERVING), 10, "the stall in /api/health"
        )
        component = await creator_component()
        assert "outbox-relay has not completed an iteration" in component.detail
        await eventually(lambda: _reports(creator.runner.address, "NOT_SERVING"), 5, "grpc.health NOT_SERVING")
    finally:
        release.set()
    await eventually(lambda: _is(creator_component(), creator_pb2.HEALTH_STATUS_SERVING), 10, "the loop moving again")
    await eventually(lambda: _reports(creator.runner.address, "SERVING"), 5, "grpc.health SERVING again")


async def _reports(address: str, status: str) -> bool:
    return await check(address) == status


async def _is(component: Awaitable[creator_pb2.ComponentHealth], status: creator_pb2.HealthStatus) -> bool:
    return (await component).status == status
