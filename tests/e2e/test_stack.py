"""`make up` / `make down` semantics on a private stack: every service SERVING, `up` twice harmless, `down` leaves no
process behind and keeps the data."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from following.healthcheck import check
from scripts.stack import COMPONENTS, private_stack, process_alive

pytestmark = pytest.mark.slow


def test_up_serves_everything_twice_harmlessly_and_down_leaves_nothing_running() -> None:
    stack = private_stack()
    run = stack.run
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
