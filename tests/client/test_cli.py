"""The command line itself: `--json` before or after the subcommand, the operator commands parse, exit codes per
failure class are documented in --help, a missing gateway is named without "(HTTP 0)", and the console script
points at the entry point."""

from __future__ import annotations

import importlib
import socket
import tomllib

import pytest

from client.__main__ import AUTH, NOT_FOUND, SERVER_ERROR, UNAVAILABLE, USAGE, command_of, exit_code, main, parser
from tests.processes import ROOT


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["--json", "search", "fit.bayann"], "search"),
        (["search", "fit.bayann", "--json"], "search"),
        (["unlocked", "--json"], "unlocked"),
        (["queue", "--json"], "queue"),
        (["queue", "--dead", "--json"], "queue-dead"),
        (["--json", "queue", "--dead"], "queue-dead"),
        (["queue", "retry", "--all", "--json"], "queue-retry"),
        (["queue", "--json", "discard", "12", "13"], "queue-discard"),
        (["cdn", "stats", "--json"], "cdn-stats"),
        (["--json", "cdn", "stats", "--days", "3"], "cdn-stats"),
        (["health", "--json"], "health"),
    ],
)
def test_json_is_accepted_before_or_after_the_subcommand(argv: list[str], command: str) -> None:
    args = parser().parse_args(argv)
    assert args.json is True
    assert command_of(args) == command


def test_without_json_the_answer_is_a_table() -> None:
    args = parser().parse_args(["queue", "retry", "7"])
    assert args.json is False and args.job_ids == ["7"] and not args.all


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (0, UNAVAILABLE),
        (400, USAGE),
        (405, USAGE),
        (401, AUTH),
        (403, AUTH),
        (404, NOT_FOUND),
        (429, UNAVAILABLE),
        (503, UNAVAILABLE),
        (504, UNAVAILABLE),
        (500, SERVER_ERROR),
    ],
)
def test_each_failure_class_has_its_own_exit_code(status: int, code: int) -> None:
    assert exit_code(status) == code


def test_help_documents_every_exit_code() -> None:
    text = parser().format_help()
    for code, word in ((1, "server error"), (2, "usage"), (3, "auth"), (4, "not found"), (5, "unavailable")):
        assert f"  {code}  {word}" in text


@pytest.mark.parametrize("argv", [["queue", "retry"], ["queue", "discard", "3", "--all"], ["nonsense"]])
def test_a_bad_command_line_exits_with_the_usage_code(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(argv)
    assert usage.value.code == USAGE


def test_an_unreachable_gateway_is_named_and_exits_unavailable(capsys: pytest.CaptureFixture[str]) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    assert main(["--gateway", url, "--token", "t", "queue", "--dead"]) == UNAVAILABLE
    err = capsys.readouterr().err
    assert f"cannot reach the gateway at {url}" in err
    assert "HTTP 0" not in err


def test_the_console_script_runs_the_cli_entry_point() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        target = tomllib.load(file)["project"]["scripts"]["following"]
    module, _, name = target.partition(":")
    entry = getattr(importlib.import_module(module), name)
    assert entry is main
    with pytest.raises(SystemExit) as shown:
        entry(["--help"])
    assert shown.value.code == 0
