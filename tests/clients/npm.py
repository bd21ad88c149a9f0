"""Running the npm packages under clients/ from tests: where they are, and whether `npm ci` has run there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"


def require_installed(package: str) -> Path:
    """The package folder; skips when node or its node_modules is missing, unless FOLLOWING_REQUIRE_CLIENTS=1 (set by
    `make test`), where that is a failure."""
    folder = CLIENTS / package
    missing = shutil.which("node") is None or not (folder / "node_modules").is_dir()
    if missing:
        message = f"node or {folder}/node_modules is missing: run `make setup`"
        if os.environ.get("FOLLOWING_REQUIRE_CLIENTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return folder


def npm(folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> None:
    """Runs an npm script, failing the test with its output when it exits non-zero."""
    done = subprocess.run(
        ["npm", "run", "--silent", *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        pytest.fail(f"npm run {' '.join(args)} exited {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}")
