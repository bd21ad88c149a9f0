"""The local stack behind `make up`, `make down` and `make status`.

Everything lives under the git-ignored `.run/`: a PostgreSQL cluster (`.run/pg`), one log per process (`.run/logs`),
pid files (`.run/pids`), mirrored images (`.run/cdn`) and the development settings (`.run/stack.env`, with a random
JWT secret made on the first run). `up` is idempotent: what already runs is left alone. `down` stops exactly the
processes whose pid files it wrote (checking that each pid still runs our command) and then PostgreSQL; data survives.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from following.dbroles import bootstrap
from following.healthcheck import wait_serving
from scripts.pgcluster import PgCluster

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run"
LOGS = RUN / "logs"
PIDS = RUN / "pids"
ENV_FILE = RUN / "stack.env"

DEFAULTS = {
    "STACK_PG_PORT": "55432",
    "GATEWAY_LISTEN": "127.0.0.1:8080",
    "GATEWAY_ADMIN_LISTEN": "127.0.0.1:9901",
    "CREATOR_ADDR": "127.0.0.1:50051",
    "INFERENCE_ADDR": "127.0.0.1:50052",
    "CDN_ADDR": "127.0.0.1:50053",
    "SAMPLE_UPSTREAM_LISTEN": "127.0.0.1:8090",
    "CDN_HTTP_LISTEN": "127.0.0.1:8091",
    "SUPABASE_JWT_ISSUER": "http://127.0.0.1:8080/auth/v1",
}


def load_env() -> dict[str, str]:
    """The stack's settings: defaults, then `.run/stack.env` (made once, with a fresh JWT secret), then os.environ."""
    RUN.mkdir(exist_ok=True)
    if not ENV_FILE.exists():
        ENV_FILE.write_text(
            "# Local development settings, made by `make up`. Edit freely; delete to regenerate.\n"
            f"SUPABASE_JWT_SECRET={secrets.token_urlsafe(32)}\n"
        )
        ENV_FILE.chmod(0o600)
    values = dict(DEFAULTS)
    for line in ENV_FILE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k in values})
    return values


@dataclass
class Component:
    name: str
    module: str
    env: Callable[[dict[str, str], PgCluster], dict[str, str]]
    ready: Callable[[dict[str, str]], None]
    args: list[str] = field(default_factory=list)


def _grpc_ready(key: str) -> Callable[[dict[str, str]], None]:
    def check(values: dict[str, str]) -> None:
        asyncio.run(wait_serving(values[key], deadline_s=180))

    return check


def _http_ready(url_of: Callable[[dict[str, str]], str]) -> Callable[[dict[str, str]], None]:
    def check(values: dict[str, str]) -> None:
        url = url_of(values)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer within 60 s")

    return check


def _service_env(
    service: str, listen_key: str, metrics_port: int
) -> Callable[[dict[str, str], PgCluster], dict[str, str]]:
    def env(values: dict[str, str], pg: PgCluster) -> dict[str, str]:
        return {
            "GRPC_LISTEN": values[listen_key],
            "METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "DATABASE_URL": pg.dsn("following", f"{service}_svc"),
        }

    return env


def _with(
    base: Callable[[dict[str, str], PgCluster], dict[str, str]], extra: Callable[[dict[str, str]], dict[str, str]]
) -> Callable[[dict[str, str], PgCluster], dict[str, str]]:
    return lambda values, pg: {**base(values, pg), **extra(values)}


COMPONENTS = [
    Component(
        "sample-upstream",
        "services.sample_upstream.server",
        lambda values, pg: {
            "SAMPLE_UPSTREAM_LISTEN": values["SAMPLE_UPSTREAM_LISTEN"],
            "SAMPLE_UPSTREAM_PUBLIC_URL": f"http://{values['SAMPLE_UPSTREAM_LISTEN']}",
        },
        _http_ready(lambda values: f"http://{values['SAMPLE_UPSTREAM_LISTEN']}/__admin/stats"),
    ),
    Component(
        "inference",
        "services.inference.server",
        _service_env("inference", "INFERENCE_ADDR", 9102),
        _grpc_ready("INFERENCE_ADDR"),
    ),
    Component(
        "cdn",
        "services.cdn.server",
        _with(
            _service_env("cdn", "CDN_ADDR", 9103),
            lambda values: {
                "CDN_STORAGE_URL": f"file://{RUN / 'cdn'}",
                "CDN_HTTP_LISTEN": values["CDN_HTTP_LISTEN"],
                "CDN_PUBLIC_BASE_URL": f"http://{values['CDN_HTTP_LISTEN']}",
                "CDN_ALLOWED_HOSTS": values["SAMPLE_UPSTREAM_LISTEN"].rpartition(":")[0],
                "CDN_ALLOW_PRIVATE_NETWORKS": "true",
            },
        ),
        _grpc_ready("CDN_ADDR"),
    ),
    Component(
        "creator",
        "services.creator.server",
        _with(
            _service_env("creator", "CREATOR_ADDR", 9101),
            lambda values: {
                "INSTAGRAM_SOURCE": "sample",
                "INSTAGRAM_BASE_URL": f"http://{values['SAMPLE_UPSTREAM_LISTEN']}",
                "INFERENCE_ADDR": values["INFERENCE_ADDR"],
                "CDN_ADDR": values["CDN_ADDR"],
            },
        ),
        _grpc_ready("CREATOR_ADDR"),
    ),
    Component(
        "gateway",
        "services.gateway.run",
        lambda values, pg: (
            {
                key: values[key]
                for key in (
                    "GATEWAY_LISTEN",
                    "GATEWAY_ADMIN_LISTEN",
                    "CREATOR_ADDR",
                    "CDN_ADDR",
                    "SUPABASE_JWT_SECRET",
                    "SUPABASE_JWT_ISSUER",
                )
            }
            | {"GATEWAY_ACCESS_LOG": str(LOGS / "gateway-access.log")}
        ),
        _http_ready(lambda values: f"http://{values['GATEWAY_LISTEN']}/api/health"),
    ),
]


