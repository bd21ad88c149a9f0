"""Checks that every alert leads an operator to a working command: each alert's `runbook_url` annotation names a page
under deploy/runbooks/ that exists, and every `following ...` command those pages (and the alerts' own text) give is
one the command-line client accepts."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from client.__main__ import parser, usage_problem
from deploy.images import ROOT
from deploy.render import Rendered

RUNBOOKS = "deploy/runbooks/"
_COMMAND = re.compile(r"`(following [^`]+)`")
_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def _alerts(rendered: Rendered) -> Iterator[dict[str, Any]]:
    for rule_set in rendered.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            yield from (rule for rule in group["rules"] if "alert" in rule)


def check_runbook_urls(rendered: Rendered, root: Path = ROOT) -> list[str]:
    problems = []
    for alert in _alerts(rendered):
        url = str(alert.get("annotations", {}).get("runbook_url", ""))
        where = f"PrometheusRule {alert['alert']}"
        if not url.startswith(RUNBOOKS):
            problems.append(f"{where}: runbook_url {url!r} is not a page under {RUNBOOKS}")
        elif not (root / url).is_file():
            problems.append(f"{where}: runbook_url {url} does not exist")
    return problems


def commands(text: str) -> list[str]:
    """The `following ...` commands of a Markdown or annotation text: in backticks, or lines of a fenced block (a
    trailing `# comment` left out)."""
    found = [match.group(1) for match in _COMMAND.finditer(_FENCED.sub("", text))]
    for block in _FENCED.findall(text):
        found += [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("following ")]
    return found


def command_problem(command: str) -> str | None:
    """Why the client would refuse `command` (its usage message), or None when it parses."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            args = parser().parse_args(shlex.split(command)[1:])
    except SystemExit as exit_:
        if exit_.code:
            return errors.getvalue().strip().splitlines()[-1] if errors.getvalue().strip() else "refused"
        return None  # --help
    return usage_problem(args)


def check_runbook_commands(rendered: Rendered, root: Path = ROOT) -> list[str]:
    texts = [(str(page.relative_to(root)), page.read_text()) for page in sorted((root / RUNBOOKS).glob("*.md"))]
    texts += [
        (f"PrometheusRule {a['alert']}", " ".join(map(str, a.get("annotations", {}).values())))
        for a in _alerts(rendered)
    ]
    problems = []
    for where, text in texts:
        for command in commands(text):
            problem = command_problem(command)
            if problem:
                problems.append(f"{where}: `{command}` is refused by the client: {problem}")
    return problems
