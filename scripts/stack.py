"""The local stack behind `make up`, `make down` and `make status`; the end-to-end tests run the same stack.

Everything lives under one run folder, by default the git-ignored `.run/`: a PostgreSQL cluster (`pg/`), one log per
process (`logs/`), pid files (`pids/`), mirrored images (`cdn/`) and the settings (`stack.env`, with a random JWT
secret made on the first run). `up` is idempotent: what already runs is left alone. `down` stops exactly the
processes whose pid files it wrote (checking that each pid still runs our command), then PostgreSQL; data survives.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from following.dbroles import bootstrap
from following.healthcheck import wait_serving
from scripts.pgcluster import PgCluster, free_port

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run"

DEFAULTS = {
    "STACK_PG_PORT": "55432",
    "GATEWAY_LISTEN": "127.0.0.1:8080",
    "GATEWAY_ADMIN_LISTEN": "127.0.0.1:9901",
    "CREATOR_ADDR": "127.0.0.1:50051",
    "INFERENCE_ADDR": "127.0.0.1:50052",
    "CDN_ADDR": "127.0.0.1:50053",
    "CREATOR_METRICS_LISTEN": "127.0.0.1:9101",
    "INFERENCE_METRICS_LISTEN": "127.0.0.1:9102",
    "CDN_METRICS_LISTEN": "127.0.0.1:9103",
    "SAMPLE_UPSTREAM_LISTEN": "127.0.0.1:8090",
    "CDN_HTTP_LISTEN": "127.0.0.1:8091",
    "SUPABASE_JWT_ISSUER": "http://127.0.0.1:8080/auth/v1",
    "CONSOLE_LISTEN": "127.0.0.1:3000",
}
STOP_TIMEOUT_S = 30.0
SAMPLE_TRACK_INTERVAL_S = "10"
# Upstream settings a caller may set in the environment or `stack.env`; they reach the creator and the CDN as given,
# where the stack's own sample-upstream values are only defaults.
PASSTHROUGH_PREFIXES = ("INSTAGRAM_",)
# The creator's upstream sources (services/creator/upstream/settings.py).
SOURCES = ("sample", "web")
PASSTHROUGH_KEYS = ("CDN_ALLOWED_HOSTS", "CDN_ALLOWED_PORTS", "CDN_ALLOW_PRIVATE_NETWORKS")


def _passthrough(key: str) -> bool:
    return key.startswith(PASSTHROUGH_PREFIXES) or key in PASSTHROUGH_KEYS


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    #: The process's own environment, from the stack's settings.
    env: Callable[[Stack], dict[str, str]]
    #: Blocks until the component answers; raises TimeoutError.
    ready: Callable[[Stack], None]


def _service_env(service: str) -> Callable[[Stack], dict[str, str]]:
    upper = service.upper()
    return lambda stack: {
        "GRPC_LISTEN": stack.values[f"{upper}_ADDR"],
        "METRICS_LISTEN": stack.values[f"{upper}_METRICS_LISTEN"],
        "DATABASE_URL": stack.pg.dsn("following", f"{service}_svc"),
        # MIGRATE_ON_START applies the migrations as the schema's owner; the service itself runs as `_svc`.
        "MIGRATION_DATABASE_URL": stack.pg.dsn("following", f"{service}_owner"),
    }


def _grpc_ready(key: str) -> Callable[[Stack], None]:
    return lambda stack: asyncio.run(wait_serving(stack.values[key], deadline_s=180))


def _http_ready(url_of: Callable[[Stack], str]) -> Callable[[Stack], None]:
    def check(stack: Stack) -> None:
        url = url_of(stack)
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


def _cors_origins(stack: Stack) -> str:
    """The console's origins (as a browser names them) first, then any the developer configured."""
    port = stack.values["CONSOLE_LISTEN"].rpartition(":")[2]
    configured = (stack.values.get("CORS_ORIGINS") or os.environ.get("CORS_ORIGINS", "")).split(",")
    origins = [f"http://localhost:{port}", f"http://127.0.0.1:{port}", *(o.strip() for o in configured)]
    return ",".join(dict.fromkeys(o for o in origins if o))


