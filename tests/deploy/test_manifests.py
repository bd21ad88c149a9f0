"""Every rendered object is schema-valid and passes our pod and wiring rules; each rule catches its breakage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy.checks import policies, wiring
from deploy.checks.schemas import validate
from deploy.render import TARGETS, Rendered

Mutable = Callable[[str], Rendered]


def container(rendered: Rendered, name: str, kind: str = "Deployment") -> dict[str, Any]:
    obj = rendered.named(kind, name)
    assert obj is not None
    first: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return first


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_object_of_every_target_is_valid_against_its_schema(rendered: dict[str, Rendered], target: str) -> None:
    objects = rendered[target].objects
    assert objects
    assert [error for obj in objects for error in validate(obj)] == []


def test_application_overlays_contain_every_kind_the_deployment_needs(rendered: dict[str, Rendered]) -> None:
    for target in ("dev", "prod"):
        kinds = {obj["kind"] for obj in rendered[target].objects}
        assert {
            "Namespace", "Deployment", "Service", "ConfigMap", "ServiceAccount", "PodDisruptionBudget",
            "NetworkPolicy", "HorizontalPodAutoscaler", "ScaledObject", "TriggerAuthentication",
            "PrometheusRule", "ServiceMonitor",
        } <= kinds  # fmt: skip
    assert {obj["kind"] for obj in rendered["prod-migrate"].objects} == {"Namespace", "Job"}


def test_schema_validation_rejects_a_misspelled_field_and_a_bad_custom_resource(mutable: Mutable) -> None:
    prod = mutable("prod")
    creator = container(prod, "creator")
    creator["readinesProbe"] = creator.pop("readinessProbe")
    scaled = prod.named("ScaledObject", "cdn")
    assert scaled is not None
    scaled["spec"]["maxReplicas"] = 4
    rule = prod.named("PrometheusRule", "following")
    assert rule is not None
    rule["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    errors = [e for obj in prod.objects for e in validate(obj)]
    assert any("readinesProbe" in e for e in errors)
    assert any("ScaledObject/cdn" in e and "maxReplicas" in e for e in errors)
    assert any("PrometheusRule/following" in e and "ten minutes" in e for e in errors)


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_target_passes_the_pod_and_wiring_rules(rendered: dict[str, Rendered], target: str) -> None:
    for check in (*policies.CHECKS, *wiring.CHECKS):
        assert check(rendered[target]) == [], check.__name__


def test_security_rule_flags_root_writable_root_filesystem_and_kept_capabilities(mutable: Mutable) -> None:
    prod = mutable("prod")
    c = container(prod, "cdn")
    c["securityContext"] = {"runAsUser": 0, "readOnlyRootFilesystem": False, "allowPrivilegeEscalation": False}
    problems = policies.check_security(prod)
    assert any("cdn" in p and "uid/gid 0" in p for p in problems)
    assert any("cdn" in p and "readOnlyRootFilesystem" in p for p in problems)
    assert any("cdn" in p and "drop ALL" in p for p in problems)


def test_resource_rule_flags_a_missing_limit_and_a_request_above_its_limit(mutable: Mutable) -> None:
    prod = mutable("prod")
    del container(prod, "creator")["resources"]["limits"]["memory"]
    container(prod, "inference")["resources"]["requests"]["cpu"] = "3"
    problems = policies.check_resources(prod)
    assert any("creator" in p and "memory request and limit" in p for p in problems)
    assert any("inference" in p and "cpu request 3 exceeds" in p for p in problems)


def test_image_rule_flags_latest_and_untagged_images(mutable: Mutable) -> None:
    prod = mutable("prod")
    container(prod, "creator")["image"] = "registry.example.com/following/creator:latest"
    container(prod, "cdn")["image"] = "registry.example.com/following/cdn"
    problems = policies.check_images(prod)
    assert any(":latest" in p for p in problems)
    assert any("no tag or digest" in p for p in problems)


def test_probe_rule_wants_native_grpc_probes_and_a_startup_probe_for_inference(mutable: Mutable) -> None:
    prod = mutable("prod")
    container(prod, "creator")["readinessProbe"] = {"tcpSocket": {"port": 50051}}
    del container(prod, "inference")["startupProbe"]
    del container(prod, "gateway")["livenessProbe"]
    problems = policies.check_probes(prod)
    assert any("creator" in p and "readinessProbe must be a native gRPC probe" in p for p in problems)
    assert any("inference needs a startupProbe" in p for p in problems)
    assert any("gateway" in p and "no livenessProbe" in p for p in problems)


def test_grace_rule_flags_a_period_shorter_than_the_service_shutdown(mutable: Mutable) -> None:
    prod = mutable("prod")
    deployment = prod.named("Deployment", "cdn")
    assert deployment is not None
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    problems = policies.check_termination_grace(prod)
    assert problems == [
        "Deployment/cdn: terminationGracePeriodSeconds 30 < 50 needed by container cdn "
        "(preStop 5 s, SHUTDOWN_GRACE_SECONDS 20)"
    ]


def test_inference_threads_must_fit_the_cpu_limit(mutable: Mutable) -> None:
    prod = mutable("prod")
    config = next(o for o in prod.of_kind("ConfigMap") if o["metadata"]["name"].startswith("inference"))
    config["data"]["INFERENCE_THREADS"] = "2"
    assert policies.check_inference_threads(prod) == [
        "Deployment/inference: INFERENCE_WORKERS=2 x INFERENCE_THREADS=2 exceeds the CPU limit 2"
    ]
    del config["data"]["INFERENCE_WORKERS"]
    assert policies.check_inference_threads(prod) == [
        "Deployment/inference: set INFERENCE_WORKERS (the default, os.cpu_count(), sees the whole node)"
    ]


def test_a_service_that_selects_no_deployment_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    service = prod.named("Service", "inference")
    assert service is not None
    service["spec"]["selector"] = {"app.kubernetes.io/name": "inferense"}
    assert wiring.check_services(prod) == ["Service/inference: its selector matches no Deployment or StatefulSet"]


def test_autoscaling_rule_flags_double_scaling_pinned_replicas_and_missing_stabilisation(mutable: Mutable) -> None:
    prod = mutable("prod")
    hpa = prod.named("HorizontalPodAutoscaler", "gateway")
    assert hpa is not None
    del hpa["spec"]["behavior"]["scaleDown"]
    hpa["spec"]["scaleTargetRef"]["name"] = "cdn"
    deployment = prod.named("Deployment", "creator")
    assert deployment is not None
    deployment["spec"]["replicas"] = 3
    problems = wiring.check_autoscaling(prod)
    assert "ScaledObject/cdn: cdn is also scaled by HorizontalPodAutoscaler/gateway" in problems
    assert any("stabilizationWindowSeconds" in p for p in problems)
    assert "Deployment/gateway: not autoscaled" in problems
    assert any("Deployment/creator: drop spec.replicas" in p for p in problems)


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_creator_scales_on_in_flight_rpcs_inference_on_its_queue_and_the_cdn_on_its_jobs(
    rendered: dict[str, Rendered], target: str
) -> None:
    app = rendered[target]
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in app.of_kind("HorizontalPodAutoscaler")}
    assert targets == {"gateway"}
    scaled = app.named("ScaledObject", "cdn")
    assert scaled is not None
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and "cdn.jobs" in trigger["metadata"]["query"]
    assert scaled["spec"]["minReplicaCount"] >= 1
    namespace = "following" if target == "prod" else "following-dev"
    for name, metric in (("creator", "grpc_server_in_flight_requests"), ("inference", "inference_queue_depth")):
        scaler = app.named("ScaledObject", name)
        assert scaler is not None
        (trigger,) = scaler["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        assert f'{metric}{{namespace="{namespace}"' in trigger["metadata"]["query"]
        assert scaler["spec"]["minReplicaCount"] >= 1 and scaler["spec"]["fallback"]["replicas"] >= 1


def test_a_creator_back_on_a_cpu_hpa_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    scaler = prod.named("ScaledObject", "creator")
    assert scaler is not None
    scaler["spec"]["triggers"] = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}]
    assert wiring.check_autoscaling(prod) == [
        "Deployment/creator: must scale with a KEDA prometheus trigger on grpc_server_in_flight_requests"
    ]


def test_references_to_missing_secrets_and_keys_are_flagged(mutable: Mutable, rendered: dict[str, Rendered]) -> None:
    prod = mutable("prod")
    env = container(prod, "creator")["env"]
    env[0]["valueFrom"]["secretKeyRef"]["key"] = "DSN"
    env.append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "nowhere", "key": "X"}}})
    problems = wiring.check_references(prod, rendered["secrets"])
    assert "Deployment/creator: reads key DSN of Secret creator-database, which has no such key" in problems
    assert "Deployment/creator: reads Secret nowhere, which is neither rendered nor templated" in problems
    assert wiring.check_references(rendered["prod"], rendered["secrets"]) == []


def test_migration_jobs_run_the_image_tags_being_rolled_out(mutable: Mutable, rendered: dict[str, Rendered]) -> None:
    assert wiring.check_migration_images(rendered["prod"], rendered["prod-migrate"]) == []
    migrate = mutable("prod-migrate")
    container(migrate, "cdn-migrate", kind="Job")["image"] = "registry.example.com/following/cdn:0.0.9"
    problems = wiring.check_migration_images(rendered["prod"], migrate)
    assert problems == [
        "Job/cdn-migrate: image registry.example.com/following/cdn:0.0.9 differs from the Deployment's "
        "registry.example.com/following/cdn:0.1.0"
    ]


def _secrets_read(rendered: Rendered) -> dict[str, set[str]]:
    """Workload name -> the Secrets its containers read."""
    read: dict[str, set[str]] = {}
    for w in policies.workloads(rendered):
        names = read.setdefault(w.name, set())
        for c in w.pod["containers"]:
            names |= {s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s}
            names |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
    return read


def test_only_the_migration_jobs_hold_the_schema_owners_credentials_in_production(
    rendered: dict[str, Rendered],
) -> None:
    owners = {"creator-database-owner", "cdn-database-owner"}
    assert all(not (names & owners) for names in _secrets_read(rendered["prod"]).values())
    jobs = _secrets_read(rendered["prod-migrate"])
    assert (jobs["creator-migrate"], jobs["cdn-migrate"]) == ({"creator-database-owner"}, {"cdn-database-owner"})


def _gateway_pod(rendered: Rendered) -> dict[str, Any]:
    deployment = rendered.named("Deployment", "gateway")
    assert deployment is not None
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_gateway_pod_renders_its_config_in_an_init_container_envoy_starts_from(
    rendered: dict[str, Rendered],
) -> None:
    pod = _gateway_pod(rendered["prod"])
    (step,) = pod["initContainers"]
    assert step["image"].startswith("registry.example.com/following/gateway-render:")
    assert [c["name"] for c in pod["containers"]] == ["envoy"]
    assert wiring.check_render_steps(rendered["prod"]) == []


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda pod: pod.pop("initContainers"), "no init container gateway runs the render step"),
        (lambda pod: pod["initContainers"][0].update(command=["envoy"]), "overrides the entry point"),
        (lambda pod: pod["initContainers"][0].update(image="envoyproxy/envoy:v1.40.0"), "expected the gateway-render"),
        (lambda pod: pod["containers"][0]["volumeMounts"].pop(0), "container envoy does not mount volume rendered"),
    ],
)
def test_a_gateway_pod_without_its_render_step_is_flagged(
    mutable: Mutable, breakage: Callable[[dict[str, Any]], object], message: str
) -> None:
    prod = mutable("prod")
    breakage(_gateway_pod(prod))
    assert any(message in problem for problem in wiring.check_render_steps(prod))
