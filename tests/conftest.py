"""Shared fixtures: one throwaway PostgreSQL cluster per test session, a fresh database per test (template pattern)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from following.dbroles import SERVICES, ensure_service_role, owner_role_name, role_name
from following.server import ServiceApp, ServiceRunner
from following.settings import EnvReader, RuntimeSettings
from scripts.pgcluster import PgCluster, free_port

TEMPLATE = "following_template"

Build = Callable[[EnvReader], tuple[ServiceApp, RuntimeSettings]]
Serve = Callable[[Build, Mapping[str, str]], Awaitable[ServiceRunner]]


@dataclass(frozen=True)
class TestDatabase:
    """A fresh database with every service's role and (empty) schema, dropped after the test."""

    __test__ = False
    cluster: PgCluster
    name: str

    @property
    def admin_dsn(self) -> str:
        return self.cluster.dsn(self.name)

    def dsn_for(self, service: str) -> str:
        """The DSN a service runs with: its runtime role, which owns nothing and uses only its own schema."""
        return self.cluster.dsn(self.name, role_name(service))

    def owner_dsn_for(self, service: str) -> str:
        """The DSN its migrations run with: the owner of its schema."""
        return self.cluster.dsn(self.name, owner_role_name(service))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    # Not pytest's tmp_path: that is private to root, and the cluster may run as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="following-pg-"))
    os.chmod(base, 0o755)
    cluster = PgCluster(base / "data", free_port(), ephemeral=True)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_template(pg_cluster: PgCluster) -> str:
    conn = await asyncpg.connect(pg_cluster.dsn())
    try:
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(pg_cluster.dsn(TEMPLATE))
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service in SERVICES:
            await ensure_service_role(conn, service)
    finally:
        await conn.close()
    return TEMPLATE


@pytest.fixture
async def database(pg_cluster: PgCluster, pg_template: str) -> AsyncIterator[TestDatabase]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_cluster.dsn())
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    finally:
        await conn.close()
    yield TestDatabase(pg_cluster, name)
    conn = await asyncpg.connect(pg_cluster.dsn())
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Runs services in-process from their `build(env)` and a settings mapping; stops them after the test."""
    runners: list[ServiceRunner] = []

    async def start(build: Build, env: Mapping[str, str]) -> ServiceRunner:
        reader = EnvReader({"GRPC_LISTEN": "127.0.0.1:0", "METRICS_LISTEN": "off", **env})
        app, runtime = build(reader)
        reader.check()
        runner = ServiceRunner(app, runtime)
        await runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in reversed(runners):
        await runner.stop(1.0)
