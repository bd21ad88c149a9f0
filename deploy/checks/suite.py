"""The whole of `make k8s-check` (`python -m deploy.checks`): renders every kustomize target offline, validates each
object against the Kubernetes schemas (and the vendored KEDA / Prometheus-operator CRD schemas), and runs our own checks
on the objects, the Dockerfiles and the settings. Prints one line per problem and exits non-zero when there is any."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from deploy.checks import configuration, dockerfiles, imports, monitoring, policies, runbooks, traffic, wiring
from deploy.checks.schemas import validate
from deploy.images import REQUIREMENT_SETS, RequirementError, requirements
from deploy.render import TARGETS, Rendered, RenderError, render

# Targets that are applied to a cluster as the application (the rest are Jobs or templates).
APPLICATIONS = ("dev", "prod")
RELEASES = {"prod": "prod-migrate"}


@dataclass
class Report:
    """Problems found, grouped by the check that found them, and how many objects were validated."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    objects: int = 0

    def add(self, check: str, found: list[str]) -> None:
        if found:
            self.problems.setdefault(check, []).extend(found)

    @property
    def ok(self) -> bool:
        return not self.problems


def render_all(report: Report) -> dict[str, Rendered]:
    rendered = {}
    for target in TARGETS:
        try:
            rendered[target] = render(target)
        except RenderError as exc:
            report.add("render", [str(exc)])
    return rendered


def run_checks(rendered: dict[str, Rendered], report: Report) -> None:
    templates = rendered.get("secrets")
    for target, result in rendered.items():
        report.objects += len(result.objects)
        report.add(f"schema [{target}]", [e for obj in result.objects for e in validate(obj)])
        object_checks: tuple[Callable[[Rendered], list[str]], ...] = (*policies.CHECKS, *wiring.CHECKS)
        for check in object_checks:
            report.add(f"{check.__name__} [{target}]", check(result))
        if target in APPLICATIONS:
            report.add(f"check_references [{target}]", wiring.check_references(result, templates))
            report.add(f"check_traffic [{target}]", traffic.check_traffic(result))
            report.add(f"check_metric_names [{target}]", monitoring.check_metric_names(result))
            report.add(f"check_label_names [{target}]", monitoring.check_label_names(result))
            report.add(f"check_namespace_filters [{target}]", monitoring.check_namespace_filters(result))
            report.add(f"check_alert_namespaces [{target}]", monitoring.check_alert_namespaces(result))
            report.add(f"check_runbook_urls [{target}]", runbooks.check_runbook_urls(result))
            report.add(f"check_runbook_commands [{target}]", runbooks.check_runbook_commands(result))
            report.add(f"check_keys_read [{target}]", configuration.check_keys_read(result))
            report.add(f"check_settings_accepted [{target}]", configuration.check_settings_accepted(result, templates))
    for app, migrate in RELEASES.items():
        if app in rendered and migrate in rendered:
            report.add(
                f"check_migration_images [{migrate}]", wiring.check_migration_images(rendered[app], rendered[migrate])
            )
    report.add("dockerfiles", dockerfiles.check_dockerfiles())
    report.add("image imports", imports.check_imports())
    for name in REQUIREMENT_SETS:
        try:
            requirements(name)
        except RequirementError as exc:
            report.add("image requirements", [str(exc)])


def main() -> int:
    started = time.monotonic()
    report = Report()
    rendered = render_all(report)
    run_checks(rendered, report)
    for check, found in report.problems.items():
        for problem in found:
            print(f"FAIL {check}: {problem}")
    elapsed = time.monotonic() - started
    summary = f"{len(rendered)} targets, {report.objects} objects, {len(dockerfiles.IMAGES)} Dockerfiles"
    if report.ok:
        print(f"k8s-check: OK ({summary}; {elapsed:.1f} s)")
        return 0
    count = sum(len(found) for found in report.problems.values())
    print(f"k8s-check: {count} problem(s) ({summary}; {elapsed:.1f} s)")
    return 1
