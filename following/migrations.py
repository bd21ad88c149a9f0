"""Per-service schema migrations: numbered `.sql` files applied in one transaction under an advisory lock.

Files are named `NNNN_description.sql` and applied in order. The record lives in `<schema>.schema_migrations` with
each file's checksum; a file changed after it was applied is an error. Several replicas starting at once serialise on
`pg_advisory_xact_lock`, so each file runs exactly once. A failing file rolls back the whole run and raises
`MigrationError` naming the file. Run by hand: `python -m following.migrations SERVICE DIRECTORY` as the schema's
owner role (MIGRATION_DATABASE_URL, else DATABASE_URL; see following/dbroles.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from following.dbroles import EXTENSION_SCHEMA
from following.settings import EnvReader

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

RECORD_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration could not be applied; nothing of the run was kept."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    file_name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """Reads every migration file of a directory, in version order."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is also used by {found[version].file_name}")
        found[version] = Migration(version, match.group(2), path.name, path.read_text())
    return [found[v] for v in sorted(found)]


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Applies the pending migrations; returns the file names applied (empty when up to date)."""
    if not _IDENTIFIER.match(schema):
        raise MigrationError(f"schema name {schema!r} is not a plain lower-case identifier")
    applied_now: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('following.migrations'), hashtext($1))", schema)
            await conn.execute(f"SET LOCAL search_path TO {schema}, {EXTENSION_SCHEMA}")
            await conn.execute(RECORD_TABLE_SQL.format(schema=schema))
            rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
            done = {row["version"]: row for row in rows}
            for migration in migrations:
                record = done.get(migration.version)
                if record is not None:
                    if record["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"{migration.file_name}: changed after it was applied; add a new migration instead"
                        )
                    continue
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"{migration.file_name}: {type(exc).__name__}: {exc}") from exc
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
                applied_now.append(migration.file_name)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"schema {schema}: {type(exc).__name__}: {exc}") from exc
    return applied_now


async def migrate_directory(dsn: str, schema: str, directory: Path) -> list[str]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await migrate(conn, schema, discover(directory))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", help="the service's schema, e.g. creator")
    parser.add_argument("directory", type=Path, help="its migrations folder")
    args = parser.parse_args()
    env = EnvReader()
    dsn = env.optional_text("MIGRATION_DATABASE_URL") or env.optional_text("DATABASE_URL")
    if not dsn:
        sys.exit("MIGRATION_DATABASE_URL: is required but not set (the schema owner's DSN)")
    try:
        applied = asyncio.run(migrate_directory(dsn, args.schema, args.directory))
    except MigrationError as exc:
        sys.exit(f"migration failed, nothing applied: {exc}")
    print(f"{args.schema}: applied {len(applied)} migration(s): {', '.join(applied) or 'up to date'}")


if __name__ == "__main__":
    main()
