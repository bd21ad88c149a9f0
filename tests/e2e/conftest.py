"""The whole system as real processes: PostgreSQL, sample upstream, inference, cdn, creator and Envoy, on free
loopback ports in a temp folder, started by the same `Stack` that `make up` uses."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.api import GatewayClient
from client.tokens import mint
from scripts.pgcluster import free_port
from scripts.stack import Stack


@dataclass
class E2E:
    stack: Stack

    @property
    def gateway(self) -> str:
        return f"http://{self.stack.values['GATEWAY_LISTEN']}"

    @property
    def upstream(self) -> str:
        return f"http://{self.stack.values['SAMPLE_UPSTREAM_LISTEN']}"

    def token(self, user: str) -> str:
        return mint(self.stack.values["SUPABASE_JWT_SECRET"], self.stack.values["SUPABASE_JWT_ISSUER"], user)

    def client(self, user: str = "alice", timeout: float = 30.0) -> GatewayClient:
        return GatewayClient(self.gateway, self.token(user), timeout=timeout)


@pytest.fixture(scope="session")
def e2e() -> Iterator[E2E]:
    run = Path(tempfile.mkdtemp(prefix="following-e2e-"))
    os.chmod(run, 0o755)
    ports = {
        key: f"127.0.0.1:{free_port()}"
        for key in (
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
    }
    overrides = {
        **ports,
        "STACK_PG_PORT": str(free_port()),
        "SUPABASE_JWT_ISSUER": f"http://{ports['GATEWAY_LISTEN']}/auth/v1",
    }
    stack = Stack(run, overrides)
    try:
        stack.up()
        yield E2E(stack)
    finally:
        stack.down()
        if os.environ.get("KEEP_E2E_RUN") != "1":
            shutil.rmtree(run, ignore_errors=True)
