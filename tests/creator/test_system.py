"""SystemService: health of the database and every service, and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from creator.v1 import creator_pb2

from scripts.pgcluster import free_port
from tests.creator.conftest import StartCdn, StartCreator


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
