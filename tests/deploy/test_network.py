"""The NetworkPolicies allow exactly the intended traffic; the evaluator follows Kubernetes' rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deploy.checks.network import Address, Pod, Policies
from deploy.checks.traffic import check_traffic
from deploy.render import Rendered

Mutable = Callable[[str], Rendered]
NS = {"kubernetes.io/metadata.name": "app"}


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_rendered_policies_allow_exactly_the_intended_connections(rendered: dict[str, Rendered], target: str) -> None:
    assert check_traffic(rendered[target]) == []


def test_without_the_default_deny_the_inference_pod_is_no_longer_isolated(mutable: Mutable) -> None:
    prod = mutable("prod")
    dropped = {("NetworkPolicy", "default-deny"), ("NetworkPolicy", "inference")}
    prod.objects[:] = [o for o in prod.objects if (o["kind"], o["metadata"]["name"]) not in dropped]
    problems = check_traffic(prod)
    assert "inference: no NetworkPolicy isolates it in both directions (default-deny missing?)" in problems
    assert "outside -> inference:50052: allowed, expected blocked" in problems


def test_opening_the_inference_port_to_any_source_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    policy = prod.named("NetworkPolicy", "inference")
    assert policy is not None
    del policy["spec"]["ingress"][0]["from"]
    assert check_traffic(prod) == [
        "outside -> inference:50052: allowed, expected blocked",
        "prometheus -> inference:50052: allowed, expected blocked",
    ]


def test_the_gateway_cannot_call_inference_even_if_inference_admits_it(mutable: Mutable) -> None:
    prod = mutable("prod")
    policy = prod.named("NetworkPolicy", "inference")
    assert policy is not None
    policy["spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}})
    assert check_traffic(prod) == []
    gateway = prod.named("NetworkPolicy", "gateway")
    assert gateway is not None
    gateway["spec"]["egress"].append({"to": [{"podSelector": {}}]})
    assert "gateway -> inference:50052: allowed, expected blocked" in check_traffic(prod)


def test_letting_the_gateway_reach_the_database_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    gateway = prod.named("Deployment", "gateway")
    assert gateway is not None
    gateway["spec"]["template"]["metadata"]["labels"]["following.dev/database-client"] = "true"
    assert check_traffic(prod) == ["gateway -> PostgreSQL:5432: allowed, expected blocked"]


def test_ip_block_exceptions_keep_cloud_metadata_closed() -> None:
    policy = {
        "metadata": {"name": "internet"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}], "ports": [{"port": 443}]}
            ],
        },
    }
    policies = Policies([policy], "app")
    pod = Pod("app", {"app.kubernetes.io/name": "cdn"}, NS)
    assert policies.connects(pod, Address("157.240.1.63"), 443)
    assert not policies.connects(pod, Address("169.254.169.254"), 443)
    assert not policies.connects(pod, Address("157.240.1.63"), 80)


def test_a_pod_no_policy_selects_is_open_and_namespace_selectors_need_matching_labels() -> None:
    policy = {
        "metadata": {"name": "only-monitoring"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "api"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}
            ],
        },
    }
    policies = Policies([policy], "app")
    api, other = Pod("app", {"role": "api"}, NS), Pod("app", {"role": "batch"}, NS)
    prometheus = Pod("monitoring", {}, {"kubernetes.io/metadata.name": "monitoring"})
    assert policies.connects(api, other, 80)
    assert not policies.connects(other, api, 80)
    assert policies.connects(prometheus, api, 9101)
