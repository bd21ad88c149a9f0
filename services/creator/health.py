"""SystemService: the health of the database and of every service (short timeouts). GetOpenApi is not implemented
here: the gateway renders the document from the protos and answers GET /api/openapi.json itself.

"creator" is this replica itself: NOT_SERVING while one of its background loops is overdue. "cdn" is the CDN's own
verdict (CdnStatusService.GetHealth, the answer of `/api/v1/cdn/health`), so both endpoints agree. When the overall
status is NOT_SERVING the answer carries `x-http-status: 503`, which the gateway turns into the HTTP status of
`/api/health` (the body stays the same). Details name no host, port or exception class; the log keeps those.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from cdn.v1 import cdn_pb2
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from following.errors import DomainError
from following.healthcheck import check
from following.supervisor import Stall
from services.creator import store
from services.creator.cdn_client import CdnClient, CdnUnavailable
from services.creator.dbguard import DatabaseGuard

log = logging.getLogger(__name__)

SERVING = creator_pb2.HEALTH_STATUS_SERVING
DEGRADED = creator_pb2.HEALTH_STATUS_DEGRADED
NOT_SERVING = creator_pb2.HEALTH_STATUS_NOT_SERVING
#: Response metadata the gateway maps to the HTTP status of `/api/health`.
HTTP_STATUS_HEADER = "x-http-status"
CDN_STATUS = {
    cdn_pb2.COMPONENT_STATUS_OK: SERVING,
    cdn_pb2.COMPONENT_STATUS_DEGRADED: DEGRADED,
    cdn_pb2.COMPONENT_STATUS_DOWN: NOT_SERVING,
}


class ComponentDown(Exception):
    """A probe's answer: the component is not serving; the message is safe to show."""

    def __init__(self, detail: str, status: creator_pb2.HealthStatus = NOT_SERVING) -> None:
        super().__init__(detail)
        self.status = status


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
        cdn: Callable[[], CdnClient | None],
        timeout_s: float,
        stalls: Callable[[], list[Stall]] = list,
    ) -> None:
        self._guard = guard
        self._stalls = stalls
        self._inference_addr = inference_addr
        self._cdn_client = cdn
        self._timeout_s = timeout_s

    async def GetHealth(
        self, request: creator_pb2.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.GetHealthResponse:
        components = list(
            await asyncio.gather(
                self._timed("database", self._database()),
                self._timed("creator", self._background()),
                self._timed("inference", self._service(self._inference_addr)),
                self._timed("cdn", self._cdn()),
            )
        )
        checked = Timestamp()
        checked.GetCurrentTime()
        status = overall(components)
        if status == NOT_SERVING:
            await context.send_initial_metadata(((HTTP_STATUS_HEADER, "503"),))
        return creator_pb2.GetHealthResponse(status=status, components=components, checked_at=checked)

    async def _timed(self, name: str, probe: Awaitable[str]) -> creator_pb2.ComponentHealth:
        started = time.perf_counter()
        status = NOT_SERVING
        try:
            detail = await asyncio.wait_for(probe, timeout=self._timeout_s)
            status = SERVING
        except TimeoutError:
            detail = f"no answer within {self._timeout_s:g} s"
        except ComponentDown as down:
            detail, status = str(down), down.status
        except DomainError as exc:
            detail = exc.message
        except Exception as exc:
            log.warning("health probe failed", extra={"component": name, "error": f"{type(exc).__name__}: {exc}"})
            detail = "check failed"
        latency = (time.perf_counter() - started) * 1000
        return creator_pb2.ComponentHealth(name=name, status=status, detail=detail, latency_ms=latency)

    async def _database(self) -> str:
        guard = self._guard()
        if guard is None:
            raise ComponentDown("not connected")
        async with guard.connection() as conn:
            await store.ping(conn)
        return ""

    async def _background(self) -> str:
        stalls = self._stalls()
        if stalls:
            raise ComponentDown("; ".join(stall.describe() for stall in stalls))
        return ""

    async def _service(self, address: str) -> str:
        status = await check(address, rpc_timeout=self._timeout_s)
        if status != "SERVING":
            raise ComponentDown(status.lower().replace("_", " "))
        return ""

    async def _cdn(self) -> str:
        """The CDN's own health verdict, as `/api/v1/cdn/health` shows it."""
        client = self._cdn_client()
        if client is None:
            raise ComponentDown("not connected")
        try:
            health = await client.health(self._timeout_s)
        except CdnUnavailable as exc:
            log.info("cdn health unanswered", extra={"error": str(exc)})
            raise ComponentDown("unreachable") from None
        status = CDN_STATUS.get(health.status, NOT_SERVING)
        if status != SERVING:
            raise ComponentDown(health.detail or cdn_pb2.ComponentStatus.Name(health.status), status)
        return ""
