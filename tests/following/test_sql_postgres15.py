"""Every SQL statement the services send, and every migration, parses with PostgreSQL 15's own parser (pglast 5 is
libpg_query built from PostgreSQL 15's grammar). The local engine is PostgreSQL 18, where the tests run them; managed
PostgreSQL in production may be as old as 15, so syntax newer than 15 must not slip in unnoticed. (pgvector's own
features are kept to those of 0.5, or behind a version check; see services/creator/discovery_store.py.)"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pglast = pytest.importorskip("pglast", reason="pglast (dev group) ships wheels for Linux x86_64 only")
from pglast.parser import ParseError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|NOTIFY|CREATE|ALTER|DROP|TRUNCATE|SET)\s", re.I)
PLACEHOLDER = re.compile(r"\{(\w+)\}")  # str.format fields (a schema name), filled at run time


def statements() -> Iterator[tuple[str, str]]:
    """(where, SQL) of every module-level SQL constant of the services and the shared runtime."""
    for path in sorted([*(ROOT / "services").glob("*/*.py"), *(ROOT / "following").glob("*.py")]):
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if "gateway" in module_name or path.name == "__main__.py":
            continue
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and STATEMENT.match(value):
                yield f"{module_name}.{name}", PLACEHOLDER.sub(r"\1", value)


def migrations() -> Iterator[Path]:
    yield from sorted((ROOT / "services").glob("*/migrations/*.sql"))


def test_the_search_finds_the_statements_of_every_service_and_its_migrations() -> None:
    found = dict(statements())
    assert "services.creator.discovery_store.RANK_BY_INDEX" in found
    assert any(name.startswith("services.cdn.store.") for name in found)
    assert len(found) > 50
    assert {p.name for p in migrations()} >= {"0006_discovery.sql", "0008_discovery_filters.sql", "0001_queue.sql"}


@pytest.mark.parametrize(("where", "sql"), list(statements()), ids=lambda v: v if "." in v and " " not in v else "")
def test_every_statement_parses_on_postgresql_15(where: str, sql: str) -> None:
    try:
        pglast.parse_sql(sql)
    except ParseError as error:
        pytest.fail(f"{where} does not parse on PostgreSQL 15: {error}\n{sql}")


@pytest.mark.parametrize("path", list(migrations()), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_migration_parses_on_postgresql_15(path: Path) -> None:
    try:
        pglast.parse_sql(path.read_text())
    except ParseError as error:
        pytest.fail(f"{path.relative_to(ROOT)} does not parse on PostgreSQL 15: {error}")


def test_syntax_newer_than_postgresql_15_is_refused() -> None:
    """The guard can fail: PostgreSQL 16's `IS JSON`, 17's `MERGE ... RETURNING` and JSON_TABLE, and 18's temporal
    keys are not 15's grammar."""
    for newer in (
        "SELECT $1 IS JSON",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id",
        "SELECT * FROM JSON_TABLE($1::jsonb, '$' COLUMNS (a int))",
        "CREATE TABLE t (a int, during tstzrange, PRIMARY KEY (a, during WITHOUT OVERLAPS))",
    ):
        with pytest.raises(ParseError):
            pglast.parse_sql(newer)
