"""Database bootstrap done once by an administrator: per service, a schema, the role that owns it and the role the
service runs as.

`<service>_owner` owns the schema and every object in it; migrations run as it (MIGRATION_DATABASE_URL).
`<service>_svc` is the runtime role (DATABASE_URL): it owns nothing, gets only the privileges its migrations grant it
(USAGE on its schema, DML on its tables), and so cannot alter a table, disable or bypass row-level security, or drop
a policy. Neither role is superuser or BYPASSRLS, and neither can reach another service's schema.
`python -m following.dbroles --admin-dsn DSN creator cdn inference` creates what is missing, hands objects the runtime
role still owns (the earlier one-role layout) to the owner role, and changes nothing else that exists (passwords from
`<SERVICE>_DB_PASSWORD` and `<SERVICE>_OWNER_DB_PASSWORD`, optional).
"""

from __future__ import annotations

import argparse
import asyncio
import re

import asyncpg

from following.settings import EnvReader

SERVICES = ("creator", "inference", "cdn")
#: Extensions a service's migrations use, created by the administrator (they need a superuser or, on managed
#: PostgreSQL, its admin role) in the schema `extensions`, which is on each service role's search path (as Supabase
#: does); the roles may use them but create nothing there.
EXTENSIONS: dict[str, tuple[str, ...]] = {"creator": ("vector",)}
EXTENSION_SCHEMA = "extensions"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")

#: Objects in the schema the runtime role owns, and whether it owns the schema itself.
_OWNED_BY_RUNTIME = """
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1 AND nspowner = $2::regrole)
    OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relowner = $2::regrole)
    OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = $1 AND p.proowner = $2::regrole)
"""


def role_name(service: str) -> str:
    """The runtime role: what the service's DATABASE_URL logs in as."""
    return f"{service}_svc"


def owner_role_name(service: str) -> str:
    """The schema's owner: what migrations (MIGRATION_DATABASE_URL) log in as."""
    return f"{service}_owner"


async def _ensure_role(conn: asyncpg.Connection, role: str, password: str | None) -> None:
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        return
    statement = await conn.fetchval(
        "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %L',"
        " $1::text, $2::text)",
        role,
        password,
    )
    try:
        await conn.execute(statement)
    except asyncpg.DuplicateObjectError:
        pass  # another bootstrap created it concurrently


async def ensure_service_role(
    conn: asyncpg.Connection, service: str, password: str | None = None, owner_password: str | None = None
) -> None:
    """Creates the service's two roles and its schema if missing; the schema belongs to the owner role."""
    if not _IDENTIFIER.match(service):
        raise ValueError(f"service name {service!r} is not a plain lower-case identifier")
    role, owner = role_name(service), owner_role_name(service)
    await _ensure_role(conn, owner, owner_password)
    await _ensure_role(conn, role, password)
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {owner}")
    if await conn.fetchval(_OWNED_BY_RUNTIME, service, role):
        # The runtime role owned the schema before the roles were split: the owner takes everything over. The
        # runtime role keeps its DML meanwhile, so running pods work on until the next migration narrows it.
        await conn.execute(f"ALTER SCHEMA {service} OWNER TO {owner}")
        await conn.execute(f"REASSIGN OWNED BY {role} TO {owner}")
        await conn.execute(f"GRANT USAGE ON SCHEMA {service} TO {role}")
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {service} TO {role}")
        await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {service} TO {role}")
    for extension in EXTENSIONS.get(service, ()):
        await ensure_extension(conn, extension)
    database = await conn.fetchval("SELECT current_database()")
    for name in (owner, role):
        await conn.execute(f"ALTER ROLE {name} SET search_path = {service}, {EXTENSION_SCHEMA}")
        await conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {name}')


async def ensure_extension(conn: asyncpg.Connection, extension: str) -> None:
    """Creates `extension` in the schema `extensions` if the database has it nowhere yet."""
    if not _IDENTIFIER.match(extension):
        raise ValueError(f"extension name {extension!r} is not a plain lower-case identifier")
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {EXTENSION_SCHEMA}")
    await conn.execute(f"GRANT USAGE ON SCHEMA {EXTENSION_SCHEMA} TO PUBLIC")
    try:
        await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA {EXTENSION_SCHEMA}")
    except asyncpg.UndefinedFileError as error:  # the server's installation does not ship it
        raise RuntimeError(
            f"PostgreSQL extension {extension!r} is not installed on the server ({error}); see deploy/README.md"
        ) from error
    except asyncpg.UniqueViolationError:
        pass  # another bootstrap created it concurrently


async def bootstrap(admin_dsn: str, services: tuple[str, ...] = SERVICES, env: EnvReader | None = None) -> None:
    """The roles and schemas of `services`; their passwords from `env` (by default the process environment)."""
    env = env or EnvReader()
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service in services:
            upper = service.upper()
            await ensure_service_role(
                conn,
                service,
                env.optional_text(f"{upper}_DB_PASSWORD"),
                env.optional_text(f"{upper}_OWNER_DB_PASSWORD"),
            )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the per-service database roles and schemas.")
    parser.add_argument("--admin-dsn", default=EnvReader().optional_text("ADMIN_DATABASE_URL"), required=False)
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args()
    if not args.admin_dsn:
        parser.error("--admin-dsn or ADMIN_DATABASE_URL is required")
    asyncio.run(bootstrap(args.admin_dsn, tuple(args.services)))
    print(
        "roles and schemas ready: "
        + ", ".join(f"{s} (owner {owner_role_name(s)}, runtime {role_name(s)})" for s in args.services)
    )


if __name__ == "__main__":
    main()