COMPONENTS = (
    Component(
        "sample-upstream",
        "fakes.instagram.server",
        lambda stack: {
            "SAMPLE_UPSTREAM_LISTEN": stack.values["SAMPLE_UPSTREAM_LISTEN"],
            "SAMPLE_UPSTREAM_PUBLIC_URL": f"http://{stack.values['SAMPLE_UPSTREAM_LISTEN']}",
        },
        _http_ready(lambda stack: f"http://{stack.values['SAMPLE_UPSTREAM_LISTEN']}/__admin/stats"),
    ),
    Component("inference", "services.inference.server", _service_env("inference"), _grpc_ready("INFERENCE_ADDR")),
    Component(
        "cdn",
        "services.cdn.server",
        lambda stack: (
            _service_env("cdn")(stack)
            | {
                "CDN_STORAGE_URL": f"file://{stack.run / 'cdn'}",
                "CDN_HTTP_LISTEN": stack.values["CDN_HTTP_LISTEN"],
                "CDN_PUBLIC_BASE_URL": f"http://{stack.values['CDN_HTTP_LISTEN']}",
            }
            | stack.image_hosts()
        ),
        _grpc_ready("CDN_ADDR"),
    ),
    Component(
        "creator",
        "services.creator.server",
        lambda stack: (
            _service_env("creator")(stack)
            | stack.instagram()
            | {"INFERENCE_ADDR": stack.values["INFERENCE_ADDR"], "CDN_ADDR": stack.values["CDN_ADDR"]}
            | stack.track_interval()
        ),
        _grpc_ready("CREATOR_ADDR"),
    ),
    Component(
        "gateway",
        "services.gateway.run",
        lambda stack: (
            {
                key: stack.values[key]
                for key in (
                    "GATEWAY_LISTEN",
                    "GATEWAY_ADMIN_LISTEN",
                    "CREATOR_ADDR",
                    "CDN_ADDR",
                    "SUPABASE_JWT_SECRET",
                    "SUPABASE_JWT_ISSUER",
                )
            }
            | {"GATEWAY_ACCESS_LOG": str(stack.logs / "gateway-access.log"), "CORS_ORIGINS": _cors_origins(stack)}
        ),
        _http_ready(lambda stack: f"http://{stack.values['GATEWAY_LISTEN']}/api/health"),
    ),
    Component(
        "console",
        "scripts.console",
        lambda stack: {
            "CONSOLE_LISTEN": stack.values["CONSOLE_LISTEN"],
            "CONSOLE_GATEWAY_URL": f"http://{stack.values['GATEWAY_LISTEN']}",
            "SUPABASE_JWT_SECRET": stack.values["SUPABASE_JWT_SECRET"],
            "SUPABASE_JWT_ISSUER": stack.values["SUPABASE_JWT_ISSUER"],
        },
        _http_ready(lambda stack: f"http://{stack.values['CONSOLE_LISTEN']}/config.json"),
    ),
)


