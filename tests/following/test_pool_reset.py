"""The pool's release of a connection: asyncpg's reset statement by default, skipped only for a use marked untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from following.db import create_pool, session_untouched
from tests.conftest import TestDatabase


@pytest.fixture
async def one_connection_pool(database: TestDatabase) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database.admin_dsn, application_name="pool-reset-test", min_size=1, max_size=1)
    yield pool
    await pool.close()


async def _application_name_after_release(pool: asyncpg.Pool, mark: bool) -> str:
    async with pool.acquire() as conn:
        await conn.execute("SET application_name = 'changed by the last use'")
        if mark:
            session_untouched(conn)
    async with pool.acquire() as conn:
        name: str = await conn.fetchval("SHOW application_name")
    return name


async def test_a_released_connection_gets_its_session_state_reset(one_connection_pool: asyncpg.Pool) -> None:
    assert await _application_name_after_release(one_connection_pool, mark=False) == "pool-reset-test"


async def test_a_use_marked_untouched_skips_the_reset_statement_once(one_connection_pool: asyncpg.Pool) -> None:
    # The mark is a promise that nothing needs resetting; the SET proves the statement was not sent.
    assert await _application_name_after_release(one_connection_pool, mark=True) == "changed by the last use"
    # The next, unmarked release resets again.
    assert await _application_name_after_release(one_connection_pool, mark=False) == "pool-reset-test"


async def test_an_untouched_use_left_in_a_transaction_is_still_rolled_back(one_connection_pool: asyncpg.Pool) -> None:
    async with one_connection_pool.acquire() as conn:
        await conn.execute("CREATE TABLE kept_out (id int)")
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("INSERT INTO kept_out VALUES (1)")
        session_untouched(conn)
    async with one_connection_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM kept_out") == 0
