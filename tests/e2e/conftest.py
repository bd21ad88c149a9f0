"""The whole system as real processes: PostgreSQL, sample upstream, inference, cdn, creator and Envoy, on free
loopback ports in a temp folder, started by the same `Stack` that `make up` uses."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from client.api import GatewayClient
from client.tokens import mint
from scripts.stack import Stack, private_stack


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
    stack = private_stack("following-e2e-")
    try:
        stack.up()
        yield E2E(stack)
    finally:
        stack.down()
        if os.environ.get("KEEP_E2E_RUN") != "1":
            shutil.rmtree(stack.run, ignore_errors=True)
