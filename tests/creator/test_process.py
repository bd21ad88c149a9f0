"""The entry point `python -m services.creator.server` as a real process: serves a search, exits 0 on SIGTERM, and
refuses to start (exit 2) with a message naming a bad variable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc

from tests.conftest import TestDatabase
from tests.processes import ROOT, ServiceProcess


async def test_the_service_process_searches_and_stops_cleanly_on_sigterm(
    database: TestDatabase, upstream_url: str, inference_addr: str, tmp_path: Path
) -> None:
    service = ServiceProcess(
        "services.creator.server",
        {
            "DATABASE_URL": database.dsn_for("creator"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("creator"),
            "INSTAGRAM_SOURCE": "sample",
            "INSTAGRAM_BASE_URL": upstream_url,
            "INFERENCE_ADDR": inference_addr,
            "CDN_ADDR": "127.0.0.1:9",
        },
        tmp_path / "creator.log",
    )
    await service.start_serving()
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = creator_pb2_grpc.CreatorServiceStub(channel)
            report = await stub.SearchCreator(
                creator_pb2.SearchCreatorRequest(username="giulia.canta"), metadata=(("x-user-id", "u1"),), timeout=30
            )
        assert report.profile.username == "giulia.canta" and len(report.recent_posts) == 12
        assert await asyncio.to_thread(service.terminate) == 0
        assert '"msg": "stopped"' in service.log_tail()
    finally:
        service.kill()


def test_a_bad_setting_stops_the_start_with_exit_code_2_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.creator.server"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
            "DATABASE_URL": "postgresql://creator_svc@127.0.0.1:1/x",
            "CREATOR_CACHE_TTL_SECONDS": "forever",
            "INSTAGRAM_SOURCE": "carrier-pigeon",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CREATOR_CACHE_TTL_SECONDS" in result.stderr
    assert "INSTAGRAM_SOURCE" in result.stderr
