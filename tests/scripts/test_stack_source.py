"""`make up` refuses an INSTAGRAM_SOURCE the creator does not know before it starts anything, naming the variable,
where it would otherwise announce the web source and leave the creator to fail at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.stack import Stack


def test_up_refuses_an_unknown_instagram_source_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INSTAGRAM_SOURCE", "instagram")
    stack = Stack(tmp_path)
    with pytest.raises(RuntimeError, match=r"INSTAGRAM_SOURCE must be one of sample, web; got 'instagram'"):
        stack.up()
    assert not (tmp_path / "pg").exists(), "no PostgreSQL cluster was made"
    assert not (tmp_path / "pids").exists(), "no component was started"


@pytest.mark.parametrize("given", ["web", "WEB", " Web ", "sample", ""])
def test_the_known_sources_in_any_case_are_accepted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str
) -> None:
    monkeypatch.setenv("INSTAGRAM_SOURCE", given)
    stack = Stack(tmp_path)
    assert stack.source == (given.strip().lower() or "sample")
    assert stack.component("creator").env(stack)["INSTAGRAM_SOURCE"] == stack.source
