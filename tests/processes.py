"""Runs services as real child processes for tests: spawn, wait until SERVING, kill -9 or stop gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from following.healthcheck import wait_serving
from scripts.pgcluster import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ServiceProcess:
    module: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "GRPC_LISTEN": self.address, "METRICS_LISTEN": "off", **self.env}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    async def start_serving(self, deadline_s: float = 60.0) -> None:
        self.start()
        try:
            await wait_serving(self.address, deadline_s)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; exit code {self.proc and self.proc.poll()}; log:\n{self.log_tail()}") from exc

    def kill(self) -> None:
        """SIGKILL: the crash case, no cleanup at all."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the graceful case. Returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
