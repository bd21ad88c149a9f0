"""Our own rules for every pod we ship, on rendered objects: non-root and locked down, requests and limits set,
pinned images, probes (native gRPC against grpc.health.v1 for the services), a termination grace period that covers
each service's graceful shutdown, and ONNX Runtime threads that fit the CPU limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deploy.images import IMAGES
from deploy.render import Rendered

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
# Seconds after the runtime's own shutdown (server stop, then app stop, each up to SHUTDOWN_GRACE_SECONDS) that the
# process needs to close the pool and exit.
EXIT_MARGIN_S = 5


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    obj: dict[str, Any]

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.obj["spec"]["template"]["spec"]
        return spec

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.obj["spec"]["template"]["metadata"].get("labels", {})
        return labels

    @property
    def containers(self) -> list[dict[str, Any]]:
        return [*self.pod.get("initContainers", []), *self.pod["containers"]]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def workloads(rendered: Rendered) -> Iterator[Workload]:
    for obj in rendered.objects:
        if obj.get("kind") in WORKLOAD_KINDS:
            yield Workload(obj["kind"], obj["metadata"]["name"], obj)


def quantity(text: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores for CPU, bytes for memory); raises ValueError when malformed."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    return float(match.group(1)) * _SCALE[match.group(2)]


def container_env(rendered: Rendered, container: dict[str, Any]) -> dict[str, str]:
    """The literal environment a container gets from its ConfigMaps and `env` values (Secrets left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            config = rendered.named("ConfigMap", ref["name"])
            env.update((config or {}).get("data", {}))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env


def check_security(rendered: Rendered) -> list[str]:
    problems = []
    for w in workloads(rendered):
        pod_ctx = w.pod.get("securityContext", {})
        if w.pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{w}: automountServiceAccountToken must be false (no pod talks to the API server)")
        if pod_ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{w}: pod securityContext.seccompProfile.type must be RuntimeDefault")
        for c in w.containers:
            ctx = {**pod_ctx, **c.get("securityContext", {})}
            where = f"{w} container {c['name']}"
            if ctx.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot must be true")
            if ctx.get("runAsUser", 1) == 0 or ctx.get("runAsGroup", 1) == 0:
                problems.append(f"{where}: runs as uid/gid 0")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation must be false")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem must be true (mount an emptyDir where it writes)")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities must drop ALL")
            if ctx.get("privileged"):
                problems.append(f"{where}: privileged")
    return problems


def check_resources(rendered: Rendered) -> list[str]:
    problems = []
    for w in workloads(rendered):
        for c in w.containers:
            where = f"{w} container {c['name']}"
            resources = c.get("resources", {})
            for resource in ("cpu", "memory"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                if request is None or limit is None:
                    problems.append(f"{where}: {resource} request and limit must both be set")
                    continue
                try:
                    if quantity(request) > quantity(limit):
                        problems.append(f"{where}: {resource} request {request} exceeds its limit {limit}")
                except ValueError as exc:
                    problems.append(f"{where}: {resource}: {exc}")
    return problems


def check_images(rendered: Rendered) -> list[str]:
    problems = []
    for w in workloads(rendered):
        for c in w.containers:
            image: str = c.get("image", "")
            name, _, digest = image.partition("@")
            tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
            if not digest and not tag:
                problems.append(f"{w} container {c['name']}: image {image!r} has no tag or digest")
            elif tag == "latest":
                problems.append(f"{w} container {c['name']}: image {image!r} uses :latest")
    return problems


def _probe_port(probe: dict[str, Any]) -> tuple[str, Any]:
    for kind in ("grpc", "httpGet", "tcpSocket", "exec"):
        if kind in probe:
            return kind, probe[kind].get("port")
    return "none", None


def check_probes(rendered: Rendered) -> list[str]:
    problems = []
    for w in workloads(rendered):
        if w.kind == "Job":
            continue
        for c in w.pod["containers"]:
            where = f"{w} container {c['name']}"
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    problems.append(f"{where}: no {probe}")
            image = IMAGES.get(w.name)
            if image is None or "grpc" not in image.ports:
                continue
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe not in c:
                    if probe == "startupProbe" and w.name == "inference":
                        problems.append(f"{where}: inference needs a startupProbe (model load)")
                    continue
                kind, port = _probe_port(c[probe])
                if kind != "grpc" or port != image.ports["grpc"]:
                    problems.append(f"{where}: {probe} must be a native gRPC probe on {image.ports['grpc']}")
    return problems


def _pre_stop_seconds(container: dict[str, Any]) -> int:
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    if "exec" in pre_stop:
        # Python's `time.sleep(N)` or the shell's `sleep N` (the Envoy image has no Python).
        found = re.findall(r"time\.sleep\((\d+)\)|(?<![.\w])sleep (\d+)", " ".join(pre_stop["exec"]["command"]))
        return sum(int(a or b) for a, b in found)
    return 0


def check_termination_grace(rendered: Rendered) -> list[str]:
    """terminationGracePeriodSeconds >= preStop + 2 x SHUTDOWN_GRACE_SECONDS (server, then app) + exit margin."""
    problems = []
    for w in workloads(rendered):
        if w.kind == "Job":
            continue
        period = int(w.pod.get("terminationGracePeriodSeconds", 30))
        for c in w.pod["containers"]:
            grace_text = container_env(rendered, c).get("SHUTDOWN_GRACE_SECONDS")
            needed = _pre_stop_seconds(c) + (2 * float(grace_text) + EXIT_MARGIN_S if grace_text else 1)
            if period < needed:
                problems.append(
                    f"{w}: terminationGracePeriodSeconds {period} < {needed:g} needed by container {c['name']} "
                    f"(preStop {_pre_stop_seconds(c)} s, SHUTDOWN_GRACE_SECONDS {grace_text or 'n/a'})"
                )
    return problems


def check_inference_threads(rendered: Rendered) -> list[str]:
    """The inference pods size their model threads (INFERENCE_WORKERS batches at once, INFERENCE_THREADS each) to
    the CPU limit: the defaults come from os.cpu_count(), which sees the whole node."""
    problems = []
    for w in workloads(rendered):
        for c in w.pod["containers"]:
            env = container_env(rendered, c)
            workers, threads = env.get("INFERENCE_WORKERS"), env.get("INFERENCE_THREADS")
            if w.name == "inference" and w.kind == "Deployment" and workers is None:
                problems.append(f"{w}: set INFERENCE_WORKERS (the default, os.cpu_count(), sees the whole node)")
            limit = c.get("resources", {}).get("limits", {}).get("cpu")
            if workers is None or limit is None:
                continue
            if int(workers) * int(threads or 1) > max(1.0, quantity(limit)):
                problems.append(
                    f"{w}: INFERENCE_WORKERS={workers} x INFERENCE_THREADS={threads or 1} exceeds the CPU limit {limit}"
                )
    return problems


CHECKS = (
    check_security,
    check_resources,
    check_images,
    check_probes,
    check_termination_grace,
    check_inference_threads,
)
