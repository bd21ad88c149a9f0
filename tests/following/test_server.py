"""The gRPC bootstrap: health, identity from metadata, error mapping, settings errors and graceful shutdown."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from following.healthcheck import check
from following.settings import EnvReader, RuntimeSettings, SettingsError
from tests.conftest import TestDatabase
from tests.processes import ROOT, ServiceProcess

HERE = Path(__file__).parent


@pytest.fixture
async def probe(database: TestDatabase, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(
        "tests.following.probe_service",
        {
            "DATABASE_URL": database.dsn_for("creator"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("creator"),
            "PROBE_MIGRATIONS_DIR": str(HERE / "migrations_ok"),
        },
        tmp_path / "probe.log",
    )
    await service.start_serving()
    yield service
    service.kill()


async def call(address: str, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
    async with grpc.aio.insecure_channel(address) as channel:
        result: bytes = await channel.unary_unary("/probe.Probe/Call")(payload, metadata=metadata, timeout=5)
        return result


async def test_service_reports_serving_after_migrating(probe: ServiceProcess) -> None:
    assert await check(probe.address) == "SERVING"
    assert await check(probe.address, "probe.Probe") == "SERVING"


async def test_caller_identity_comes_from_the_x_user_id_metadata(probe: ServiceProcess) -> None:
    assert await call(probe.address, b"user", (("x-user-id", "user-123"),)) == b"user-123"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(probe.address, b"user")
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_domain_errors_map_to_status_codes_and_crashes_to_internal(probe: ServiceProcess) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(probe.address, b"invalid")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "username: must be 1-30 characters"
    with pytest.raises(grpc.aio.AioRpcError) as crash:
        await call(probe.address, b"crash", (("x-request-id", "req-42"),))
    assert crash.value.code() == grpc.StatusCode.INTERNAL
    assert "req-42" in (crash.value.details() or "")
    assert "boom" not in (crash.value.details() or "")
    assert '"request_id": "req-42"' in probe.log_tail()


async def test_a_transaction_the_database_rolled_back_on_a_conflict_is_unavailable_with_a_retry_not_internal(
    probe: ServiceProcess,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(probe.address, b"conflict")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == "the database rolled back a conflicting write; retry"
    infos, delays, trailing = _details(info.value)
    assert [i.reason for i in infos] == ["SERVICE_UNAVAILABLE"]
    assert delays == [1] and trailing["retry-after"] == "1"
    assert "database rolled back a conflicting transaction" in probe.log_tail()


def _details(error: grpc.aio.AioRpcError) -> tuple[list[error_details_pb2.ErrorInfo], list[int], dict[str, str]]:
    """The ErrorInfos and RetryInfo delays of `grpc-status-details-bin`, and the other trailing metadata."""
    trailing = {key: value for key, value in error.trailing_metadata() or () if isinstance(value, str)}
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    infos, delays = [], []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delays.append(retry.retry_delay.seconds)
    return infos, delays, trailing


async def test_domain_errors_carry_a_stable_reason_and_a_retry_delay_when_retrying_helps(
    probe: ServiceProcess,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await call(probe.address, b"invalid")
    infos, delays, trailing = _details(invalid.value)
    assert [(i.reason, i.domain) for i in infos] == [("INVALID_ARGUMENT", "following")]
    assert delays == [] and "retry-after" not in trailing
    with pytest.raises(grpc.aio.AioRpcError) as throttled:
        await call(probe.address, b"throttled")
    assert throttled.value.code() == grpc.StatusCode.UNAVAILABLE
    infos, delays, trailing = _details(throttled.value)
    assert [i.reason for i in infos] == ["UPSTREAM_THROTTLED"]
    assert delays == [7] and trailing["retry-after"] == "7"
    with pytest.raises(grpc.aio.AioRpcError) as crash:
        await call(probe.address, b"crash")
    assert [i.reason for i in _details(crash.value)[0]] == ["INTERNAL"]


async def test_sigterm_finishes_in_flight_calls_then_exits_zero(probe: ServiceProcess) -> None:
    in_flight = asyncio.create_task(call(probe.address, b"slow"))
    await asyncio.sleep(0.1)  # let the call reach the server before the signal
    code = await asyncio.to_thread(probe.terminate)
    assert await in_flight == b"done"
    assert code == 0


def test_settings_errors_name_every_bad_variable() -> None:
    env = EnvReader({"GRPC_LISTEN": "nowhere", "DB_POOL_MAX": "many", "LOG_LEVEL": "LOUD"})
    RuntimeSettings.read("creator", env, default_grpc_port=50051)
    with pytest.raises(SettingsError) as info:
        env.check()
    message = str(info.value)
    for name in ("GRPC_LISTEN", "DB_POOL_MAX", "LOG_LEVEL", "DATABASE_URL"):
        assert name in message


def test_a_service_with_bad_settings_exits_2_with_the_variable_name() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.following.probe_service"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GRPC_LISTEN": "nowhere", "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "GRPC_LISTEN" in result.stderr
