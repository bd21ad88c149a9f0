"""Checks that alerts, the dashboard and the Prometheus autoscaling triggers query metrics that exist: each name in a
PromQL expression is defined by a prometheus_client metric in our code (with its _bucket/_sum/_count series for
histograms), by a recording rule in the same PrometheusRule, or comes from a known exporter (kube-state-metrics,
cAdvisor, Prometheus itself); a matcher on one of our metrics names a label it carries (or one the scrape adds); every
dashboard query selects the dashboard's `$namespace`, every ScaledObject's Prometheus query its own namespace, and
every alert and recording rule keeps the `namespace` label through its aggregations (one Prometheus scrapes dev and
prod: an alert that sums them fires for neither by name)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploy.images import ROOT
from deploy.render import Rendered

EXTERNAL_PREFIXES = ("kube_", "container_", "envoy_")
EXTERNAL_NAMES = {"up"}
_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", re.S)
# Labels Prometheus adds to every series it scrapes through a ServiceMonitor, and the histogram/summary ones.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "service", "container", "endpoint", "le", "quantile"}
DASHBOARD_NAMESPACE = 'namespace="$namespace"'
# PromQL's aggregation operators; each drops every label its `by (...)` does not keep (or its `without (...)` names).
_AGGREGATION = re.compile(
    r"(?<![\w:])(sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*"
    r"(?:(by|without)\s*\(([^)]*)\)\s*)?\("
)
_GROUPING_AFTER = re.compile(r"\s*(by|without)\s*\(([^)]*)\)")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def defined_metrics(root: Path = ROOT) -> set[str]:
    """Every series name our code exports."""
    names: set[str] = set()
    for path in [*(root / "following").rglob("*.py"), *(root / "services").rglob("*.py")]:
        for kind, name in _DEFINITION.findall(path.read_text()):
            if kind == "Counter":
                base = name.removesuffix("_total")
                names.update({base, f"{base}_total"})
            elif kind in ("Histogram", "Summary"):
                names.update({name, f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            else:
                names.add(name)
    return names


def _constant_labels(node: ast.expr | None, constants: dict[str, ast.expr]) -> list[str] | None:
    """The label names of a `labelnames` argument: a list or tuple of strings, a module constant, `*CONSTANT`."""
    if node is None:
        return []
    if isinstance(node, ast.Name) and node.id in constants:
        return _constant_labels(constants[node.id], constants)
    if isinstance(node, ast.List | ast.Tuple):
        names: list[str] = []
        for item in node.elts:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                names.append(item.value)
            elif isinstance(item, ast.Starred):
                inner = _constant_labels(item.value, constants)
                if inner is None:
                    return None
                names += inner
            else:
                return None
        return names
    return None


def metric_labels(root: Path = ROOT) -> dict[str, set[str]]:
    """The label names of every series our code exports whose labels are written as constants."""
    labels: dict[str, set[str]] = {}
    for path in [*(root / "following").rglob("*.py"), *(root / "services").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            kind = node.func.id
            if kind not in ("Counter", "Gauge", "Histogram", "Summary") or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            keyword = next((k.value for k in node.keywords if k.arg == "labelnames"), None)
            found = _constant_labels(node.args[2] if len(node.args) > 2 else keyword, constants)
            if found is None:
                continue
            base = first.value.removesuffix("_total") if kind == "Counter" else first.value
            suffixes = {
                "Counter": ("", "_total"),
                "Histogram": ("", "_bucket", "_sum", "_count"),
                "Summary": ("", "_sum", "_count"),
            }.get(kind, ("",))
            for suffix in suffixes:
                labels[f"{base}{suffix}"] = set(found)
    return labels


def selectors(expr: str) -> Iterator[tuple[str, list[str]]]:
    """(series name, its label matchers as written) of every series selector in a PromQL expression."""
    names = metric_names(expr)
    for match in re.finditer(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr):
        name, braces = match.group(1), match.group(2)
        if name not in names or expr[match.end() :].lstrip().startswith("("):
            continue
        yield name, [m.strip() for m in (braces or "{}")[1:-1].split(",") if m.strip()]


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        token = match.group(0)
        if following.startswith("(") or token in _KEYWORDS or re.fullmatch(r"\d.*", token):
            continue
        names.add(token)
    return names


def scaler_queries(rendered: Rendered) -> Iterator[tuple[str, str, str]]:
    """(where, the ScaledObject's namespace, query) of every KEDA Prometheus trigger."""
    for scaled in rendered.of_kind("ScaledObject"):
        for trigger in scaled["spec"].get("triggers", []):
            if trigger["type"] == "prometheus":
                where = f"ScaledObject/{scaled['metadata']['name']} trigger {trigger.get('name', '')}".strip()
                yield where, scaled["metadata"].get("namespace", ""), str(trigger["metadata"].get("query", ""))


def _dashboard_queries(rendered: Rendered) -> Iterator[tuple[str, str]]:
    for config in rendered.of_kind("ConfigMap"):
        for key, value in config.get("data", {}).items():
            if key.endswith(".json"):
                dashboard: dict[str, Any] = json.loads(value)
                for panel in dashboard.get("panels", []):
                    for target in panel.get("targets", []):
                        yield f"dashboard panel {panel['title']!r}", target["expr"]


def _expressions(rendered: Rendered) -> Iterator[tuple[str, str]]:
    for rule_set in rendered.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                yield f"PrometheusRule {rule.get('alert') or rule.get('record')}", str(rule["expr"])
    yield from _dashboard_queries(rendered)
    for where, _, query in scaler_queries(rendered):
        yield where, query


def check_metric_names(rendered: Rendered) -> list[str]:
    known = defined_metrics()
    recorded = {
        rule["record"]
        for r in rendered.of_kind("PrometheusRule")
        for g in r["spec"]["groups"]
        for rule in g["rules"]
        if "record" in rule
    }
    problems = []
    for where, expr in _expressions(rendered):
        for name in sorted(metric_names(expr)):
            external = name in EXTERNAL_NAMES or name.startswith(EXTERNAL_PREFIXES)
            if name not in known and name not in recorded and not external:
                problems.append(f"{where}: queries {name}, which no code exports")
    return problems


def check_label_names(rendered: Rendered) -> list[str]:
    """A matcher on a label our metric does not carry selects nothing, silently: flag it."""
    labels = metric_labels()
    problems = []
    for where, expr in _expressions(rendered):
        for name, matchers in selectors(expr):
            if name not in labels:
                continue
            for matcher in matchers:
                label = re.split(r"\s*(=~|!~|!=|=)", matcher, maxsplit=1)[0]
                if label not in labels[name] and label not in TARGET_LABELS:
                    carried = ", ".join(sorted(labels[name])) or "none"
                    problems.append(f"{where}: {name} has no label {label!r} (its labels: {carried})")
    return problems


def check_namespace_filters(rendered: Rendered) -> list[str]:
    """Every dashboard selector picks `$namespace`, every autoscaling query its ScaledObject's own namespace."""
    problems = []
    for where, expr in _dashboard_queries(rendered):
        for name, matchers in selectors(expr):
            if DASHBOARD_NAMESPACE not in [m.replace(" ", "") for m in matchers]:
                problems.append(f"{where}: {name} is not filtered by {DASHBOARD_NAMESPACE}")
    for where, namespace, query in scaler_queries(rendered):
        wanted = f'namespace="{namespace}"'
        for name, matchers in selectors(query):
            if wanted not in [m.replace(" ", "") for m in matchers]:
                problems.append(f"{where}: {name} is not filtered by {wanted} (the ScaledObject's namespace)")
    return problems


def _closing(text: str, opening: int) -> int:
    """The index of the parenthesis closing the one at `opening`."""
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return len(text)


def namespace_dropped(expr: str) -> list[str]:
    """The aggregations of a PromQL expression that drop the `namespace` label, as `op by (labels)` (or `op` alone)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    dropped = []
    for match in _AGGREGATION.finditer(text):
        clause, labels = match.group(2), match.group(3)
        if clause is None:
            after = _GROUPING_AFTER.match(text, _closing(text, match.end() - 1) + 1)
            clause, labels = (after.group(1), after.group(2)) if after else (None, "")
        kept = {label.strip() for label in (labels or "").split(",")}
        keeps = "namespace" in kept if clause == "by" else clause == "without" and "namespace" not in kept
        if keeps:
            continue
        dropped.append(f"{match.group(1)} {clause} ({labels})" if clause else match.group(1))
    return dropped


def check_alert_namespaces(rendered: Rendered) -> list[str]:
    """Every alert and recording rule aggregates by `namespace` (among its labels), so dev and prod stay apart."""
    problems = []
    for rule_set in rendered.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                for aggregation in namespace_dropped(str(rule["expr"])):
                    problems.append(
                        f"PrometheusRule {rule.get('alert') or rule.get('record')}: `{aggregation}` drops the "
                        "namespace label (one Prometheus scrapes dev and prod): aggregate by (namespace, ...)"
                    )
    return problems
