"""`make up` / `make down` semantics on a private stack: every service SERVING, `up` twice harmless, `down` leaves no
process behind and keeps the data."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from following.healthcheck import check
from scripts.pgcluster import free_port
from scripts.stack import COMPONENTS, Stack, process_alive

pytestmark = pytest.mark.slow


def test_up_serves_everything_twice_harmlessly_and_down_leaves_nothing_running() -> None:
    run = Path(tempfile.mkdtemp(prefix="following-stack-"))
    os.chmod(run, 0o755)
    keys = (
        "GATEWAY_LISTEN",
        "GATEWAY_ADMIN_LISTEN",
        "CREATOR_ADDR",
        "INFERENCE_ADDR",
        "CDN_ADDR",
        "CREATOR_METRICS_LISTEN",
        "INFERENCE_METRICS_LISTEN",
        "CDN_METRICS_LISTEN",
        "SAMPLE_UPSTREAM_LISTEN",
        "CDN_HTTP_LISTEN",
    )
    ports = {key: f"127.0.0.1:{free_port()}" for key in keys}
    stack = Stack(run, {**ports, "STACK_PG_PORT": str(free_port())})
    try:
        stack.up()
        for key in ("CREATOR_ADDR", "INFERENCE_ADDR", "CDN_ADDR"):
            assert asyncio.run(check(stack.values[key])) == "SERVING", key
        pids = {c.name: stack.pid(c.name) for c in COMPONENTS}
        assert all(pids.values()), pids
        stack.up()
        assert {c.name: stack.pid(c.name) for c in COMPONENTS} == pids, "a second up starts nothing new"
        stack.down()
        for name, pid in pids.items():
            assert pid is not None and not process_alive(pid), f"{name} (pid {pid}) still runs"
        assert not stack.pg.running()
        assert (run / "pg" / "data" / "PG_VERSION").exists(), "data survives down"
    finally:
        stack.down()
        shutil.rmtree(run, ignore_errors=True)
