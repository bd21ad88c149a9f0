"""The supervisor: a step that raises anything is logged with its traceback and retried with backoff, a loop past its
deadline is reported (and cleared once it completes an iteration again), and stop lets the current step finish."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from asyncpg.exceptions import InternalClientError
from prometheus_client import REGISTRY

from following.supervisor import Stall, Supervisor


async def until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not {what} within {deadline_s} s")
        await asyncio.sleep(0.01)


async def test_a_step_raising_any_exception_is_logged_with_its_traceback_and_run_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[float] = []

    async def step() -> float:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise InternalClientError("cannot switch to state 12; another operation (2) is in progress")
        return 0.01

    supervisor = Supervisor(backoff_base_s=0.05, backoff_max_s=0.2)
    with caplog.at_level(logging.ERROR, logger="following.supervisor"):
        supervisor.add("flaky", step, deadline_s=10)
        await until(lambda: len(calls) >= 5, 5, "the step retried and running again")
        await supervisor.stop(1)
    failures = [r for r in caplog.records if "iteration failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info and r.exc_info[0] is InternalClientError for r in failures)
    assert calls[1] - calls[0] >= 0.025, "the retry waits a backoff"
    assert REGISTRY.get_sample_value("following_background_last_success_timestamp_seconds", {"loop": "flaky"})


async def test_a_loop_past_its_deadline_is_reported_and_cleared_once_it_completes_again() -> None:
    reports: list[list[Stall]] = []
    gate = asyncio.Event()

    async def on_change(stalls: list[Stall]) -> None:
        reports.append(stalls)

    async def stuck_step() -> float:
        await gate.wait()
        return 0.01

    supervisor = Supervisor(on_change, check_every_s=0.05)
    supervisor.add("stuck", stuck_step, deadline_s=0.2)
    await until(lambda: len(reports) == 1, 5, "the stall reported")
    assert [s.loop for s in reports[0]] == ["stuck"]
    assert "stuck has not completed an iteration" in reports[0][0].describe()
    gate.set()
    await until(lambda: len(reports) == 2, 5, "the recovery reported")
    assert reports[1] == []
    await supervisor.stop(1)


async def test_a_loop_failing_every_time_is_reported_too() -> None:
    async def broken() -> float:
        raise RuntimeError("bug")

    supervisor = Supervisor(check_every_s=0.05, backoff_base_s=0.01, backoff_max_s=0.02)
    supervisor.add("broken", broken, deadline_s=0.2)
    await until(lambda: bool(supervisor.stalls()), 5, "the failing loop overdue")
    assert supervisor.stalls()[0].last_error == "RuntimeError"
    await supervisor.stop(1)


async def test_wake_ends_an_idle_wait_and_stop_lets_the_running_step_finish() -> None:
    calls: list[float] = []
    finished: list[bool] = []

    async def step() -> float:
        calls.append(time.monotonic())
        await asyncio.sleep(0.05)
        finished.append(True)
        return 60.0

    supervisor = Supervisor()
    loop = supervisor.add("idle", step, deadline_s=120)
    await until(lambda: len(finished) == 1, 5, "the first step done")
    loop.wake()
    await until(lambda: len(calls) == 2, 5, "a woken second step")
    await supervisor.stop(5)
    assert len(finished) == 2, "stop waited for the running step"


async def test_a_loop_failing_only_on_an_excused_error_stays_on_schedule_but_not_successful() -> None:
    async def database_down() -> float:
        raise ConnectionRefusedError("connect call failed")

    supervisor = Supervisor(check_every_s=0.05, backoff_base_s=0.01, backoff_max_s=0.02, excused=(OSError,))
    loop = supervisor.add("waiting-for-the-database", database_down, deadline_s=0.2)
    started = loop.last_success
    await until(lambda: loop.failures >= 20, 5, "twenty failed iterations")
    assert supervisor.stalls() == []
    assert loop.last_success == started
    await supervisor.stop(1)
