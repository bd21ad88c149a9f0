"""SystemService: the health of the database and of every service (grpc.health.v1, short timeouts). GetOpenApi is not
implemented here: the gateway renders the document from the protos and answers GET /api/openapi.json itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from following.healthcheck import check
from services.creator.dbguard import DatabaseGuard

SERVING = creator_pb2.HEALTH_STATUS_SERVING
DEGRADED = creator_pb2.HEALTH_STATUS_DEGRADED
NOT_SERVING = creator_pb2.HEALTH_STATUS_NOT_SERVING


def overall(components: list[creator_pb2.ComponentHealth]) -> creator_pb2.HealthStatus:
    """NOT_SERVING when the creator service or its database is down; DEGRADED when another component is."""
    down = {c.name for c in components if c.status != SERVING}
    if down & {"database", "creator"}:
        return NOT_SERVING
    return DEGRADED if down else SERVING


class SystemServicer(creator_pb2_grpc.SystemServiceServicer):
    def __init__(
        self,
        guard: Callable[[], DatabaseGuard | None],
        inference_addr: str,
        cdn_addr: str,
        timeout_s: float,
    ) -> None:
        self._guard = guard
        self._inference_addr = inference_addr
        self._cdn_addr = cdn_addr
        self._timeout_s = timeout_s

    async def GetHealth(
        self, request: creator_pb2.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.GetHealthResponse:
        components = list(
            await asyncio.gather(
                self._timed("database", self._database()),
                self._timed("creator", _serving()),
                self._timed("inference", self._service(self._inference_addr)),
                self._timed("cdn", self._service(self._cdn_addr)),
            )
        )
        checked = Timestamp()
        checked.GetCurrentTime()
        return creator_pb2.GetHealthResponse(status=overall(components), components=components, checked_at=checked)

    async def _timed(self, name: str, probe: Awaitable[str]) -> creator_pb2.ComponentHealth:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(probe, timeout=self._timeout_s)
        except TimeoutError:
            detail = f"no answer within {self._timeout_s:g} s"
        except Exception as exc:
            detail = f"{exc.__class__.__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        status = SERVING if not detail else NOT_SERVING
        return creator_pb2.ComponentHealth(name=name, status=status, detail=detail, latency_ms=latency)

    async def _database(self) -> str:
        guard = self._guard()
        if guard is None:
            return "not connected"
        async with guard.connection() as conn:
            await conn.fetchval("SELECT 1")
        return ""

    async def _service(self, address: str) -> str:
        status = await check(address, rpc_timeout=self._timeout_s)
        return "" if status == "SERVING" else f"{address} is {status}"


async def _serving() -> str:
    return ""
