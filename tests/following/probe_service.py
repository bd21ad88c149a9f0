"""A minimal service on the shared runtime, for runtime tests: `python -m tests.following.probe_service`.

It owns the `creator` schema's role for the test (PROBE_SCHEMA), applies PROBE_MIGRATIONS_DIR, and serves one generic
method `/probe.Probe/Call` whose request bytes choose the behaviour: b"user" echoes x-user-id, b"invalid" raises
InvalidArgument, b"throttled" raises UpstreamThrottled with a retry delay, b"crash" raises a plain exception,
b"slow" answers after 0.5 s, b"conflict" runs a statement PostgreSQL aborts as a deadlock (SQLSTATE 40P01).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import grpc

from following.errors import InvalidArgument, UpstreamThrottled
from following.interceptors import caller_user_id
from following.server import RuntimeContext, run
from following.settings import EnvReader, RuntimeSettings

DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$"


class ProbeApp:
    def __init__(self, name: str, migrations_dir: Path | None) -> None:
        self.name = name
        self.migrations_dir = migrations_dir
        self.stopped = False
        self.pool: asyncpg.Pool | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        handler = grpc.unary_unary_rpc_method_handler(self.call)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("probe.Probe", {"Call": handler}),))
        return ["probe.Probe"]

    async def call(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"user":
            return caller_user_id().encode()
        if request == b"invalid":
            raise InvalidArgument("username: must be 1-30 characters")
        if request == b"throttled":
            raise UpstreamThrottled("instagram refuses requests for now", retry_after=7.4)
        if request == b"crash":
            raise RuntimeError("boom")
        if request == b"conflict" and self.pool is not None:
            await self.pool.execute(DEADLOCK)
        if request == b"slow":
            await asyncio.sleep(0.5)
            return b"done"
        return request

    async def start(self, ctx: RuntimeContext) -> None:
        self.pool = ctx.pool

    async def stop(self, grace: float) -> None:
        self.stopped = True


def build(env: EnvReader) -> tuple[ProbeApp, RuntimeSettings]:
    schema = env.text("PROBE_SCHEMA", "creator")
    directory = env.optional_text("PROBE_MIGRATIONS_DIR")
    settings = RuntimeSettings.read(schema, env, default_grpc_port=50099, needs_database=False)
    return ProbeApp(schema, Path(directory) if directory else None), settings


if __name__ == "__main__":
    run(build)
