"""Renders every kustomize target once per session; tests mutate deep copies."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from deploy.render import TARGETS, Rendered, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, Rendered]:
    return {target: render(target) for target in TARGETS}


@pytest.fixture
def mutable(rendered: dict[str, Rendered]) -> Callable[[str], Rendered]:
    """A deep copy of one target, safe to break."""

    def copy_of(target: str) -> Rendered:
        return Rendered(target, copy.deepcopy(rendered[target].objects))

    return copy_of
