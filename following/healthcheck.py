"""Client side of grpc.health.v1: ask a service whether it is SERVING, or wait until it is."""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def check(address: str, service: str = "", rpc_timeout: float = 1.0) -> str:
    """Returns the serving status name ("SERVING", "NOT_SERVING", ...) or "UNREACHABLE"."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=rpc_timeout)
        except grpc.aio.AioRpcError:
            return "UNREACHABLE"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def wait_serving(address: str, deadline_s: float = 60.0, service: str = "") -> None:
    """Polls until SERVING; raises TimeoutError with the last status after `deadline_s`."""
    end = time.monotonic() + deadline_s
    status = "UNREACHABLE"
    while time.monotonic() < end:
        status = await check(address, service)
        if status == "SERVING":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{address} not SERVING after {deadline_s:.0f} s (last status: {status})")
