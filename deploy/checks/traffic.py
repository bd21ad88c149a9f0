"""Who may talk to whom, as rendered NetworkPolicies allow it, against the intended topology:

- from outside the namespace only the gateway is reachable (its HTTP port), plus Prometheus on the metrics ports;
- between services: gateway -> creator, gateway -> cdn, creator -> inference, creator -> cdn, and nothing else;
- PostgreSQL is reached by the creator and CDN services and the migration/bootstrap Jobs only;
- public internet (HTTP/S) by the CDN (image hosts, object storage), the creator (Instagram) and the gateway (JWKS);
  never private ranges or the cloud metadata address.
"""

from __future__ import annotations

from deploy.checks.network import Address, Pod, Policies
from deploy.checks.policies import workloads
from deploy.images import IMAGES
from deploy.render import Rendered

SERVICE_CALLS = {("gateway", "creator"), ("gateway", "cdn"), ("creator", "inference"), ("creator", "cdn")}
DATABASE_CLIENTS = {"creator", "cdn"}
INTERNET_CLIENTS = {"gateway", "creator", "cdn"}
OUTSIDE = Address("198.51.100.7")  # a load balancer or any outside client
PUBLIC_HOST = Address("157.240.1.63")  # an Instagram image host
METADATA = Address("169.254.169.254")  # cloud instance metadata
PRIVATE = Address("10.1.2.3")
EXTERNAL_DATABASE = Address("203.0.113.10")
MONITORING = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}, {"kubernetes.io/metadata.name": "monitoring"})


def _namespace(rendered: Rendered) -> tuple[str, dict[str, str]]:
    namespaces = rendered.of_kind("Namespace")
    name = namespaces[0]["metadata"]["name"] if namespaces else "default"
    labels = {
        **(namespaces[0]["metadata"].get("labels", {}) if namespaces else {}),
        "kubernetes.io/metadata.name": name,
    }
    return name, labels


def check_traffic(rendered: Rendered) -> list[str]:
    if not rendered.of_kind("NetworkPolicy"):
        return []
    namespace, namespace_labels = _namespace(rendered)
    policies = Policies(rendered.of_kind("NetworkPolicy"), namespace)
    pods = {w.name: Pod(namespace, w.labels, namespace_labels) for w in workloads(rendered)}
    services = {name: pod for name, pod in pods.items() if name in IMAGES}
    in_cluster_db = pods.get("postgres")
    database = in_cluster_db or EXTERNAL_DATABASE
    problems = []

    def expect(allowed: bool, actual: bool, what: str) -> None:
        if allowed != actual:
            problems.append(
                f"{what}: {'blocked' if allowed else 'allowed'}, expected {'allowed' if allowed else 'blocked'}"
            )

    for name, pod in pods.items():
        if not policies.isolated(pod):
            problems.append(f"{name}: no NetworkPolicy isolates it in both directions (default-deny missing?)")
    for source, source_pod in services.items():
        for target, target_pod in services.items():
            for port in IMAGES[target].ports.values():
                allowed = (source, target) in SERVICE_CALLS and port == IMAGES[target].ports.get("grpc")
                expect(allowed, policies.connects(source_pod, target_pod, port), f"{source} -> {target}:{port}")
    for target, pod in services.items():
        for kind, port in IMAGES[target].ports.items():
            public = target == "gateway" and kind == "http"
            expect(public, policies.admits(pod, OUTSIDE, port), f"outside -> {target}:{port}")
            expect(
                kind == "metrics" or public,
                policies.connects(MONITORING, pod, port),
                f"prometheus -> {target}:{port}",
            )
    for name, pod in pods.items():
        if name == "postgres":
            continue
        client = name in DATABASE_CLIENTS or pod.labels.get("app.kubernetes.io/component") == "migration"
        expect(client, policies.connects(pod, database, 5432), f"{name} -> PostgreSQL:5432")
        internet = name in INTERNET_CLIENTS
        expect(internet, policies.connects(pod, PUBLIC_HOST, 443), f"{name} -> public host:443")
        expect(False, policies.connects(pod, METADATA, 80), f"{name} -> cloud metadata:80")
        expect(False, policies.connects(pod, PRIVATE, 443), f"{name} -> private address:443")
    return problems
