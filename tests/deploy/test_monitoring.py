"""Dashboard, alerts and autoscaling queries speak the RPC metrics' grpc-ecosystem labels, stay within one namespace
(alerts fire per namespace), and inference overload raises an alert."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from deploy.checks.monitoring import (
    check_alert_namespaces,
    check_label_names,
    check_namespace_filters,
    metric_labels,
    namespace_dropped,
    selectors,
)
from deploy.render import Rendered

Mutable = Callable[[str], Rendered]


def dashboard(rendered: Rendered) -> dict[str, Any]:
    config = rendered.named("ConfigMap", "following-dashboard")
    assert config is not None
    loaded: dict[str, Any] = json.loads(config["data"]["following.json"])
    return loaded


def rules(rendered: Rendered) -> dict[str, dict[str, Any]]:
    found = rendered.named("PrometheusRule", "following")
    assert found is not None
    return {r.get("alert") or r["record"]: r for g in found["spec"]["groups"] for r in g["rules"]}


def test_rpc_metrics_carry_the_grpc_ecosystem_labels() -> None:
    labels = metric_labels()
    assert labels["grpc_server_handled_total"] == {"grpc_type", "grpc_service", "grpc_method", "grpc_code"}
    assert labels["grpc_server_handling_seconds_bucket"] == {"grpc_type", "grpc_service", "grpc_method"}
    assert labels["grpc_server_in_flight_requests"] == {"grpc_type", "grpc_service", "grpc_method"}


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_query_uses_labels_its_metrics_carry_and_stays_in_one_namespace(
    rendered: dict[str, Rendered], target: str
) -> None:
    assert check_label_names(rendered[target]) == []
    assert check_namespace_filters(rendered[target]) == []


def test_a_matcher_on_the_old_service_and_code_labels_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    alert = rules(prod)["GrpcErrorRateHigh"]
    alert["expr"] = 'sum by (service) (rate(grpc_server_handled_total{service="creator", code="INTERNAL"}[5m])) > 1'
    problems = check_label_names(prod)
    assert len(problems) == 1 and problems[0].startswith("PrometheusRule GrpcErrorRateHigh: grpc_server_handled_total")
    assert "no label 'code'" in problems[0]  # `service` is the scrape's target label, so it alone passes


def test_the_dashboard_has_datasource_and_namespace_variables_and_an_unfiltered_panel_is_flagged(
    mutable: Mutable,
) -> None:
    prod = mutable("prod")
    board = dashboard(prod)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["namespace"]["type"] == "query" and "namespace" in variables["namespace"]["definition"]
    board["panels"][0]["targets"][0]["expr"] = "sum(rate(grpc_server_handled_total[5m]))"
    config = prod.named("ConfigMap", "following-dashboard")
    assert config is not None
    config["data"]["following.json"] = json.dumps(board)
    assert check_namespace_filters(prod) == [
        f"dashboard panel {board['panels'][0]['title']!r}: grpc_server_handled_total is not filtered by "
        'namespace="$namespace"'
    ]


def test_a_scaler_query_on_another_namespace_is_flagged(mutable: Mutable) -> None:
    dev = mutable("dev")
    scaler = dev.named("ScaledObject", "inference")
    assert scaler is not None
    scaler["spec"]["triggers"][0]["metadata"]["query"] = 'sum(inference_queue_depth{namespace="following"})'
    assert check_namespace_filters(dev) == [
        "ScaledObject/inference trigger inference-queue-depth: inference_queue_depth is not filtered by "
        'namespace="following-dev" (the ScaledObject\'s namespace)'
    ]


def test_inference_refusing_calls_raises_an_alert_with_a_runbook(rendered: dict[str, Rendered]) -> None:
    alert = rules(rendered["prod"])["InferenceOverloaded"]
    matchers = dict(selectors(alert["expr"]))["grpc_server_handled_total"]
    assert 'grpc_service="inference.v1.InferenceService"' in matchers
    assert 'grpc_code="RESOURCE_EXHAUSTED"' in matchers
    assert alert["annotations"]["runbook_url"] == "deploy/runbooks/InferenceOverloaded.md"


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_alert_and_recording_rule_keeps_the_namespace_so_dev_and_prod_fire_apart(
    rendered: dict[str, Rendered], target: str
) -> None:
    assert check_alert_namespaces(rendered[target]) == []


@pytest.mark.parametrize(
    ("expr", "dropped"),
    [
        ("max(cdn_queue_oldest_age_seconds) > 600", ["max"]),
        ('delta(max(cdn_jobs{state="dead"})[30m:1m]) > 20', ["max"]),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))", ["sum by (le)"]),
        (
            "sum(rate(x[5m])) by (host) / sum without (namespace) (rate(y[5m]))",
            ["sum by (host)", "sum without (namespace)"],
        ),
        ("max by (namespace, host) (cdn_breaker_open) > 0", []),
        ("sum(rate(x[5m])) by (namespace) > max_over_time(y[5m])", []),
        ('sum without (pod) (x) and on (namespace) count_values("v", y) by (namespace, v)', []),
        ("time() - following_background_last_success_timestamp_seconds > 300", []),
    ],
)
def test_an_aggregation_that_drops_the_namespace_is_found(expr: str, dropped: list[str]) -> None:
    assert namespace_dropped(expr) == dropped


def test_an_alert_summed_over_every_namespace_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    rules(prod)["CdnQueueBacklog"]["expr"] = "max(cdn_queue_oldest_age_seconds) > 600"
    problems = check_alert_namespaces(prod)
    assert len(problems) == 1 and problems[0].startswith("PrometheusRule CdnQueueBacklog: `max` drops the namespace")
