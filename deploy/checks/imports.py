"""Proves each image installs what its code imports: every import in the files an image copies resolves to the
standard library, to code the image carries (its folders or gen/), or to a distribution installed by the image's
pinned list in deploy/images.py (or one of their dependencies). Resolution uses this venv's installed files."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.metadata
import os
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement

from deploy.images import IMAGES, ROOT, Image, canonical, requirement_names

GENERATED = ROOT / "gen"


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a file imports (anywhere in it, including inside functions)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from google.api import annotations_pb2`: the submodule has a file, the namespace package has none.
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def image_files(image: Image) -> list[Path]:
    """The Python files of the image's own code, without test or build-only code (gen/ is followed from imports)."""
    files: list[Path] = []
    for entry in image.code:
        path = ROOT / entry
        found = [path] if path.is_file() else sorted(path.rglob("*.py"))
        files.extend(f for f in found if "tests" not in f.parts and "modelbuild" not in f.parts and f.suffix == ".py")
    return files


@cache
def _top_level() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def _files(distribution: str) -> set[Path]:
    """The files a distribution installed, as absolute paths below its resolved installation folder."""
    dist = importlib.metadata.distribution(distribution)
    base = Path(str(dist.locate_file(""))).resolve()
    return {Path(os.path.normpath(base / str(file))) for file in dist.files or []}


def _spec_origin(module: str) -> Path | None:
    """The file a module loads from: the module itself, else the nearest parent that has one. Found on sys.path
    package by package, without importing anything (importing `optimum.exporters.onnx` to find it would load torch)."""
    origin: str | None = None
    search: list[str] = sys.path
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, search)
        except KeyError:  # a namespace package inside a package not imported: PathFinder wants the parent loaded
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            break
        if spec.submodule_search_locations is None:  # a module, not a package
            origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else origin
            break
        if spec.origin not in (None, "namespace"):
            origin = spec.origin
            search = list(spec.submodule_search_locations)
        else:  # a namespace package: the folders of that name on the search path
            search = [os.path.join(d, parts[end - 1]) for d in search if os.path.isdir(os.path.join(d, parts[end - 1]))]
    return Path(origin).resolve() if origin is not None else None


def distribution_of(module: str) -> str | None:
    """The distribution that installed a module, or None for the standard library and our own code."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return None
    origin = _spec_origin(module)
    if origin is None:
        raise ModuleNotFoundError(module)
    if origin.is_relative_to(ROOT) and ".venv" not in origin.relative_to(ROOT).parts:
        return None
    for candidate in _top_level().get(top, []):
        if origin in _files(candidate):
            return canonical(candidate)
    raise ModuleNotFoundError(f"{module}: {origin} belongs to no installed distribution")


def _generated_files(module: str) -> list[Path]:
    """The gen/ files importing `module` executes: each package's __init__ on the way and the module itself."""
    parts = module.split(".")
    files = [GENERATED.joinpath(*parts[:end], "__init__.py") for end in range(1, len(parts) + 1)]
    files.append(GENERATED.joinpath(*parts).with_suffix(".py"))
    return [f for f in files if f.is_file()]


def closure(names: tuple[str, ...]) -> set[str]:
    """The distributions pip installs for `names` here: them and their dependencies (extras and markers applied)."""
    seen: set[str] = set()
    pending = [canonical(n) for n in names]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            # Extras are not asked for; other markers as this interpreter reads them (async-timeout: Python < 3.11).
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return seen


def _local_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_image_imports(image: Image, start: list[Path] | None = None, check_unused: bool = True) -> list[str]:
    """Each import (followed through our own modules from `start`, by default all the image's code) is installed by
    the image; with `check_unused`, each distribution the image lists is needed by some import."""
    installed = closure(image.distributions)
    carried = [ROOT / entry for entry in image.code]
    problems: list[str] = []
    used: set[str] = set()
    pending, seen = start if start is not None else image_files(image), set()
    generated = {p.name for p in GENERATED.iterdir() if p.is_dir()} if GENERATED.is_dir() else set()
    while pending:
        file = pending.pop()
        if file in seen:
            continue
        seen.add(file)
        for module in sorted(imported_modules(file)):
            where = f"{image.name} image: {file.relative_to(ROOT)} imports {module}"
            if module.split(".")[0] in generated:
                pending.extend(_generated_files(module))
                continue
            if module.split(".")[0] in ("following", "services"):
                target = ROOT / module.replace(".", "/")
                if not any(target == c or c in target.parents or target.with_suffix(".py") == c for c in carried):
                    problems.append(f"{where}, which the image does not copy")
                local = _local_file(module)
                if local is not None:
                    pending.append(local)
                continue
            try:
                owner = distribution_of(module)
            except ModuleNotFoundError as exc:
                problems.append(f"{where}, which does not resolve here ({exc})")
                continue
            if owner is not None:
                used.add(owner)
                if owner not in installed:
                    problems.append(f"{where} from {owner}, which deploy/images.py does not install")
    needed = closure(tuple(used))
    for name in image.distributions if check_unused else ():
        if canonical(name) not in needed:
            problems.append(f"{image.name} image: installs {name}, which none of its code imports (keep images slim)")
    return problems


def check_model_build_imports() -> list[str]:
    """The inference image's `models` stage: modelbuild's imports are installed by the `models` requirement set."""
    stage = Image(
        name="inference (models stage)",
        module="services.inference.modelbuild",
        code=("services/__init__.py", "services/inference"),
        distributions=tuple(requirement_names("models")),
    )
    start = sorted((ROOT / "services" / "inference" / "modelbuild").glob("*.py"))
    return check_image_imports(stage, start, check_unused=False)


def check_imports() -> list[str]:
    found = [problem for image in IMAGES.values() for problem in check_image_imports(image)]
    return found + check_model_build_imports()
