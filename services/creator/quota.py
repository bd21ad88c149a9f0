"""The per-user fetch quota: one token bucket per user in PostgreSQL (`creator.user_fetch_quotas`), shared by every
replica, so no single user can spend the shared upstream budget (budget.py) for everyone.

A search that has to ask Instagram (a creator not stored yet, an expired report, a refresh) takes one unit from its
caller's bucket before the fetch, in one atomic statement. A bucket holds `per_hour` units and refills at `per_hour`
an hour. When it is empty the search is refused with RESOURCE_EXHAUSTED and the seconds until the next unit; searches
answered from the store cost nothing.
"""

from __future__ import annotations

import math

from following.errors import QuotaExceeded
from services.creator.dbguard import DatabaseGuard

# $1 user, $2 capacity, $3 refill per second. The update happens only when a whole unit is there, so a refused
# search changes nothing and returns no row.
TAKE_UNIT = """
INSERT INTO creator.user_fetch_quotas AS q (user_id, tokens, updated_at)
VALUES ($1, $2::double precision - 1, clock_timestamp())
ON CONFLICT (user_id) DO UPDATE
   SET tokens = LEAST($2::double precision,
                      q.tokens + extract(epoch FROM clock_timestamp() - q.updated_at) * $3::double precision) - 1,
       updated_at = clock_timestamp()
 WHERE LEAST($2::double precision,
             q.tokens + extract(epoch FROM clock_timestamp() - q.updated_at) * $3::double precision) >= 1
RETURNING q.tokens
"""

LEVEL = """
SELECT LEAST($2::double precision,
             q.tokens + extract(epoch FROM clock_timestamp() - q.updated_at) * $3::double precision)
  FROM creator.user_fetch_quotas q WHERE q.user_id = $1
"""


class FetchQuota:
    """Takes one upstream fetch from a user's hourly quota, or refuses with the time until the next one."""

    def __init__(self, guard: DatabaseGuard, per_hour: int) -> None:
        self._guard = guard
        self.per_hour = per_hour
        self._refill_per_second = per_hour / 3600.0

    async def take(self, user_id: str) -> None:
        """Spends one unit of `user_id`'s quota; raises ResourceExhausted (with retry_after) when none is left."""
        async with self._guard.connection() as conn:
            left = await conn.fetchval(TAKE_UNIT, user_id, float(self.per_hour), self._refill_per_second)
            if left is not None:
                return
            level = await conn.fetchval(LEVEL, user_id, float(self.per_hour), self._refill_per_second)
        wait = math.ceil(max(1.0 - float(level or 0.0), 0.0) / self._refill_per_second) or 1
        raise QuotaExceeded(
            f"fetch quota spent: each user may make {self.per_hour} searches an hour that ask Instagram (refreshes and"
            f" creators not stored yet); stored reports still answer; retry after {wait} s",
            retry_after=wait,
        )
