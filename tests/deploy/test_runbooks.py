"""Every alert leads to a runbook page that exists, one page per alert, and each `following ...` command the pages
and alerts give is one the command-line client accepts (so the advice works); what the pages name (loops, error
messages) is what the code has."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from deploy.checks.runbooks import RUNBOOKS, check_runbook_commands, check_runbook_urls, command_problem, commands
from deploy.images import ROOT
from deploy.render import Rendered
from services.cdn.maintenance import Component
from services.cdn.targets import AllowedHost, Refused, parse_target
from services.creator.workers import BackgroundComponent

Mutable = Callable[[str], Rendered]


def alerts(rendered: Rendered) -> dict[str, dict[str, str]]:
    return {
        rule["alert"]: rule.get("annotations", {})
        for rules in rendered.of_kind("PrometheusRule")
        for group in rules["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_every_alert_has_a_runbook_url_whose_page_exists(rendered: dict[str, Rendered], target: str) -> None:
    found = alerts(rendered[target])
    assert found
    for name, notes in found.items():
        url = notes.get("runbook_url", "")
        assert url == f"{RUNBOOKS}{name}.md", name
        assert (ROOT / url).is_file(), url
    assert check_runbook_urls(rendered[target]) == []


def test_there_is_one_runbook_page_per_alert(rendered: dict[str, Rendered]) -> None:
    pages = {page.stem for page in (ROOT / RUNBOOKS).glob("*.md")} - {"README"}
    assert pages == set(alerts(rendered["prod"]))


def test_an_alert_without_a_runbook_or_with_a_missing_page_is_flagged(mutable: Mutable) -> None:
    prod = mutable("prod")
    rules = prod.named("PrometheusRule", "following")
    assert rules is not None
    first, second = rules["spec"]["groups"][0]["rules"][:2]
    del first["annotations"]["runbook_url"]
    second["annotations"]["runbook_url"] = f"{RUNBOOKS}Nowhere.md"
    problems = check_runbook_urls(prod)
    assert len(problems) == 2
    assert first["alert"] in problems[0] and "is not a page under" in problems[0]
    assert second["alert"] in problems[1] and "does not exist" in problems[1]


def test_every_command_the_runbooks_give_is_accepted_by_the_client(rendered: dict[str, Rendered]) -> None:
    assert check_runbook_commands(rendered["prod"]) == []


def test_the_dead_letter_runbook_lists_then_retries_with_the_client() -> None:
    given = commands((ROOT / RUNBOOKS / "CdnDeadLettersGrowing.md").read_text())
    assert "following queue --dead" in given and "following queue retry --all" in given


def test_a_command_the_client_refuses_is_flagged(mutable: Mutable) -> None:
    assert command_problem("following queue --dead") is None
    assert "unrecognized arguments: --deadx" in (command_problem("following queue --deadx") or "")
    # Parses, but the client's own check refuses it: neither job ids nor --all.
    assert command_problem("following queue retry") == "queue retry: give job ids or --all"
    assert command_problem("following queue discard 7 --all") == "queue discard: give job ids or --all, not both"
    assert command_problem("following queue retry 7 8") is None
    prod = mutable("prod")
    rules = prod.named("PrometheusRule", "following")
    assert rules is not None
    rules["spec"]["groups"][0]["rules"][0]["annotations"]["description"] = "Run `following queue --purge`."
    problems = check_runbook_commands(prod)
    assert len(problems) == 1 and "following queue --purge" in problems[0]


def supervised_loops() -> set[str]:
    """Every loop name the services give their supervisor: named in the call, or a component class's `name`."""
    named = re.compile(r'supervisor\.add\(\s*"([\w-]+)"')
    loops = {name for path in (ROOT / "services").rglob("*.py") for name in named.findall(path.read_text())}
    pending: list[type[Any]] = [Component, BackgroundComponent]
    while pending:
        subclasses: list[type[Any]] = pending.pop().__subclasses__()
        loops.update(str(cls.name) for cls in subclasses)
        pending += subclasses
    return loops


def test_the_stalled_loop_runbook_names_every_supervised_loop() -> None:
    page = (ROOT / RUNBOOKS / "BackgroundLoopStalled.md").read_text()
    loops = supervised_loops()
    assert {"cdn-claimer", "cdn-retention", "outbox-relay", "track-refresh"} <= loops
    assert sorted(loop for loop in loops if f"`{loop}`" not in page) == []


def refusal(url: str, hosts: tuple[str, ...], allow_private: bool = False) -> str:
    with pytest.raises(Refused) as refused:
        parse_target(url, tuple(AllowedHost.parse(host) for host in hosts), (), allow_private)
    return str(refused.value)


def test_the_dead_letter_runbook_quotes_the_refusals_the_cdn_records() -> None:
    page = " ".join((ROOT / RUNBOOKS / "CdnDeadLettersGrowing.md").read_text().split())
    quoted = {
        "is not on CDN_ALLOWED_HOSTS": refusal("https://images.example.org/a.jpg", ("*.cdninstagram.com",)),
        "is not allowed (CDN_ALLOWED_PORTS": refusal("https://a.cdninstagram.com:8443/a.jpg", ("*.cdninstagram.com",)),
        "a private or reserved address": refusal("http://10.1.2.3/a.jpg", ("10.1.2.3",)),
    }
    for phrase, message in quoted.items():
        assert phrase in message, (phrase, message)
        assert f'"{phrase}' in page, phrase
