"""Crash safety with a real child process: kill -9 the CDN worker mid-run, restart it, and every job ends DONE with
exactly one stored object per rendition."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
from cdn.v1 import cdn_pb2

from services.cdn.storage import FileStorage
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route, cdn_env, cdn_stub
from tests.conftest import TestDatabase
from tests.processes import ServiceProcess

JOBS = 12


async def wait_until(conn: asyncpg.Connection, query: str, done: object, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while (value := await conn.fetchval(query)) != done:
        if time.monotonic() > deadline:
            raise AssertionError(f"{query!r} is {value!r}, wanted {done!r} within {deadline_s} s")
        await asyncio.sleep(0.05)


def stored_objects(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and FileStorage.TMP not in p.relative_to(root).parts)


async def test_kill_9_mid_run_then_restart_finishes_every_job_with_one_object_each(
    database: TestDatabase, image_server: ImageServer, tmp_path: Path
) -> None:
    urls = []
    for i in range(JOBS):
        image_server.routes[f"/k{i}.jpg"] = Route(images.jpeg(200, 200, (i * 20, 255 - i * 20, 7)), delay=0.25)
        urls.append(image_server.url(f"/k{i}.jpg"))
    root = tmp_path / "objects"
    env = {
        "DATABASE_URL": database.dsn_for("cdn"),
        "MIGRATION_DATABASE_URL": database.owner_dsn_for("cdn"),
        **cdn_env(root, CDN_LEASE_SECONDS="1.5", CDN_RATE_LIMIT_PER_HOST="0"),
    }
    service = ServiceProcess("services.cdn.server", env, tmp_path / "cdn.log")
    conn = await asyncpg.connect(database.admin_dsn)
    try:
        await service.start_serving()
        channel, cdn, _ = cdn_stub(service.address)
        async with channel:
            specs = [cdn_pb2.JobSpec(source_url=u, kind=cdn_pb2.ASSET_KIND_AVATAR) for u in urls]
            await cdn.EnqueueJobs(cdn_pb2.EnqueueJobsRequest(jobs=specs))
        done_running = (
            "SELECT count(*) FILTER (WHERE state = 'done') > 0"
            " AND count(*) FILTER (WHERE state = 'running') > 0 FROM cdn.jobs"
        )
        await wait_until(conn, done_running, True, 20)
        service.kill()
        stranded = await conn.fetchval("SELECT count(*) FROM cdn.jobs WHERE state = 'running'")
        assert stranded > 0
        assert await conn.fetchval("SELECT count(*) FROM cdn.jobs WHERE state = 'done'") < JOBS

        restarted = ServiceProcess("services.cdn.server", env, tmp_path / "cdn.log")
        await restarted.start_serving()
        try:
            await wait_until(conn, "SELECT count(*) FROM cdn.jobs WHERE state = 'done'", JOBS, 40)
        finally:
            assert restarted.terminate() == 0
        keys = await conn.fetch("SELECT object_key FROM cdn.renditions ORDER BY object_key")
        rescued = await conn.fetchval("SELECT count(*) FROM cdn.jobs WHERE attempts = 2")
    finally:
        await conn.close()
        service.kill()
    objects = stored_objects(root)
    assert len(keys) == JOBS * 2  # 150 px WebP + JPEG per job
    assert [str(p.relative_to(root)) for p in objects] == [r["object_key"] for r in keys]
    assert rescued == stranded  # only the stranded jobs ran twice
