"""Checks that alerts and the dashboard query metrics that exist: each name in a PromQL expression is defined by a
prometheus_client metric in our code (with its _bucket/_sum/_count series for histograms), by a recording rule in
the same PrometheusRule, or comes from a known exporter (kube-state-metrics, cAdvisor, Prometheus itself)."""

from __future__ import annotations

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


def _expressions(rendered: Rendered) -> Iterator[tuple[str, str]]:
    for rule_set in rendered.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                yield f"PrometheusRule {rule.get('alert') or rule.get('record')}", str(rule["expr"])
    for config in rendered.of_kind("ConfigMap"):
        for key, value in config.get("data", {}).items():
            if key.endswith(".json"):
                dashboard: dict[str, Any] = json.loads(value)
                for panel in dashboard.get("panels", []):
                    for target in panel.get("targets", []):
                        yield f"dashboard panel {panel['title']!r}", target["expr"]


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