def _pid_file(name: str) -> Path:
    return PIDS / f"{name}.pid"


def _running_pid(component: Component) -> int | None:
    """The pid from our pid file, if that process still runs our module."""
    path = _pid_file(component.name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        path.unlink(missing_ok=True)
        return None
    if component.module not in cmdline and not (component.name == "gateway" and "envoy" in cmdline):
        path.unlink(missing_ok=True)
        return None
    return pid


def cluster(values: dict[str, str]) -> PgCluster:
    return PgCluster(RUN / "pg" / "data", int(values["STACK_PG_PORT"]))


def up() -> None:
    values = load_env()
    for folder in (LOGS, PIDS):
        folder.mkdir(parents=True, exist_ok=True)
    pg = cluster(values)
    print(f"postgres     starting on 127.0.0.1:{pg.port} (data: .run/pg)")
    pg.start()
    _ensure_database(pg)
    asyncio.run(bootstrap(pg.dsn("following")))
    for component in COMPONENTS:
        pid = _running_pid(component)
        if pid is not None:
            print(f"{component.name:<12} already running (pid {pid})")
            continue
        log = (LOGS / f"{component.name}.log").open("ab")
        env = {**os.environ, **component.env(values, pg)}
        proc = subprocess.Popen(
            [sys.executable, "-m", component.module, *component.args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _pid_file(component.name).write_text(str(proc.pid))
        print(f"{component.name:<12} starting (pid {proc.pid}, log .run/logs/{component.name}.log)", flush=True)
        try:
            component.ready(values)
        except TimeoutError as exc:
            tail = "\n".join((LOGS / f"{component.name}.log").read_text(errors="replace").splitlines()[-20:])
            sys.exit(f"{component.name} did not become ready: {exc}\n--- last log lines ---\n{tail}")
        if proc.poll() is not None:
            sys.exit(f"{component.name} exited with code {proc.returncode}; see .run/logs/{component.name}.log")
    print_urls(values)


def _ensure_database(pg: PgCluster) -> None:
    probe = subprocess.run(
        [str(pg.bindir / "psql"), pg.dsn(), "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'following'"],
        capture_output=True,
        text=True,
        check=True,
    )
    if probe.stdout.strip() != "1":
        subprocess.run([str(pg.bindir / "psql"), pg.dsn(), "-qc", "CREATE DATABASE following"], check=True)


def print_urls(values: dict[str, str]) -> None:
    gateway = f"http://{values['GATEWAY_LISTEN']}"
    print(
        f"\nThe stack is up.\n"
        f"  REST gateway     {gateway}   (health: {gateway}/api/health, API: {gateway}/api/openapi.json)\n"
        f"  gRPC services    creator {values['CREATOR_ADDR']}, inference {values['INFERENCE_ADDR']},"
        f" cdn {values['CDN_ADDR']}\n"
        f"  mirrored images  http://{values['CDN_HTTP_LISTEN']}/\n"
        f"  fake Instagram   http://{values['SAMPLE_UPSTREAM_LISTEN']}/\n"
        f"  PostgreSQL       postgresql://postgres@127.0.0.1:{values['STACK_PG_PORT']}/following\n"
        f"  logs             .run/logs/ (make logs)    stop: make down\n"
    )


def down() -> None:
    values = load_env()
    for component in reversed(COMPONENTS):
        pid = _running_pid(component)
        if pid is None:
            continue
        print(f"{component.name:<12} stopping (pid {pid})", flush=True)
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 30
        while time.monotonic() < end and Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            print(f"{component.name:<12} did not stop in 30 s: killing", flush=True)
            os.kill(pid, signal.SIGKILL)
        _pid_file(component.name).unlink(missing_ok=True)
    pg = cluster(values)
    if pg.initialised() and pg.running():
        print("postgres     stopping")
        pg.stop()
    print("stopped; data kept in .run/")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def status() -> None:
    values = load_env()
    pg = cluster(values)
    print(f"{'postgres':<12} {'running' if pg.initialised() and pg.running() else 'stopped'}")
    for component in COMPONENTS:
        pid = _running_pid(component)
        print(f"{component.name:<12} {f'running (pid {pid})' if pid else 'stopped'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    command = parser.parse_args().command
    {"up": up, "down": down, "status": status}[command]()


if __name__ == "__main__":
    main()
