"""Where built model folders live: a cache outside the repository, one folder per build-input hash.

`make models` writes `<cache>/<hash>/` and then the pointer file `<cache>/current` naming that hash. The service reads
`MODELS_DIR` when set, else follows the pointer. Nothing here imports torch: the service uses it at start-up.

Standard library only: the build tools (modelbuild/) import it in the inference image's `models` stage, which carries
no `following/`, so `cache_root` reads `FOLLOWING_MODELS_CACHE` itself. The service reads both variables with its
settings reader (services/inference/settings.py) and hands them to `resolve_models_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "FOLLOWING_MODELS_CACHE"
POINTER_NAME = "current"


class ModelsNotBuiltError(RuntimeError):
    """No MODELS_DIR was given and `make models` has not written a build yet."""


def default_cache() -> Path:
    """The cache folder when `FOLLOWING_MODELS_CACHE` is not set."""
    return Path.home() / ".cache" / "following" / "models"


def cache_root(configured: str | None = None) -> Path:
    """The cache folder: `configured` when given, else `$FOLLOWING_MODELS_CACHE`, else `default_cache()`."""
    configured = (configured or os.environ.get(CACHE_ENV, "")).strip()
    if configured:
        return Path(configured).expanduser()
    return default_cache()


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


def resolve_models_dir(configured: str | None, cache: Path | None = None) -> Path:
    """MODELS_DIR when given (must hold manifest.json), else the build the pointer of the cache names (`cache`, by
    default `cache_root()`)."""
    if configured:
        folder = Path(configured).expanduser()
        if not (folder / "manifest.json").is_file():
            raise ModelsNotBuiltError(f"MODELS_DIR={configured} has no manifest.json")
        return folder
    return current_build(cache if cache is not None else cache_root())
