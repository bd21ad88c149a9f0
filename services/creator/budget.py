"""The upstream request budget: one token bucket per source in PostgreSQL, shared by every replica.

Each upstream HTTP request (retries included) takes one token in a single atomic statement; tokens refill at a steady
rate up to the capacity. When the bucket is empty the request is not sent and the source raises Throttled with the
seconds until the next token.
"""

from __future__ import annotations

from services.creator.dbguard import DatabaseGuard
from services.creator.upstream import Throttled

ENSURE_BUDGET = """
INSERT INTO creator.request_budgets AS b (source, tokens, capacity, refill_per_second)
VALUES ($1, $2, $2, $3)
ON CONFLICT (source) DO UPDATE SET capacity = EXCLUDED.capacity, refill_per_second = EXCLUDED.refill_per_second,
       tokens = LEAST(b.tokens, EXCLUDED.capacity)
"""

TAKE_TOKEN = """
WITH level AS (
    SELECT b.source, clock_timestamp() AS at,
           LEAST(b.capacity, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * b.refill_per_second)
               AS tokens
      FROM creator.request_budgets b WHERE b.source = $1 FOR UPDATE)
UPDATE creator.request_budgets b
   SET tokens = CASE WHEN level.tokens >= 1 THEN level.tokens - 1 ELSE level.tokens END, updated_at = level.at
  FROM level WHERE b.source = level.source
RETURNING level.tokens >= 1 AS granted, level.tokens AS tokens, b.refill_per_second
"""


class PgRequestBudget:
    """A RequestBudget (see services.creator.upstream.source) backed by `creator.request_budgets`."""

    def __init__(self, guard: DatabaseGuard, source: str, capacity: float, refill_per_minute: float) -> None:
        self._guard = guard
        self.source = source
        self._capacity = capacity
        self._refill_per_second = refill_per_minute / 60.0

    async def ensure(self) -> None:
        """Creates the bucket, or applies this replica's capacity and rate to it."""
        async with self._guard.connection() as conn:
            await conn.execute(ENSURE_BUDGET, self.source, self._capacity, self._refill_per_second)

    async def acquire(self) -> None:
        async with self._guard.connection() as conn:
            row = await conn.fetchrow(TAKE_TOKEN, self.source)
            if row is None:  # the bucket was never created (or was removed): create it and take again
                await conn.execute(ENSURE_BUDGET, self.source, self._capacity, self._refill_per_second)
                row = await conn.fetchrow(TAKE_TOKEN, self.source)
        if row is None or not row["granted"]:
            tokens = float(row["tokens"]) if row is not None else 0.0
            wait = (1.0 - tokens) / self._refill_per_second
            raise Throttled(max(wait, 0.001), f"the request budget of source {self.source!r} is spent")
