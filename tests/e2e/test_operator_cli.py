"""An operator's dead-letter work end to end, as the runbooks tell it: `following queue --dead` shows the failed
image with its reason, `following queue retry --all` queues it again, `following queue discard` deletes it, and
`following cdn stats` answers; through Envoy, with the operator role, each failure with its own exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import grpc
import pytest
from cdn.v1 import cdn_pb2, cdn_pb2_grpc

from client.__main__ import AUTH, NOT_FOUND, OK
from client.tokens import mint
from tests.e2e.conftest import E2E
from tests.e2e.polling import eventually
from tests.processes import ROOT

pytestmark = pytest.mark.slow


def following(e2e: E2E, *argv: str, operator: bool = True) -> subprocess.CompletedProcess[str]:
    values = e2e.stack.values
    token = mint(values["SUPABASE_JWT_SECRET"], values["SUPABASE_JWT_ISSUER"], "ops", operator=operator)
    return subprocess.run(
        [sys.executable, "-m", "client", "--gateway", e2e.gateway, "--token", token, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dead_job(e2e: E2E, url: str) -> dict[str, Any] | None:
    listed = json.loads(following(e2e, "queue", "--dead", "--json").stdout)
    return next((job for job in listed.get("jobs", []) if job["source_url"] == url), None)


def test_an_operator_lists_retries_and_discards_a_dead_image_from_the_command_line(e2e: E2E) -> None:
    url = f"{e2e.upstream}/operator-cli/missing.jpg"  # the sample upstream answers 404: a permanent failure
    with grpc.insecure_channel(e2e.stack.values["CDN_ADDR"]) as channel:
        cdn_pb2_grpc.CdnServiceStub(channel).EnqueueJobs(
            cdn_pb2.EnqueueJobsRequest(jobs=[cdn_pb2.JobSpec(source_url=url, kind=cdn_pb2.ASSET_KIND_AVATAR)]),
            timeout=5,
        )
    job = eventually(lambda: dead_job(e2e, url), lambda j: j is not None, 60, "the image dead")
    assert job is not None and "404" in job["last_error"]

    table = following(e2e, "queue", "--dead")
    assert table.returncode == OK, table.stderr
    assert job["job_id"] in table.stdout and "404" in table.stdout and "dead jobs in all" in table.stdout
    before = following(e2e, "--json", "queue", "--dead")
    assert int(json.loads(before.stdout)["total_size"]) >= 1

    retried = following(e2e, "queue", "retry", "--all", "--json")
    assert retried.returncode == OK, retried.stderr
    assert json.loads(retried.stdout)["retried"] >= 1
    again = eventually(lambda: dead_job(e2e, url), lambda j: j is not None, 60, "the retried image dead again")
    assert again is not None and again["job_id"] == job["job_id"]

    missing = following(e2e, "queue", "retry", "999999999")
    assert missing.returncode == NOT_FOUND, missing.stderr
    assert "999999999" in missing.stderr

    discarded = following(e2e, "queue", "discard", job["job_id"])
    assert discarded.returncode == OK, discarded.stderr
    assert "discarded 1 dead jobs" in discarded.stdout
    assert dead_job(e2e, url) is None


def test_cdn_stats_shows_the_counters_and_the_daily_statistics(e2e: E2E) -> None:
    table = following(e2e, "cdn", "stats")
    assert table.returncode == OK, table.stderr
    assert "this replica" in table.stdout and "day (UTC)" in table.stdout
    data = json.loads(following(e2e, "cdn", "stats", "--days", "2", "--json").stdout)
    assert "worker_capacity" in data["metrics"] and len(data["statistics"]["days"]) == 2


def test_operator_commands_without_the_operator_role_exit_with_the_auth_code(e2e: E2E) -> None:
    for argv in (("queue", "--dead"), ("queue", "retry", "--all"), ("cdn", "stats")):
        refused = following(e2e, *argv, operator=False)
        assert refused.returncode == AUTH, (argv, refused.stderr)
        assert "operator" in refused.stderr
