"""The creator service's rooms, read from the source: the backlog's state changes have one caller (the background
components, whose methods the search also uses). The README's "where things are" is checked for every service by
tests/test_service_readmes.py."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "services" / "creator"
# Claiming, completing, postponing and deleting backlog rows: "done or postponed" is decided in one module.
BACKLOG_TRANSITIONS = {
    "claim_analyses",
    "complete_analyses",
    "postpone_analyses",
    "claim_outbox",
    "delete_outbox",
    "postpone_outbox",
}


def backlog_callers(service: Path) -> dict[str, set[str]]:
    """Backlog transition -> the modules that call it (as `backlog.name` or an imported name)."""
    callers: dict[str, set[str]] = {}
    for path in service.rglob("*.py"):
        if path.name == "backlog.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("backlog")
            for alias in node.names
        }
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "backlog":
                name = node.attr
            elif isinstance(node, ast.Name) and node.id in imported:
                name = node.id
            if name in BACKLOG_TRANSITIONS:
                callers.setdefault(name, set()).add(path.relative_to(service).as_posix())
    return callers


def test_backlog_rows_change_state_only_through_the_background_components() -> None:
    callers = backlog_callers(SERVICE)
    assert callers and all(modules == {"workers.py"} for modules in callers.values()), callers
