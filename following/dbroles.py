"""Database bootstrap done once by an administrator: one login role and one schema per service.

Each service role owns only its own schema and is neither superuser nor BYPASSRLS, so no service can read another's
tables and row-level security applies to it. `python -m following.dbroles --admin-dsn DSN creator cdn inference`
creates what is missing and changes nothing that exists (passwords from `<SERVICE>_DB_PASSWORD`, optional).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re

import asyncpg

SERVICES = ("creator", "inference", "cdn")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def role_name(service: str) -> str:
    return f"{service}_svc"


async def ensure_service_role(conn: asyncpg.Connection, service: str, password: str | None = None) -> None:
    """Creates the service's role and schema if they are missing; the schema belongs to the role."""
    if not _IDENTIFIER.match(service):
        raise ValueError(f"service name {service!r} is not a plain lower-case identifier")
    role = role_name(service)
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if not exists:
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
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {role}")
    await conn.execute(f"ALTER ROLE {role} SET search_path = {service}")
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')


async def bootstrap(admin_dsn: str, services: tuple[str, ...] = SERVICES) -> None:
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service in services:
            await ensure_service_role(conn, service, os.environ.get(f"{service.upper()}_DB_PASSWORD"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the per-service database roles and schemas.")
    parser.add_argument("--admin-dsn", default=os.environ.get("ADMIN_DATABASE_URL"), required=False)
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args()
    if not args.admin_dsn:
        parser.error("--admin-dsn or ADMIN_DATABASE_URL is required")
    asyncio.run(bootstrap(args.admin_dsn, tuple(args.services)))
    print("roles and schemas ready: " + ", ".join(f"{s} ({role_name(s)})" for s in args.services))


if __name__ == "__main__":
    main()
