"""`make models` decides from the models lock, without torch installed, whether the cache already has the build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.inference.modelbuild.buildkey import (
    build_hash,
    installed_versions,
    locked_versions,
    parse_args,
)
from services.inference.modelcache import CACHE_ENV, POINTER_NAME

ROOT = Path(__file__).resolve().parents[2]


def check(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CACHE_ENV: str(cache)}
    command = [sys.executable, "-m", "services.inference.modelbuild.buildkey"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_cache_check_loads_none_of_the_model_build_tools() -> None:
    probe = (
        "import sys, services.inference.modelbuild.buildkey\n"
        "print(sorted(m for m in ('torch', 'onnx', 'transformers', 'optimum', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_check_and_the_build_compute_the_same_key_once_the_lock_is_installed() -> None:
    args = parse_args([])
    assert build_hash(args, locked_versions()) == build_hash(args, installed_versions())


def test_an_empty_cache_is_a_miss_and_a_cache_holding_the_build_a_hit(tmp_path: Path) -> None:
    missed = check(tmp_path)
    assert missed.returncode == 1 and f"no build {build_hash(parse_args([]), locked_versions())}" in missed.stdout
    assert not (tmp_path / POINTER_NAME).exists()
    digest = build_hash(parse_args([]), locked_versions())
    (tmp_path / digest).mkdir()
    (tmp_path / digest / "manifest.json").write_text("{}")
    hit = check(tmp_path)
    assert hit.returncode == 0 and "models up to date" in hit.stdout
    assert (tmp_path / POINTER_NAME).read_text().strip() == digest


def test_a_production_model_option_changes_the_key() -> None:
    versions = locked_versions()
    default = build_hash(parse_args([]), versions)
    assert build_hash(parse_args(["--sentiment-model", "/models/xlm-r"]), versions) != default


def test_a_lock_without_a_build_tool_pin_is_an_error(tmp_path: Path) -> None:
    lock = tmp_path / "models.txt"
    lock.write_text("numpy==2.4.6 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(LookupError, match=r"no pin for .*torch"):
        locked_versions(lock)
