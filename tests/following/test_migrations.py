"""The migration runner: applied once, serialised across replicas, atomic, and confined to the service's own schema."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest

from following.migrations import MigrationError, migrate_directory
from tests.conftest import TestDatabase
from tests.processes import ServiceProcess

HERE = Path(__file__).parent


async def test_migrations_are_applied_once_and_recorded_in_the_schema(database: TestDatabase) -> None:
    dsn = database.owner_dsn_for("creator")
    first = await migrate_directory(dsn, "creator", HERE / "migrations_ok")
    second = await migrate_directory(dsn, "creator", HERE / "migrations_ok")
    assert first == ["0001_widgets.sql", "0002_widget_colour.sql"]
    assert second == []
    conn = await asyncpg.connect(dsn)
    try:
        versions = await conn.fetch("SELECT version, name FROM creator.schema_migrations ORDER BY version")
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'creator' AND table_name = 'widgets'"
        )
    finally:
        await conn.close()
    assert [(r["version"], r["name"]) for r in versions] == [(1, "widgets"), (2, "widget_colour")]
    assert {r["column_name"] for r in columns} == {"id", "name", "colour"}


async def test_concurrent_starts_apply_each_migration_exactly_once(database: TestDatabase) -> None:
    dsn = database.owner_dsn_for("creator")
    results = await asyncio.gather(*(migrate_directory(dsn, "creator", HERE / "migrations_ok") for _ in range(4)))
    applied = sorted(name for result in results for name in result)
    assert applied == ["0001_widgets.sql", "0002_widget_colour.sql"]
    assert sum(1 for result in results if result) == 1


async def test_a_broken_migration_rolls_back_the_whole_run_and_names_the_file(database: TestDatabase) -> None:
    dsn = database.owner_dsn_for("creator")
    with pytest.raises(MigrationError, match=r"0002_broken_column\.sql"):
        await migrate_directory(dsn, "creator", HERE / "migrations_broken")
    conn = await asyncpg.connect(dsn)
    try:
        widgets = await conn.fetchval("SELECT to_regclass('creator.widgets')")
        record = await conn.fetchval("SELECT to_regclass('creator.schema_migrations')")
    finally:
        await conn.close()
    assert widgets is None, "0001 must roll back with the failing 0002"
    assert record is None


async def test_a_changed_migration_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    dsn = database.owner_dsn_for("creator")
    (tmp_path / "0001_widgets.sql").write_text("CREATE TABLE widgets (id bigint PRIMARY KEY);")
    await migrate_directory(dsn, "creator", tmp_path)
    (tmp_path / "0001_widgets.sql").write_text("CREATE TABLE widgets (id bigint PRIMARY KEY, extra text);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate_directory(dsn, "creator", tmp_path)


async def test_a_service_role_cannot_read_or_write_another_services_schema(database: TestDatabase) -> None:
    await migrate_directory(database.owner_dsn_for("cdn"), "cdn", HERE / "migrations_ok")
    conn = await asyncpg.connect(database.dsn_for("creator"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM cdn.widgets")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE cdn.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
        flags = await conn.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    finally:
        await conn.close()
    assert (flags["rolsuper"], flags["rolbypassrls"]) == (False, False)


async def test_a_service_with_a_broken_migration_exits_non_zero_naming_the_file(
    database: TestDatabase, tmp_path: Path
) -> None:
    service = ServiceProcess(
        "tests.following.probe_service",
        {
            "DATABASE_URL": database.dsn_for("creator"),
            "MIGRATION_DATABASE_URL": database.owner_dsn_for("creator"),
            "PROBE_MIGRATIONS_DIR": str(HERE / "migrations_broken"),
        },
        tmp_path / "probe.log",
    )
    service.start()
    assert service.proc is not None
    code = service.proc.wait(timeout=60)
    assert code != 0
    assert "0002_broken_column.sql" in service.log_tail()
    assert "refusing to start" in service.log_tail()


async def test_a_service_migrating_as_its_runtime_role_refuses_to_start_naming_the_owner_dsn(
    database: TestDatabase, tmp_path: Path
) -> None:
    service = ServiceProcess(
        "tests.following.probe_service",
        {"DATABASE_URL": database.dsn_for("creator"), "PROBE_MIGRATIONS_DIR": str(HERE / "migrations_ok")},
        tmp_path / "probe.log",
    )
    service.start()
    assert service.proc is not None
    assert service.proc.wait(timeout=60) != 0
    assert "permission denied for schema creator" in service.log_tail()
    assert "MIGRATION_DATABASE_URL" in service.log_tail()


def test_python_is_the_venv_python() -> None:
    assert sys.version_info[:2] == (3, 11)