class Stack:
    """One local stack rooted at a run folder."""

    run: Path
    logs: Path
    pids: Path
    values: dict[str, str]
    pg: PgCluster

    def __init__(self, run: Path = RUN, overrides: dict[str, str] | None = None) -> None:
        self.run = run
        self.logs = run / "logs"
        self.pids = run / "pids"
        self.values = self._load_values(overrides)
        self.pg = PgCluster(run / "pg" / "data", int(self.values["STACK_PG_PORT"]))

    def _load_values(self, overrides: dict[str, str] | None) -> dict[str, str]:
        """Defaults, then `stack.env` (made once, with a fresh JWT secret and any overrides), then os.environ."""
        self.run.mkdir(parents=True, exist_ok=True)
        env_file = self.run / "stack.env"
        if not env_file.exists():
            lines = [
                "# Local development settings, made by `make up`. Edit freely; delete to regenerate.",
                f"SUPABASE_JWT_SECRET={secrets.token_urlsafe(32)}",
                *(f"{key}={value}" for key, value in (overrides or {}).items()),
            ]
            env_file.write_text("\n".join(lines) + "\n")
            env_file.chmod(0o600)
        values = dict(DEFAULTS)
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
        if overrides is None:
            values.update({key: value for key, value in os.environ.items() if key in values or _passthrough(key)})
        return values

    @property
    def source(self) -> str:
        """The creator's upstream: `sample` (the local fake Instagram, the default) or `web` (Instagram)."""
        return self.values.get("INSTAGRAM_SOURCE", "sample").strip().lower() or "sample"

    def instagram(self) -> dict[str, str]:
        """The creator's INSTAGRAM_* settings: the caller's as given; on the sample source, the local upstream's URL."""
        env = {key: value for key, value in self.values.items() if key.startswith(PASSTHROUGH_PREFIXES)}
        env["INSTAGRAM_SOURCE"] = self.source
        if self.source == "sample":
            env.setdefault("INSTAGRAM_BASE_URL", f"http://{self.values['SAMPLE_UPSTREAM_LISTEN']}")
        return env

    def track_interval(self) -> dict[str, str]:
        """Tracked creators are refreshed every 10 s on the sample source (so `make demo` shows growth), daily on the
        web source; `CREATOR_TRACK_INTERVAL_S` in `stack.env` or the environment overrides both."""
        chosen = self.values.get("CREATOR_TRACK_INTERVAL_S") or os.environ.get("CREATOR_TRACK_INTERVAL_S")
        return {"CREATOR_TRACK_INTERVAL_S": chosen or (SAMPLE_TRACK_INTERVAL_S if self.source == "sample" else "86400")}

    def image_hosts(self) -> dict[str, str]:
        """The CDN's download allowlist: the caller's if set; on the sample source, the local upstream (a private
        address); on the web source, the CDN's own default (Instagram's image hosts)."""
        env = {key: self.values[key] for key in PASSTHROUGH_KEYS if key in self.values}
        if self.source == "sample":
            # host:port: an allowlisted host is fetched only on its scheme's default port or the port named.
            env.setdefault("CDN_ALLOWED_HOSTS", self.values["SAMPLE_UPSTREAM_LISTEN"])
            env.setdefault("CDN_ALLOW_PRIVATE_NETWORKS", "true")
        return env

    def running_source(self) -> str | None:
        """The INSTAGRAM_SOURCE the running creator was started with (from its environment), if it runs."""
        pid = self.pid("creator")
        if pid is None:
            return None
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return None
        for entry in environ:
            key, _, value = entry.decode(errors="replace").partition("=")
            if key == "INSTAGRAM_SOURCE":
                return value
        return None

    def describe_source(self) -> str:
        base = self.instagram().get("INSTAGRAM_BASE_URL", "https://www.instagram.com")
        if self.source == "sample":
            return f"sample (the local fake Instagram at {base})"
        return f"web ({base}; set INSTAGRAM_SOURCE=sample or remove it for the local fake Instagram)"

    def component(self, name: str) -> Component:
        return next(c for c in COMPONENTS if c.name == name)

    def pid(self, name: str) -> int | None:
        """The pid from our pid file, if that process still runs our command."""
        component = self.component(name)
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text().strip() or 0)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            path.unlink(missing_ok=True)
            return None
        ours = component.module in cmdline or (name == "gateway" and "envoy" in cmdline)
        if not ours or not process_alive(pid):
            path.unlink(missing_ok=True)
            return None
        return pid

    def up(self, extra_env: dict[str, dict[str, str]] | None = None, only: tuple[str, ...] | None = None) -> None:
        """Starts what is not running yet (of `only`, when given), in dependency order, waiting for each to answer."""
        if self.source not in SOURCES:
            # Refused before anything starts: the creator would only fail later, after the stack said "web".
            raise RuntimeError(
                f"INSTAGRAM_SOURCE must be one of {', '.join(SOURCES)}; got {self.source!r} "
                f"(from the environment or {self.run / 'stack.env'})"
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        _progress(f"{'instagram':<16} source {self.describe_source()}")
        _progress(f"{'postgres':<16} starting on 127.0.0.1:{self.pg.port}")
        self.pg.start()
        self._ensure_database()
        asyncio.run(bootstrap(self.pg.dsn("following")))
        for component in COMPONENTS:
            if only is None or component.name in only:
                self.start(component.name, (extra_env or {}).get(component.name))

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        component = self.component(name)
        running = self.pid(name)
        if running is not None:
            _progress(f"{name:<16} already running (pid {running})")
            if name == "creator" and (started := self.running_source()) not in (None, self.source):
                _progress(f"{name:<16} runs on the {started} source, not {self.source}: make down && make up to switch")
            return
        log_path = self.logs / f"{name}.log"
        with log_path.open("ab") as log:
            # The caller's upstream settings reach a process only through `values` (a private stack ignores them).
            inherited = {key: value for key, value in os.environ.items() if not _passthrough(key)}
            proc = subprocess.Popen(
                [sys.executable, "-m", component.module],
                cwd=ROOT,
                env={**inherited, **component.env(self), **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.pids / f"{name}.pid").write_text(str(proc.pid))
        _progress(f"{name:<16} starting (pid {proc.pid}, log {log_path})")
        try:
            component.ready(self)
        except TimeoutError as exc:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"{name} did not become ready: {exc}\n--- last log lines ---\n{tail}") from exc
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}; see {log_path}")

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        pid = self.pid(name)
        if pid is None:
            return
        _progress(f"{name:<16} stopping (pid {pid})")
        os.kill(pid, sig)
        end = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < end and process_alive(pid):
            time.sleep(0.05)
        if process_alive(pid):
            _progress(f"{name:<16} did not stop in {STOP_TIMEOUT_S:.0f} s: killing")
            os.kill(pid, signal.SIGKILL)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    def down(self) -> None:
        for component in reversed(COMPONENTS):
            self.stop(component.name)
        if self.pg.initialised() and self.pg.running():
            _progress(f"{'postgres':<16} stopping")
            self.pg.stop()

    def _ensure_database(self) -> None:
        psql = str(self.pg.bindir / "psql")
        probe = subprocess.run(
            [psql, self.pg.dsn(), "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'following'"],
            capture_output=True,
            text=True,
            check=True,
        )
        if probe.stdout.strip() != "1":
            subprocess.run([psql, self.pg.dsn(), "-qc", "CREATE DATABASE following"], check=True)

    def describe(self) -> str:
        v = self.values
        gateway = f"http://{v['GATEWAY_LISTEN']}"
        console = f"http://localhost:{v['CONSOLE_LISTEN'].rpartition(':')[2]}/"
        return (
            "\nThe stack is up.\n"
            f"  web console      {console}  (sign in as a development user)\n"
            f"  REST gateway     {gateway}  (health: {gateway}/api/health, contract: {gateway}/api/openapi.json)\n"
            f"  gRPC services    creator {v['CREATOR_ADDR']}, inference {v['INFERENCE_ADDR']}, cdn {v['CDN_ADDR']}\n"
            f"  metrics          creator {v['CREATOR_METRICS_LISTEN']}, inference {v['INFERENCE_METRICS_LISTEN']},"
            f" cdn {v['CDN_METRICS_LISTEN']}, envoy {v['GATEWAY_ADMIN_LISTEN']}/stats/prometheus\n"
            f"  mirrored images  http://{v['CDN_HTTP_LISTEN']}/\n"
            f"  Instagram source {self.describe_source()}\n"
            f"  fake Instagram   http://{v['SAMPLE_UPSTREAM_LISTEN']}/\n"
            f"  PostgreSQL       {self.pg.dsn('following')}\n"
            f"  logs             {self.logs} (make logs)    client: bin/following --help    stop: make down\n"
        )


