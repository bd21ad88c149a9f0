"""The refresh scheduler: a supervised loop that refreshes every tracked creator once per interval.

Every replica runs it; none leads. A pass claims due creators from `creator.refresh_schedule` (FOR UPDATE SKIP LOCKED,
leased by moving `next_refresh_at` ahead), so two replicas never refresh the same creator at once and a crashed
replica's claims come back after the lease. A refresh is the fetch path of a search (SearchService.refresh_tracked:
the same single fetch across replicas, store, one snapshot, caption analysis, image mirroring), with no user quota.

User searches come first: refreshes run only while the shared upstream budget holds more than its reserve
(`budget_reserve` x capacity); below it, the pass claims nothing and waits, so a refresh never takes a token a user
search needs. Replicas take turns to claim (`creator.claim_refreshes`, one round trip: a transaction-scoped advisory
lock, then the room), and each subtracts the refreshes claimed and not yet finished by all of them (`leased_until`),
whose requests may not have left the budget yet: together the replicas never claim more refreshes than the budget
holds above the reserve. A failed refresh backs off per creator (exponential, with jitter); a success is due again
one interval later, spread by +/- jitter. The schedule lives in PostgreSQL, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math

from prometheus_client import Counter

from following.db import session_untouched
from following.errors import DomainError
from following.supervisor import Loop, Supervisor
from services.creator import tracking_store
from services.creator.dbguard import DatabaseGuard
from services.creator.search import SearchService
from services.creator.tracking_settings import TrackingSettings

log = logging.getLogger(__name__)

REFRESHES = Counter("creator_tracked_refreshes_total", "Scheduled refreshes of tracked creators", ["outcome"])
# Upstream requests a refresh is counted for: the profile answer, and a feed page when the post limit needs more posts
# than the profile embeds. A refresh that needs no feed page sends one, so the count errs toward the users' reserve.
REQUESTS_PER_REFRESH = 2
# Claims given back because the budget fell to the reserve are retried after this long (or the idle poll).
YIELD_S = 1.0


class RefreshScheduler:
    def __init__(
        self, guard: DatabaseGuard, search: SearchService, settings: TrackingSettings, budget_source: str
    ) -> None:
        self._guard = guard
        self._search = search
        self._settings = settings
        self._source = budget_source
        self._loop: Loop | None = None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        self._loop = supervisor.add("track-refresh", self.run_pass, deadline_s=deadline_s)

    async def stop(self, grace: float) -> None:
        if self._loop is not None:
            await self._loop.stop(grace)

    async def run_pass(self) -> float:
        """One pass: claim what is due (within the budget above the reserve), refresh it; the wait until the next."""
        s = self._settings
        async with self._guard.connection() as conn:
            session_untouched(conn)  # transaction-scoped statements only: no reset round trip on release
            room, due = await tracking_store.claim_refreshes(
                conn, self._source, s.batch, s.lease_s, s.budget_reserve, REQUESTS_PER_REFRESH
            )
            if room <= 0:
                return min(s.poll_s, YIELD_S)
            if not due:
                wait = await tracking_store.next_due_in(conn)
                return s.poll_s if wait is None else min(s.poll_s, max(wait, 0.0))
        gate = asyncio.Semaphore(s.concurrency)

        async def refresh(item: tracking_store.Due) -> bool:
            async with gate:
                return await self._refresh(item)

        done = await asyncio.gather(*(refresh(item) for item in due))
        refreshed = [item.creator_id for item, ok in zip(due, done, strict=True) if ok]
        if refreshed:
            # One statement for the whole batch rather than a connection and a round trip per creator; until it
            # runs the claims stay leased, so no replica refreshes them meanwhile.
            async with self._guard.connection() as conn:
                session_untouched(conn)
                await tracking_store.refreshed(conn, refreshed, s.interval_s, s.jitter)
            REFRESHES.labels("refreshed").inc(len(refreshed))
        return 0.0

    def _room(self, level: tuple[float, float] | None) -> int:
        """Refreshes a budget at `level` (tokens, capacity) allows without touching the reserve kept for user
        searches; the claim itself computes the same in SQL, less the refreshes in flight (migration 0009)."""
        if level is None:  # no shared budget for this source: nothing to keep a reserve of
            return self._settings.batch
        tokens, capacity = level
        spare = tokens - self._settings.budget_reserve * capacity
        return max(math.floor(spare / REQUESTS_PER_REFRESH), 0)

    async def _refresh(self, item: tracking_store.Due) -> bool:
        """Refreshes one creator: True when stored (its schedule is updated with the batch), else backs it off."""
        s = self._settings
        try:
            error = await self._search.refresh_tracked(item.username, item.post_limit)
        except DomainError as exc:
            error = f"{exc.reason}: {exc}"
        except Exception as exc:  # one creator's failure must not stop the others; it backs off below
            log.exception("tracked refresh failed", extra={"creator": item.username})
            error = type(exc).__name__
        if not error:
            return True
        async with self._guard.connection() as conn:
            session_untouched(conn)
            if self._room(await tracking_store.budget_level(conn, self._source)) <= 0:
                # Most likely our own budget refused: not the creator's fault, so no backoff is counted.
                await tracking_store.postpone(conn, [item.creator_id], min(s.poll_s, YIELD_S))
                REFRESHES.labels("yielded").inc()
                return False
            await tracking_store.failed(conn, item.creator_id, error, s.backoff_s, s.backoff_max_s)
        REFRESHES.labels("failed").inc()
        log.warning("tracked refresh failed; backing off", extra={"creator": item.username, "error": error})
        return False
