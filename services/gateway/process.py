"""A supervised Envoy child process: start it on a rendered config, wait until it is ready, find its ports, stop it.

Used by the tests, the benchmark and the local stack; production runs `python -m services.gateway.run` instead.
Ports may be 0 in the settings: the real ones are read back from the admin API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.gateway.config import Rendered
from services.gateway.run import envoy_command, envoy_environment, write_config
from services.gateway.settings import GatewaySettings


class EnvoyStartError(RuntimeError):
    """Envoy exited or did not become ready in time; the message holds the end of its log."""


@dataclass
class EnvoyProcess:
    process: subprocess.Popen[bytes]
    admin_url: str
    listen_port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.listen_port}"

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(self.admin_url + path, timeout=5) as response:
            body: bytes = response.read()
        return body.decode()

    def listener_port(self, name: str) -> int:
        """The bound port of listener `name` ("api", "metrics"), from the admin API."""
        for listener in json.loads(self.admin("/listeners?format=json")).get("listener_statuses", []):
            if listener.get("name") == name:
                port: int = listener["local_address"]["socket_address"]["port_value"]
                return port
        raise KeyError(f"no listener {name!r}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def start_envoy(settings: GatewaySettings, rendered: Rendered, workdir: Path, timeout: float = 20.0) -> EnvoyProcess:
    """Starts Envoy and returns once the admin API answers /ready with LIVE; raises EnvoyStartError otherwise."""
    config = write_config(rendered, workdir)
    admin_path = workdir / "admin-address"
    log_path = workdir / "envoy.log"
    admin_path.unlink(missing_ok=True)
    command = [*envoy_command(config, settings), "--admin-address-path", str(admin_path)]
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(
        command, env=envoy_environment(rendered, os.environ), stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EnvoyStartError(f"envoy exited with {process.returncode}:\n{_tail(log_path)}")
            address = admin_path.read_text().strip() if admin_path.exists() else ""
            if address:
                admin_url = f"http://{address}"
                port = _ready_listen_port(admin_url)
                if port is not None:
                    return EnvoyProcess(process, admin_url, port, log_path)
            time.sleep(0.02)
        raise EnvoyStartError(f"envoy not ready after {timeout} s:\n{_tail(log_path)}")
    except BaseException:
        process.kill()
        process.wait()
        raise


def _ready_listen_port(admin_url: str) -> int | None:
    try:
        with urllib.request.urlopen(admin_url + "/ready", timeout=2) as response:
            if response.read().strip() != b"LIVE":
                return None
        with urllib.request.urlopen(admin_url + "/listeners?format=json", timeout=2) as response:
            listeners = json.loads(response.read())
    except (urllib.error.URLError, ConnectionError):
        return None
    for listener in listeners.get("listener_statuses", []):
        if listener.get("name") == "api":
            port: int = listener["local_address"]["socket_address"]["port_value"]
            return port
    return None
