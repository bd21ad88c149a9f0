"""`make k8s-check` (python -m deploy.checks) passes on the repository and exits non-zero on a problem."""

from __future__ import annotations

import subprocess
import sys

from deploy.checks import suite
from deploy.images import ROOT
from deploy.render import Rendered


def test_k8s_check_passes_on_the_repository() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.checks"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k8s-check: OK (7 targets" in result.stdout


def test_a_broken_target_makes_the_report_fail(rendered: dict[str, Rendered]) -> None:
    broken = {name: Rendered(name, list(rendered[name].objects)) for name in ("prod", "secrets")}
    broken["prod"].objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orphan"},
                                   "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]}})  # fmt: skip
    report = suite.Report()
    suite.run_checks(broken, report)
    assert not report.ok
    assert report.problems["check_services [prod]"] == [
        "Service/orphan: its selector matches no Deployment or StatefulSet"
    ]
