"""How the gateway tests configure their Envoys: the environment of a test gateway and the starter's type."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.tokens import ISSUER, Keys

ORIGIN = "http://localhost:3000"

# start_gateway(**setting_overrides) -> a started Envoy, stopped after the test
StartGateway = Callable[..., Awaitable[EnvoyProcess]]


def gateway_env(backend: RunningTestBackend, keys: Keys, workdir: Path, **overrides: str | None) -> dict[str, str]:
    """The environment of a test gateway: ephemeral loopback ports, both key kinds, access log in workdir."""
    env: dict[str, str | None] = {
        "GATEWAY_LISTEN": "127.0.0.1:0",
        "GATEWAY_ADMIN_LISTEN": "127.0.0.1:0",
        "CREATOR_ADDR": backend.address,
        "CDN_ADDR": backend.address,
        "SUPABASE_JWT_SECRET": keys.secret,
        "SUPABASE_JWT_ISSUER": ISSUER,
        "CORS_ORIGINS": ORIGIN,
        "GATEWAY_ACCESS_LOG": str(workdir / "access.log"),
        "GATEWAY_CONCURRENCY": "1",
        "GATEWAY_READ_TIMEOUT_S": "2",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def free_port() -> int:
    """A loopback port free at the time of asking (for a process that must be told its port up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def wait_until_healthy(
    http: aiohttp.ClientSession, listen: int, process: asyncio.subprocess.Process, what: str, timeout_s: float = 20
) -> None:
    """Polls /api/health on the listen port until it answers 200; fails if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline and status != 200:
        assert process.returncode is None, f"{what} exited"
        try:
            async with http.get(f"http://127.0.0.1:{listen}/api/health") as response:
                status = response.status
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    assert status == 200
