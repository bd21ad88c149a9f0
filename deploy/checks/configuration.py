"""Checks the settings the manifests give each service against the service itself: every key of its environment is
one its code reads (a typo would be silently ignored), and its own settings reader accepts the rendered values (run
in a subprocess with exactly the container's environment: Dockerfile ENV, then ConfigMaps, then Secrets). For the
gateway that means rendering the Envoy configuration and running `envoy --mode validate` on it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from deploy.checks.dockerfiles import code_stage
from deploy.checks.imports import image_files
from deploy.checks.policies import workloads
from deploy.images import IMAGES, ROOT, Image
from deploy.render import Rendered

# Read by libraries or the platform, not by our code.
EXTERNAL_KEYS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PATH",
}

_PYTHON_CHECK = (
    "import importlib, sys\n"
    "from following.settings import EnvReader, SettingsError\n"
    "env = EnvReader()\n"
    "try:\n"
    "    importlib.import_module(sys.argv[1]).build(env)\n"
    "    env.check()\n"
    "except SettingsError as exc:\n"
    "    sys.exit(str(exc))\n"
)


def image_env(image: Image) -> dict[str, str]:
    """The ENV of the stage that runs the image's code (only the simple KEY=VALUE forms our Dockerfiles use)."""
    env: dict[str, str] = {}
    for instruction in code_stage(image):
        if instruction.command == "ENV":
            for word in instruction.arguments.split():
                key, sep, value = word.partition("=")
                if sep:
                    env[key] = value
    return env


def _secret_values(rendered: Rendered, templates: Rendered | None, name: str) -> dict[str, str]:
    secret = rendered.named("Secret", name) or (templates.named("Secret", name) if templates else None)
    return {k: str(v) for k, v in ((secret or {}).get("stringData", {})).items()}


def container_environment(rendered: Rendered, templates: Rendered | None, container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update((rendered.named("ConfigMap", source["configMapRef"]["name"]) or {}).get("data", {}))
        if "secretRef" in source:
            env.update(_secret_values(rendered, templates, source["secretRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            env[item["name"]] = _secret_values(rendered, templates, ref["name"]).get(ref["key"], "")
    return env


def _service_containers(rendered: Rendered) -> list[tuple[Image, dict[str, Any]]]:
    return [
        (IMAGES[w.name], c)
        for w in workloads(rendered)
        if w.kind == "Deployment" and w.name in IMAGES
        # The gateway's code runs in its init container (the render step); the others' in their main container.
        for c in [*w.pod.get("initContainers", []), *w.pod["containers"]]
        if c["name"] == w.name
    ]


def check_keys_read(rendered: Rendered) -> list[str]:
    """Every variable a ConfigMap or `env` gives a service appears as a string in the code its image carries."""
    problems = []
    for image, container in _service_containers(rendered):
        code = "\n".join(path.read_text() for path in image_files(image))
        keys = set(container_environment(rendered, None, container)) | {e["name"] for e in container.get("env", [])}
        for key in sorted(keys - EXTERNAL_KEYS):
            if f'"{key}"' not in code:
                problems.append(f"Deployment/{image.name}: sets {key}, which no code of the {image.name} image reads")
    return problems


def _local_models_dir() -> str | None:
    from services.inference.modelcache import ModelsNotBuiltError, cache_root, current_build

    try:
        return str(current_build(cache_root()))
    except ModelsNotBuiltError:
        return None


def check_settings_accepted(rendered: Rendered, templates: Rendered | None) -> list[str]:
    """Each service's settings reader (or the gateway's renderer + `envoy --mode validate`) accepts its environment."""
    problems = []
    for image, container in _service_containers(rendered):
        env = {**image_env(image), **container_environment(rendered, templates, container)}
        if "MODELS_DIR" in env and not Path(env["MODELS_DIR"]).exists():
            local = _local_models_dir()
            if local is None:
                continue  # models not built here (`make models`); the image builds its own
            env["MODELS_DIR"] = local
        env.pop("GATEWAY_DESCRIPTOR", None)  # the image's path; here the generated one in gen/
        env.update(PATH=os.environ.get("PATH", ""), PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'gen'}")
        with tempfile.TemporaryDirectory(prefix="k8s-check-") as scratch:
            env["HOME"] = env["TMPDIR"] = scratch
            if image.name == "gateway":
                command = [sys.executable, "-m", image.module, "validate"]
            else:
                command = [sys.executable, "-c", _PYTHON_CHECK, image.module]
            result = subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            problems.append(f"Deployment/{image.name}: its settings are rejected: {' | '.join(output[-6:])}")
    return problems
