"""The RPC metrics of the shared interceptor: grpc-ecosystem label names and values, and the in-flight gauge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import REGISTRY

from following.errors import ResourceExhausted
from following.interceptors import CallInterceptor, Readiness

SERVICE = "metrics.v1.MetricsProbe"
LABELS = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "Call"}


class Probe:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def call(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"full":
            raise ResourceExhausted("queue full")
        if request == b"wait":
            self.entered.set()
            await self.release.wait()
        return b"ok"


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Probe]]:
    probe = Probe()
    readiness = Readiness()
    readiness.ready = True
    server = grpc.aio.server(interceptors=[CallInterceptor("probe", readiness)])
    handler = grpc.unary_unary_rpc_method_handler(probe.call)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Call": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", probe
    await server.stop(None)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {**LABELS, **labels}) or 0.0


async def test_handled_calls_are_counted_by_grpc_service_method_and_code(served: tuple[str, Probe]) -> None:
    address, _ = served
    ok, full = (
        sample("grpc_server_handled_total", grpc_code="OK"),
        sample("grpc_server_handled_total", grpc_code="RESOURCE_EXHAUSTED"),
    )
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Call")
        assert await call(b"fine", timeout=5) == b"ok"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(b"full", timeout=5)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sample("grpc_server_handled_total", grpc_code="OK") == ok + 1
    assert sample("grpc_server_handled_total", grpc_code="RESOURCE_EXHAUSTED") == full + 1
    assert sample("grpc_server_handling_seconds_count") >= 2
    # The old labels are gone: `service` would collide with the scrape's target label.
    assert (
        REGISTRY.get_sample_value("grpc_server_handled_total", {"service": "probe", "method": "Call", "code": "OK"})
        is None
    )


async def test_in_flight_gauge_counts_calls_until_they_are_answered(served: tuple[str, Probe]) -> None:
    address, probe = served
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Call")(b"wait", timeout=5)
        await asyncio.wait_for(probe.entered.wait(), 5)
        assert sample("grpc_server_in_flight_requests") == 1
        probe.release.set()
        assert await call == b"ok"
    assert sample("grpc_server_in_flight_requests") == 0
