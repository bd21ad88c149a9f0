"""The database role layout: migrations run as each schema's owner role, the services run as roles that own nothing,
so they can use their tables but never alter them (nor switch row-level security off), and the bootstrap moves an
older layout, where the runtime role owned its schema, to this one."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest

from following.dbroles import bootstrap
from following.migrations import MigrationError, migrate_directory
from services.cdn.server import MIGRATIONS as CDN_MIGRATIONS
from services.creator.server import MIGRATIONS as CREATOR_MIGRATIONS
from tests.conftest import TestDatabase

SCHEMAS = {"creator": CREATOR_MIGRATIONS, "cdn": CDN_MIGRATIONS}

OWNERS = """
SELECT c.relname, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity AS rls,
       c.relforcerowsecurity AS forced
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
"""
OWNED_BY = """
SELECT (SELECT count(*) FROM pg_class WHERE relowner = $1::regrole)
     + (SELECT count(*) FROM pg_proc WHERE proowner = $1::regrole)
     + (SELECT count(*) FROM pg_namespace WHERE nspowner = $1::regrole)
"""


async def migrate_all(database: TestDatabase) -> None:
    for schema, directory in SCHEMAS.items():
        await migrate_directory(database.owner_dsn_for(schema), schema, directory)


async def test_every_migrated_object_belongs_to_the_owner_role_and_rls_tables_force_their_policies(
    database: TestDatabase,
) -> None:
    await migrate_all(database)
    conn = await asyncpg.connect(database.admin_dsn)
    try:
        for schema in SCHEMAS:
            rows = await conn.fetch(OWNERS, schema)
            assert rows, schema
            assert {r["owner"] for r in rows} == {f"{schema}_owner"}, [tuple(r) for r in rows]
            assert all(r["forced"] for r in rows if r["rls"]), [tuple(r) for r in rows]
            assert await conn.fetchval(OWNED_BY, f"{schema}_svc") == 0
            flags = await conn.fetchrow(
                "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1", f"{schema}_svc"
            )
            assert tuple(flags) == (False, False, False)
        assert any(r["rls"] for r in await conn.fetch(OWNERS, "creator"))  # unlocks
    finally:
        await conn.close()


@pytest.mark.parametrize("schema", list(SCHEMAS))
async def test_the_runtime_role_uses_its_tables_but_cannot_alter_them_or_create_objects(
    database: TestDatabase, schema: str
) -> None:
    await migrate_all(database)
    conn = await asyncpg.connect(database.dsn_for(schema))
    try:
        table = "creators" if schema == "creator" else "jobs"
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}") == 0
        for statement in (
            f"ALTER TABLE {schema}.{table} ADD COLUMN intruder text",
            f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
            f"DROP TABLE {schema}.{table}",
            f"TRUNCATE {schema}.{table}",
            f"CREATE TABLE {schema}.intruder (id int)",
            f"CREATE FUNCTION {schema}.intruder() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
            f"SELECT * FROM {schema}.schema_migrations",
            f"SET ROLE {schema}_owner",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_migrations_refuse_to_run_as_the_runtime_role(database: TestDatabase) -> None:
    with pytest.raises(MigrationError, match="permission denied"):
        await migrate_directory(database.dsn_for("creator"), "creator", CREATOR_MIGRATIONS)


async def test_bootstrap_hands_a_schema_the_runtime_role_owned_to_the_owner_role_without_cutting_it_off(
    database: TestDatabase, tmp_path: Path
) -> None:
    # The earlier layout: the runtime role owned the schema and ran the first migration itself.
    admin = await asyncpg.connect(database.admin_dsn)
    try:
        await admin.execute("ALTER SCHEMA creator OWNER TO creator_svc")
    finally:
        await admin.close()
    shutil.copy(CREATOR_MIGRATIONS / "0001_creators.sql", tmp_path)
    await migrate_directory(database.dsn_for("creator"), "creator", tmp_path)
    runtime = await asyncpg.connect(database.dsn_for("creator"))
    try:
        await runtime.execute(
            "INSERT INTO creator.creators (username, instagram_id, source, fetched_at, post_limit)"
            " VALUES ('a', '1', 'sample', now(), 12)"
        )
        await runtime.execute("ALTER TABLE creator.unlocks NO FORCE ROW LEVEL SECURITY")  # what an owner can do

        await bootstrap(database.admin_dsn, ("creator",))

        assert await runtime.fetchval("SELECT count(*) FROM creator.creators") == 1  # running pods keep working
        await migrate_directory(database.owner_dsn_for("creator"), "creator", CREATOR_MIGRATIONS)
        assert await runtime.fetchval(OWNED_BY, "creator_svc") == 0
        assert await runtime.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'unlocks'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.execute("ALTER TABLE creator.unlocks DISABLE ROW LEVEL SECURITY")
        await runtime.execute("UPDATE creator.creators SET full_name = 'A'")
    finally:
        await runtime.close()
