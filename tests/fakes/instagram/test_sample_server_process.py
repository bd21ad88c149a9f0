"""`python -m fakes.instagram.server` as a real process: it serves on SAMPLE_UPSTREAM_LISTEN, hands out
image URLs under SAMPLE_UPSTREAM_PUBLIC_URL, logs JSON lines, and exits cleanly on SIGTERM. Settings errors name
the variable."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from fakes.instagram.settings import SampleSettings
from following.settings import SettingsError
from scripts.pgcluster import free_port

ROOT = Path(__file__).resolve().parents[3]


async def wait_healthy(url: str, proc: asyncio.subprocess.Process, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, "the sample upstream exited early"
            try:
                async with http.get(url + "/__admin/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} was not healthy within {within_s} s")


async def test_server_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SAMPLE_UPSTREAM_LISTEN": f"127.0.0.1:{port}",
        "SAMPLE_UPSTREAM_PUBLIC_URL": "http://images.sample.test:9000",
    }
    log_path = tmp_path / "sample.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fakes.instagram.server", cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, proc)
        async with (
            aiohttp.ClientSession() as http,
            http.get(url + "/api/v1/users/web_profile_info/?username=fit.bayann") as response,
        ):
            user = (await response.json())["data"]["user"]
        assert user["profile_pic_url_hd"].startswith("http://images.sample.test:9000/media/fit.bayann/")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("msg") == "sample upstream listening" for line in lines)
    assert all(line["service"] == "sample-upstream" for line in lines)


def test_settings_defaults_listen_on_loopback_8090() -> None:
    settings = SampleSettings.from_env({})
    assert (settings.host, settings.port, settings.public_url, settings.seed) == ("127.0.0.1", 8090, None, 2026)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SAMPLE_UPSTREAM_LISTEN": "8090"}, "SAMPLE_UPSTREAM_LISTEN"),
        ({"SAMPLE_UPSTREAM_LISTEN": "127.0.0.1:http"}, "SAMPLE_UPSTREAM_LISTEN"),
        ({"SAMPLE_UPSTREAM_PUBLIC_URL": "images.example"}, "SAMPLE_UPSTREAM_PUBLIC_URL"),
        ({"SAMPLE_UPSTREAM_SEED": "abc"}, "SAMPLE_UPSTREAM_SEED"),
        ({"SAMPLE_UPSTREAM_NOW": "yesterday"}, "SAMPLE_UPSTREAM_NOW"),
        ({"SAMPLE_UPSTREAM_IMAGE_CACHE": "-1"}, "SAMPLE_UPSTREAM_IMAGE_CACHE"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=f"\n  {variable}: "):
        SampleSettings.from_env(env)


async def test_server_process_refuses_bad_settings_naming_each_variable_without_a_traceback() -> None:
    env = {**os.environ, "SAMPLE_UPSTREAM_SEED": "abc", "SAMPLE_UPSTREAM_IMAGE_CACHE": "-1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fakes.instagram.server", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert "SAMPLE_UPSTREAM_SEED: " in stderr.decode() and "SAMPLE_UPSTREAM_IMAGE_CACHE: " in stderr.decode()
    assert "Traceback" not in stderr.decode()
