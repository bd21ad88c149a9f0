"""Offline schema validation: built-in kinds against kubernetes-validate's Kubernetes schemas (strict: unknown fields
fail), custom resources (KEDA, Prometheus operator) against the CRD schemas vendored in `deploy/crds/`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

KUBERNETES_VERSION = "1.37.0"
CRDS = Path(__file__).resolve().parents[1] / "crds"


def crd_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return CRDS / f"{group}_{version}_{kind.lower()}.json"


@cache
def _crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def is_custom(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validate(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of one object, as `Kind/name: path: message` lines (empty when valid)."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    label = f"{kind}/{obj.get('metadata', {}).get('name', '?')}"
    if is_custom(api_version):
        path = crd_file(api_version, kind)
        if not path.exists():
            return [f"{label}: no vendored schema for {api_version} {kind} (add {path.name} to deploy/crds)"]
        errors = sorted(_crd_validator(path).iter_errors(obj), key=lambda e: list(e.absolute_path))
        return [f"{label}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(map(str, exc.absolute_path)) or "<root>"
        return [f"{label}: {where}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{label}: {exc.message}"]
    return []
