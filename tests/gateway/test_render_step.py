"""The gateway pod's two steps with a real Envoy: the render step (`run render --out-dir`) writes envoy.yaml and
launch.sh; the Envoy image's entry point, read from the Dockerfile, sources launch.sh and execs Envoy, which then serves
the API and accepts HS256 tokens (whose keys reach Envoy only through launch.sh)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from deploy.checks.dockerfiles import parse, stages
from deploy.images import IMAGES, RENDERED_DIR
from services.gateway.run import envoy_path
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import free_port, gateway_env, wait_until_healthy
from tests.gateway.tokens import Keys


def envoy_image_entrypoint(rendered: Path) -> list[str]:
    """The final stage's ENTRYPOINT, with the shared volume's path replaced by `rendered`."""
    final = stages(parse(IMAGES["gateway"].dockerfile))[-1]
    entrypoint: list[str] = json.loads([i.arguments for i in final if i.command == "ENTRYPOINT"][-1])
    return [part.replace(RENDERED_DIR, str(rendered)) for part in entrypoint]


async def test_envoy_started_as_its_image_starts_it_serves_what_the_render_step_wrote(
    backend: RunningTestBackend, keys: Keys, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    listen, admin = free_port(), free_port()
    settings = {
        **os.environ,
        **gateway_env(backend, keys, tmp_path, GATEWAY_LISTEN=f"127.0.0.1:{listen}"),
        "GATEWAY_ADMIN_LISTEN": f"127.0.0.1:{admin}",
    }
    rendered = tmp_path / "rendered"
    step = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "services.gateway.run", "render", "--out-dir", str(rendered)),
        env=settings,
        stderr=subprocess.PIPE,
    )
    _, errors = await asyncio.wait_for(step.communicate(), 60)
    assert step.returncode == 0, errors.decode()
    assert keys.secret not in (rendered / "envoy.yaml").read_text()
    # The Envoy container gets none of the settings: only the shared folder and its own PATH.
    image_env = {"PATH": f"{Path(envoy_path()).parent}:/usr/bin:/bin"}
    process = await asyncio.create_subprocess_exec(
        *envoy_image_entrypoint(rendered), env=image_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_until_healthy(http, listen, process, "envoy")
        executable = await asyncio.to_thread(os.readlink, f"/proc/{process.pid}/exe")
        assert await asyncio.to_thread(os.path.samefile, executable, envoy_path())  # exec'd: Envoy is the process
        headers = {"Authorization": f"Bearer {keys.hs256()}"}
        async with http.get(f"http://127.0.0.1:{listen}/api/v1/creator/unlocked", headers=headers) as response:
            assert response.status != 401, await response.text()
        async with http.get(f"http://127.0.0.1:{listen}/api/v1/creator/unlocked") as response:
            assert response.status == 401
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
