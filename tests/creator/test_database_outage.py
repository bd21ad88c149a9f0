"""PostgreSQL down: searches answer UNAVAILABLE within milliseconds (circuit breaker), health says NOT_SERVING, and
everything recovers by itself once the database is back. Stops and restarts the session's cluster."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from creator.v1 import creator_pb2

from fakes.instagram.admin import SampleAdmin
from scripts.pgcluster import PgCluster
from tests.creator.conftest import StartCreator, eventually


async def test_searches_fail_fast_while_postgresql_is_down_and_recover_when_it_is_back(
    start_creator: StartCreator, upstream: SampleAdmin, pg_cluster: PgCluster
) -> None:
    creator = await start_creator(CREATOR_DB_BREAKER_COOLDOWN_S="0.5", CREATOR_DB_BREAKER_THRESHOLD="2")
    await creator.search("fit.bayann")
    await asyncio.to_thread(pg_cluster.stop, "fast")
    try:
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await creator.search("fit.bayann")
            latencies.append(time.perf_counter() - started)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "database unavailable" in (info.value.details() or "")
        assert sorted(latencies)[len(latencies) // 2] < 0.02, latencies
        assert max(latencies) < 0.5, latencies
        health = await creator.system.GetHealth(creator_pb2.GetHealthRequest(), timeout=5)
        assert health.status == creator_pb2.HEALTH_STATUS_NOT_SERVING
        database = next(c for c in health.components if c.name == "database")
        assert database.status == creator_pb2.HEALTH_STATUS_NOT_SERVING and database.detail
    finally:
        await asyncio.to_thread(pg_cluster.start)

    async def searchable() -> bool:
        try:
            report = await creator.search("fit.bayann")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE
            return False
        return report.freshness.from_cache

    await eventually(searchable, deadline_s=15, what="searches working again")
    assert creator.app.guard is not None and creator.app.guard.state.value == "closed"


async def test_outage_answers_name_no_host_port_or_exception_class(
    start_creator: StartCreator, upstream: SampleAdmin, pg_cluster: PgCluster
) -> None:
    creator = await start_creator(CREATOR_DB_BREAKER_COOLDOWN_S="0.5", CREATOR_DB_BREAKER_THRESHOLD="2")
    await creator.search("fit.bayann")
    await asyncio.to_thread(pg_cluster.stop, "fast")
    try:
        shown = []
        for _ in range(5):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await creator.search("fit.bayann")
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert dict(info.value.trailing_metadata() or ()).get("retry-after")
            shown.append(info.value.details() or "")
        health = await creator.system.GetHealth(creator_pb2.GetHealthRequest(), timeout=5)
        shown.extend(c.detail for c in health.components)
    finally:
        await asyncio.to_thread(pg_cluster.start)
    for text in shown:
        assert str(pg_cluster.port) not in text and "127.0.0.1" not in text, text
        assert "Error" not in text and "Exception" not in text, text
