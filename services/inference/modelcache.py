"""Where built model folders live: a cache outside the repository, one folder per build-input hash.

`make models` writes `<cache>/<hash>/` and then the pointer file `<cache>/current` naming that hash. The service reads
`MODELS_DIR` when set, else follows the pointer. Nothing here imports torch: the service uses it at start-up. The
variables are read with the services' reader (`following.settings.EnvReader`, standard library only, as the build
check needs).
"""

from __future__ import annotations

import os
from pathlib import Path

from following.settings import EnvReader

CACHE_ENV = "FOLLOWING_MODELS_CACHE"
POINTER_NAME = "current"


class ModelsNotBuiltError(RuntimeError):
    """No MODELS_DIR was given and `make models` has not written a build yet."""


def cache_root(env: EnvReader | None = None) -> Path:
    """The cache folder: `$FOLLOWING_MODELS_CACHE`, else `~/.cache/following/models`."""
    configured = (env or EnvReader()).optional_text(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "following" / "models"


def build_dir(root: Path, build_hash: str) -> Path:
    return root / build_hash


def write_pointer(root: Path, build_hash: str) -> None:
    """Point `current` at a finished build (atomic replace, so readers never see half a name)."""
    tmp = root / f".{POINTER_NAME}.{os.getpid()}"
    tmp.write_text(build_hash + "\n", encoding="utf-8")
    tmp.replace(root / POINTER_NAME)


def current_build(root: Path) -> Path:
    """The folder the pointer names; raises ModelsNotBuiltError when there is none."""
    pointer = root / POINTER_NAME
    if not pointer.is_file():
        raise ModelsNotBuiltError(f"no built models under {root}: run `make models` or set MODELS_DIR")
    folder = build_dir(root, pointer.read_text(encoding="utf-8").strip())
    if not (folder / "manifest.json").is_file():
        raise ModelsNotBuiltError(
            f"{root / POINTER_NAME} names {folder}, which has no manifest.json: run `make models`"
        )
    return folder


def resolve_models_dir(configured: str | None, env: EnvReader | None = None) -> Path:
    """MODELS_DIR when given (must hold manifest.json), else the build the cache's pointer names (the cache folder
    read from `env`, by default the process environment)."""
    if configured:
        folder = Path(configured).expanduser()
        if not (folder / "manifest.json").is_file():
            raise ModelsNotBuiltError(f"MODELS_DIR={configured} has no manifest.json")
        return folder
    return current_build(cache_root(env))
