"""The settings in the manifests are ones the services read and accept; alerts query metrics the code exports."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deploy.checks.configuration import check_keys_read, check_settings_accepted
from deploy.checks.monitoring import check_metric_names, metric_names
from deploy.render import Rendered

Mutable = Callable[[str], Rendered]


def config_map(rendered: Rendered, prefix: str) -> dict[str, str]:
    config = next(o for o in rendered.of_kind("ConfigMap") if o["metadata"]["name"].startswith(prefix))
    data: dict[str, str] = config["data"]
    return data


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_service_reads_and_accepts_its_rendered_settings(rendered: dict[str, Rendered], target: str) -> None:
    assert check_keys_read(rendered[target]) == []
    assert check_settings_accepted(rendered[target], rendered["secrets"]) == []


def test_a_misspelled_setting_is_flagged_as_unread(mutable: Mutable) -> None:
    prod = mutable("prod")
    config_map(prod, "cdn-")["CDN_WORKER_CONCURENCY"] = "4"
    assert check_keys_read(prod) == ["Deployment/cdn: sets CDN_WORKER_CONCURENCY, which no code of the cdn image reads"]


def test_a_value_the_service_rejects_is_flagged_with_its_own_message(
    mutable: Mutable, rendered: dict[str, Rendered]
) -> None:
    prod = mutable("prod")
    config_map(prod, "creator-")["DB_POOL_MAX"] = "0"
    config_map(prod, "gateway-")["CORS_ORIGINS"] = "app.example.com"
    problems = check_settings_accepted(prod, rendered["secrets"])
    assert len(problems) == 2
    assert "Deployment/creator" in problems[0] and "DB_POOL_MAX: must be at least 1" in problems[0]
    assert "Deployment/gateway" in problems[1] and "CORS_ORIGINS" in problems[1]


def test_promql_metric_names_skip_functions_labels_and_grouping() -> None:
    expr = 'sum by (grpc_service) (rate(grpc_server_handled_total{grpc_code=~"INTERNAL"}[5m])) / on (job) up'
    assert metric_names(expr) == {"grpc_server_handled_total", "up"}
    assert metric_names('delta(max(cdn_jobs{state="dead"})[30m:1m]) > 20') == {"cdn_jobs"}


def test_an_alert_on_a_metric_no_code_exports_is_flagged(mutable: Mutable, rendered: dict[str, Rendered]) -> None:
    assert check_metric_names(rendered["prod"]) == []
    prod = mutable("prod")
    rules = prod.named("PrometheusRule", "following")
    assert rules is not None
    rules["spec"]["groups"][0]["rules"][0]["expr"] = "max(cdn_queue_oldest_seconds) > 600"
    assert check_metric_names(prod) == [
        "PrometheusRule CdnQueueBacklog: queries cdn_queue_oldest_seconds, which no code exports"
    ]