def process_alive(pid: int) -> bool:
    """True while any thread of the process still runs. A killed multi-threaded process (Envoy) shows its main thread
    as a zombie before its other threads have exited, and its sockets stay open until the last one has."""
    try:
        tasks = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return False
    return any(not _is_zombie(pid, task) for task in tasks)


def _is_zombie(pid: int, task: str | None = None) -> bool:
    stat = Path(f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _progress(line: str) -> None:
    """Start/stop progress goes to stderr, so what a caller prints on stdout stays clean."""
    print(line, file=sys.stderr, flush=True)


def private_stack(prefix: str = "following-stack-", settings: dict[str, str] | None = None) -> Stack:
    """A stack in a fresh temp folder on free loopback ports, for tests and benchmarks; `settings` go into its
    `stack.env` (e.g. INSTAGRAM_*). `shutil.rmtree(stack.run)` after `down()` removes it."""
    run = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(run, 0o755)  # the cluster may run as the postgres user
    ports = {key: f"127.0.0.1:{free_port()}" for key in DEFAULTS if key.endswith(("_LISTEN", "_ADDR"))}
    overrides = {
        **ports,
        "STACK_PG_PORT": str(free_port()),
        "SUPABASE_JWT_ISSUER": f"http://{ports['GATEWAY_LISTEN']}/auth/v1",
        **(settings or {}),
    }
    return Stack(run, overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    command = parser.parse_args().command
    stack = Stack()
    if command == "up":
        try:
            stack.up()
        except RuntimeError as exc:
            sys.exit(str(exc))
        print(stack.describe())
    elif command == "down":
        stack.down()
        print("stopped; data kept in .run/")
    else:
        running = stack.pg.initialised() and stack.pg.running()
        print(f"{'postgres':<16} {'running' if running else 'stopped'}")
        for component in COMPONENTS:
            pid = stack.pid(component.name)
            print(f"{component.name:<16} {f'running (pid {pid})' if pid else 'stopped'}")


if __name__ == "__main__":
    main()
