"""A small NetworkPolicy evaluator: may pod A open a TCP connection to pod B (or to an outside address) on a port?

It follows the Kubernetes semantics for what our manifests use: a pod with no policy of a direction is open in that
direction; once any policy of that direction selects it, only what some selecting policy's rule allows gets through;
a connection needs the source's egress and the destination's ingress. Peers are pod selectors in the same namespace,
namespace selectors, or address blocks; ports are numbers (named ports are resolved by the caller).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Pod:
    """A pod as policies see it: its namespace (and that namespace's labels) and its labels."""

    namespace: str
    labels: Labels
    namespace_labels: Labels


@dataclass(frozen=True)
class Address:
    """An address outside the cluster, e.g. the database or an image host."""

    ip: str


Peer = Pod | Address


def selects(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """Label selector semantics; an empty selector selects everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(rule_peer: Mapping[str, Any], peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in rule_peer:
        if not isinstance(peer, Address):
            return False
        block = rule_peer["ipBlock"]
        ip = ipaddress.ip_address(peer.ip)
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
    if not isinstance(peer, Pod):
        return False
    if "namespaceSelector" in rule_peer:
        if not selects(rule_peer["namespaceSelector"], peer.namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return selects(rule_peer.get("podSelector"), peer.labels)


def _port_matches(rule: Mapping[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in entry:
            return True
        start = entry["port"]
        if not isinstance(start, int):
            raise ValueError(f"named port {start!r} in a NetworkPolicy: use numbers so the policy reads on its own")
        if start <= port <= entry.get("endPort", start):
            return True
    return False


class Policies:
    """The NetworkPolicies of one rendered namespace."""

    def __init__(self, policies: list[dict[str, Any]], namespace: str) -> None:
        self._policies = policies
        self._namespace = namespace

    def _selecting(self, pod: Pod, direction: str) -> list[dict[str, Any]]:
        if pod.namespace != self._namespace:
            return []
        found = []
        for policy in self._policies:
            spec = policy["spec"]
            types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
            if direction in types and selects(spec.get("podSelector"), pod.labels):
                found.append(policy)
        return found

    def _allows(self, pod: Pod, direction: str, peer: Peer, port: int) -> bool:
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in selecting:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                peer_ok = not peers or any(_peer_matches(p, peer, self._namespace) for p in peers)
                if peer_ok and _port_matches(rule, port):
                    return True
        return False

    def connects(self, source: Pod, destination: Peer, port: int) -> bool:
        """Whether `source` may connect to `destination` on TCP `port`."""
        if not self._allows(source, "Egress", destination, port):
            return False
        if isinstance(destination, Pod):
            return self._allows(destination, "Ingress", source, port)
        return True

    def isolated(self, pod: Pod) -> bool:
        """Whether some policy selects the pod for both directions (so nothing unlisted gets in or out)."""
        return bool(self._selecting(pod, "Ingress")) and bool(self._selecting(pod, "Egress"))

    def admits(self, pod: Pod, source: Peer, port: int) -> bool:
        """Whether `pod` accepts a connection on `port` from `source` (e.g. a load balancer's address)."""
        return self._allows(pod, "Ingress", source, port)
