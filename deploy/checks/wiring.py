"""Checks that the rendered objects refer to each other correctly: every Service selects a workload and names its
ports, every service is autoscaled on its signal (HPA on CPU for the gateway; KEDA on Prometheus metrics for the
creator's in-flight RPCs and inference's queue depth; KEDA's PostgreSQL trigger on the CDN's jobs) and has a
PodDisruptionBudget, every ConfigMap and Secret a pod reads exists (or has a template), containers run their image's
entry point, and the migration Jobs run the same image tags as the Deployments they prepare."""

from __future__ import annotations

from typing import Any

from deploy.checks.network import selects
from deploy.checks.policies import Workload, workloads
from deploy.images import IMAGES, RENDERED_DIR, ROOT
from deploy.render import Rendered

CPU_SCALED = ("gateway",)
# Deployment -> the metric its KEDA Prometheus trigger must read.
PROMETHEUS_SCALED = {"creator": "grpc_server_in_flight_requests", "inference": "inference_queue_depth"}
QUEUE_SCALED = "cdn"


def _selected(rendered: Rendered, selector: dict[str, Any]) -> list[Workload]:
    if not selector:
        return []
    return [w for w in workloads(rendered) if w.kind != "Job" and selects({"matchLabels": selector}, w.labels)]


def check_services(rendered: Rendered) -> list[str]:
    problems = []
    for service in rendered.of_kind("Service"):
        name = service["metadata"]["name"]
        targets = _selected(rendered, service["spec"].get("selector", {}))
        if not any(w.kind in ("Deployment", "StatefulSet") for w in targets):
            problems.append(f"Service/{name}: its selector matches no Deployment or StatefulSet")
            continue
        named_ports = {p.get("name") for w in targets for c in w.pod["containers"] for p in c.get("ports", [])}
        numbers = {p["containerPort"] for w in targets for c in w.pod["containers"] for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if target not in (named_ports if isinstance(target, str) else numbers):
                problems.append(f"Service/{name}: targetPort {target!r} is not a container port of {targets[0]}")
    return problems


def _hpa_behaviour(behavior: dict[str, Any] | None, where: str) -> list[str]:
    window = (behavior or {}).get("scaleDown", {}).get("stabilizationWindowSeconds")
    if window is None or window < 60:
        return [f"{where}: set behavior.scaleDown.stabilizationWindowSeconds (>= 60) so replicas do not flap"]
    return []


def check_autoscaling(rendered: Rendered) -> list[str]:
    problems = []
    deployments = {o["metadata"]["name"]: o for o in rendered.of_kind("Deployment")}
    scaled: dict[str, str] = {}
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        name, spec = hpa["metadata"]["name"], hpa["spec"]
        target = spec["scaleTargetRef"]["name"]
        scaled[target] = f"HorizontalPodAutoscaler/{name}"
        if target not in deployments:
            problems.append(f"HorizontalPodAutoscaler/{name}: targets missing Deployment {target}")
        if not any(m.get("resource", {}).get("name") == "cpu" for m in spec.get("metrics", [])):
            problems.append(f"HorizontalPodAutoscaler/{name}: has no CPU metric")
        if spec.get("minReplicas", 1) > spec["maxReplicas"]:
            problems.append(f"HorizontalPodAutoscaler/{name}: minReplicas > maxReplicas")
        problems += _hpa_behaviour(spec.get("behavior"), f"HorizontalPodAutoscaler/{name}")
    for so in rendered.of_kind("ScaledObject"):
        name, spec = so["metadata"]["name"], so["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target in scaled:
            problems.append(f"ScaledObject/{name}: {target} is also scaled by {scaled[target]}")
        scaled[target] = f"ScaledObject/{name}"
        if target not in deployments:
            problems.append(f"ScaledObject/{name}: targets missing Deployment {target}")
        if spec.get("minReplicaCount", 0) < 1:
            problems.append(f"ScaledObject/{name}: minReplicaCount must be >= 1 (the same pods serve the gRPC API)")
        if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
            problems.append(f"ScaledObject/{name}: minReplicaCount > maxReplicaCount")
        behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
        problems += _hpa_behaviour(behavior, f"ScaledObject/{name}")
    for name, deployment in deployments.items():
        if name in IMAGES and name not in scaled:
            problems.append(f"Deployment/{name}: not autoscaled")
        if name in scaled and "replicas" in deployment["spec"]:
            problems.append(f"Deployment/{name}: drop spec.replicas; {scaled[name]} owns it (apply would reset it)")
    for name in CPU_SCALED:
        if name in deployments and not scaled.get(name, "").startswith("HorizontalPodAutoscaler/"):
            problems.append(f"Deployment/{name}: must scale on CPU with an HPA")
    for name, metric in PROMETHEUS_SCALED.items():
        if name not in deployments:
            continue
        scaler = rendered.named("ScaledObject", name)
        triggers = scaler["spec"]["triggers"] if scaler else []
        if not any(t["type"] == "prometheus" and metric in t["metadata"].get("query", "") for t in triggers):
            problems.append(f"Deployment/{name}: must scale with a KEDA prometheus trigger on {metric}")
    if QUEUE_SCALED in deployments:
        queue_scaler = rendered.named("ScaledObject", QUEUE_SCALED)
        triggers = queue_scaler["spec"]["triggers"] if queue_scaler else []
        if not any(t["type"] == "postgresql" and "cdn.jobs" in t["metadata"].get("query", "") for t in triggers):
            problems.append("ScaledObject/cdn: needs a postgresql trigger counting cdn.jobs")
    return problems


def check_disruption_budgets(rendered: Rendered) -> list[str]:
    budgets = rendered.of_kind("PodDisruptionBudget")
    problems = []
    for w in workloads(rendered):
        if w.kind == "Deployment" and not any(selects(b["spec"]["selector"], w.labels) for b in budgets):
            problems.append(f"{w}: no PodDisruptionBudget selects it")
    return problems


def _references(obj: dict[str, Any]) -> list[tuple[str, str, str | None, bool]]:
    """(kind, name, key, optional) of every ConfigMap/Secret a workload or TriggerAuthentication reads."""
    found: list[tuple[str, str, str | None, bool]] = []
    if obj["kind"] == "TriggerAuthentication":
        for ref in obj["spec"].get("secretTargetRef", []):
            found.append(("Secret", ref["name"], ref["key"], False))
        return found
    pod = obj["spec"]["template"]["spec"]
    for c in [*pod.get("initContainers", []), *pod["containers"]]:
        for source in c.get("envFrom", []):
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field in source:
                    found.append((kind, source[field]["name"], None, source[field].get("optional", False)))
        for item in c.get("env", []):
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = item.get("valueFrom", {}).get(field)
                if ref:
                    found.append((kind, ref["name"], ref["key"], ref.get("optional", False)))
    return found


def check_references(rendered: Rendered, templates: Rendered | None = None) -> list[str]:
    """Every referenced ConfigMap/Secret (and key) exists in the render; Secrets may instead exist as templates."""
    problems = []
    readers = [
        o for o in rendered.objects if o.get("kind") in (*("Deployment", "StatefulSet", "Job"), "TriggerAuthentication")
    ]
    for reader in readers:
        for kind, name, key, optional in _references(reader):
            found = rendered.named(kind, name) or (
                templates.named(kind, name) if templates and kind == "Secret" else None
            )
            where = f"{reader['kind']}/{reader['metadata']['name']}"
            if found is None:
                if not optional:
                    problems.append(f"{where}: reads {kind} {name}, which is neither rendered nor templated")
                continue
            keys = {**found.get("data", {}), **found.get("stringData", {})}
            if key is not None and key not in keys:
                problems.append(f"{where}: reads key {key} of {kind} {name}, which has no such key")
    return problems


def check_entrypoints(rendered: Rendered) -> list[str]:
    """Service containers run their own image with its ENTRYPOINT; migration Jobs run following.migrations."""
    problems = []
    for w in workloads(rendered):
        for c in w.pod["containers"]:
            repository = c["image"].partition("@")[0].rpartition(":")[0] or c["image"]
            image_name = repository.rpartition("/")[2]
            if w.kind == "Deployment" and w.name in IMAGES:
                if image_name != w.name:
                    problems.append(f"{w}: runs image {c['image']}, expected the {w.name} image")
                if "command" in c or "args" in c:
                    problems.append(f"{w}: overrides the image's entry point ({IMAGES[w.name].module})")
            if w.kind == "Job" and w.labels.get("app.kubernetes.io/component") == "migration":
                command = c.get("command", [])
                if command[:3] == ["python", "-m", "following.migrations"]:
                    schema, folder = command[3], command[4]
                    if image_name != schema or not (ROOT / folder).is_dir():
                        problems.append(f"{w}: migrates {schema} from {folder} with image {c['image']}")
    return problems


def _mounted(container: dict[str, Any], path: str) -> str | None:
    return next((m["name"] for m in container.get("volumeMounts", []) if m.get("mountPath") == path), None)


def check_render_steps(rendered: Rendered) -> list[str]:
    """An image whose code runs in a render stage (the gateway) runs it as the pod's init container, with its image's
    entry point, into a volume every main container mounts at the same path (launch.sh is sourced from there)."""
    problems = []
    for w in workloads(rendered):
        image = IMAGES.get(w.name)
        if w.kind != "Deployment" or image is None or not image.stage:
            continue
        steps = [c for c in w.pod.get("initContainers", []) if c["name"] == w.name]
        if not steps:
            problems.append(f"{w}: no init container {w.name} runs the {image.stage} step ({image.module})")
            continue
        step = steps[0]
        repository = step["image"].partition("@")[0].rpartition(":")[0] or step["image"]
        if repository.rpartition("/")[2] != f"{w.name}-{image.stage}":
            problems.append(
                f"{w}: init container {w.name} runs {step['image']}, expected the {w.name}-{image.stage} image"
            )
        if "command" in step or "args" in step:
            problems.append(f"{w}: init container {w.name} overrides the entry point ({' '.join(image.entrypoint)})")
        volume = _mounted(step, RENDERED_DIR)
        if volume is None:
            problems.append(f"{w}: init container {w.name} does not mount a volume at {RENDERED_DIR}")
        for c in w.pod["containers"]:
            if volume is not None and _mounted(c, RENDERED_DIR) != volume:
                problems.append(f"{w}: container {c['name']} does not mount volume {volume} at {RENDERED_DIR}")
    return problems


def check_migration_images(app: Rendered, migrate: Rendered) -> list[str]:
    """The migration Jobs of a release run exactly the image tags its Deployments run."""
    problems = []
    deployed = {
        c["image"].partition("@")[0].rpartition(":")[0]: c["image"] for w in workloads(app) for c in w.pod["containers"]
    }
    for w in workloads(migrate):
        for c in w.pod["containers"]:
            repository = c["image"].partition("@")[0].rpartition(":")[0]
            if deployed.get(repository) != c["image"]:
                problems.append(f"{w}: image {c['image']} differs from the Deployment's {deployed.get(repository)}")
    return problems


CHECKS = (check_services, check_autoscaling, check_disruption_budgets, check_entrypoints, check_render_steps)
