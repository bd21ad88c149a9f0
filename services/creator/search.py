"""The search flow: answer from the store while fresh, otherwise fetch once (across replicas), store, analyse, mirror.

Cached path: one statement (`creator.open_report`) unlocks the creator for the caller and returns the rendered report;
while images are still being copied, the CDN is asked about them in the background (at most every few seconds per
creator, by the supervised `media-refresh` loop), so the next answer carries the mirrored URLs.
Fetch path: one fetch per username at a time in this process (a shared future) and across replicas (a session
advisory lock, with a re-check of the store once it is held). After the fetch is stored, the captions go to the
inference service in one batched call and the images to the CDN, through the background components' own methods
(workers.py), so whatever fails there is postponed as they postpone it, and they retry it later. When the upstream
fails, the stored report is served marked stale.
Fairness: a search that needs a fetch first takes one unit of its caller's hourly quota (quota.py); a `refresh` of a
report fetched less than `min_refresh_s` ago answers the stored report, marked `refresh_skipped`, without a fetch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from creator.v1 import creator_pb2
from prometheus_client import Counter

from following.db import session_untouched
from following.errors import CreatorNotFound, ResourceExhausted, Unavailable, UpstreamThrottled, UpstreamUnavailable
from following.supervisor import Loop, Supervisor
from services.creator import reports, store, wire
from services.creator.cdn_client import CdnClient, CdnUnavailable
from services.creator.dbguard import DatabaseGuard
from services.creator.inference_client import InferenceClient
from services.creator.media import plan_jobs
from services.creator.quota import FetchQuota
from services.creator.records import MediaInfo
from services.creator.settings import CreatorSettings
from services.creator.upstream import ProfileSource, Throttled, UpstreamError, UserNotFound
from services.creator.workers import AnalysisCompleter, CreatorEmbedder, OutboxRelay

log = logging.getLogger(__name__)

SEARCHES = Counter("creator_searches_total", "Searches by how they were answered", ["outcome"])

LOCK_POLL_S = 0.05
DEFAULT_RETRY_AFTER_S = 30.0
MAX_TRACKED_CREATORS = 10_000
MAX_MEDIA_REFRESHES = 64


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    # The report was not fetched by this search (another one did, or the upstream failed and the store answered).
    from_cache: bool
    stale_reason: str = ""
    # A refresh came too soon after the last fetch and was answered from the store.
    refresh_skipped: bool = False


class SearchService:
    def __init__(
        self,
        guard: DatabaseGuard,
        source: ProfileSource,
        inference: InferenceClient,
        cdn: CdnClient,
        settings: CreatorSettings,
        quota: FetchQuota,
        completer: AnalysisCompleter,
        relay: OutboxRelay,
        embedder: CreatorEmbedder,
    ) -> None:
        self._guard = guard
        self._completer = completer
        self._relay = relay
        self._embedder = embedder
        self._quota = quota
        self._source = source
        self._inference = inference
        self._cdn = cdn
        self._settings = settings
        self._flights: dict[tuple[str, int], asyncio.Future[FetchOutcome]] = {}
        self._assets_checked: dict[int, float] = {}
        self._media_due: dict[int, list[str]] = {}
        self._media_loop: Loop | None = None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        """Runs the media refresh as a supervised loop."""
        self._media_loop = supervisor.add("media-refresh", self._refresh_due_media, deadline_s=deadline_s)

    async def search(self, user_id: str, username: str, refresh: bool, post_limit: int) -> wire.Answer:
        """The answer to the search, for the handlers to write out (encoded CreatorReport, or its JSON)."""
        started = datetime.now(UTC)
        async with self._guard.connection() as conn:
            opened = await store.open_report(conn, user_id, username)
            session_untouched(conn)  # one statement, in its own transaction: no reset needed on release
        if opened is not None and not refresh and self._fresh(opened, post_limit):
            SEARCHES.labels("cache").inc()
            return await self._answer(opened, post_limit, FetchOutcome(from_cache=True))
        if opened is not None and refresh and self._recently_fetched(opened, post_limit):
            SEARCHES.labels("refresh_skipped").inc()
            return await self._answer(opened, post_limit, FetchOutcome(from_cache=True, refresh_skipped=True))
        try:
            await self._quota.take(user_id)
        except ResourceExhausted:
            SEARCHES.labels("quota_spent").inc()
            raise
        outcome = await self._shared_fetch(username, post_limit, refresh, started)
        async with self._guard.connection() as conn:
            opened = await store.open_report(conn, user_id, username)
        if opened is None:
            raise Unavailable(f"the report of {username!r} is not ready yet; retry", retry_after=1)
        SEARCHES.labels("stale" if outcome.stale_reason else "cache" if outcome.from_cache else "fetch").inc()
        return await self._answer(opened, post_limit, outcome)

    async def refresh_tracked(self, username: str, post_limit: int) -> str:
        """A scheduled refresh through the fetch path of a search (no user quota): "" when stored, else why not."""
        outcome = await self._shared_fetch(username, post_limit, True, datetime.now(UTC))
        return outcome.stale_reason

    def _fresh(self, opened: store.OpenedReport | store.Freshness, post_limit: int) -> bool:
        age = (datetime.now(UTC) - opened.fetched_at).total_seconds()
        return age < self._settings.cache_ttl_seconds and store.covers(
            opened.post_limit, opened.recent_posts, opened.posts_count, post_limit
        )

    def _recently_fetched(self, opened: store.OpenedReport, post_limit: int) -> bool:
        age = (datetime.now(UTC) - opened.fetched_at).total_seconds()
        return age < self._settings.min_refresh_s and store.covers(
            opened.post_limit, opened.recent_posts, opened.posts_count, post_limit
        )

    async def _shared_fetch(self, username: str, post_limit: int, refresh: bool, started: datetime) -> FetchOutcome:
        key = (username, post_limit)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._fetch_exclusively(username, post_limit, refresh, started))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _fetch_exclusively(
        self, username: str, post_limit: int, refresh: bool, started: datetime
    ) -> FetchOutcome:
        async with self._guard.connection() as conn:
            waited = await self._lock(conn, username, started)
            if waited is not None:
                return waited
            try:
                return await self._fetch_and_store(conn, username, post_limit, refresh, started)
            finally:
                await store.unlock_fetch(conn, username)
                # The session lock was the one thing outliving a transaction here; released, the reset is not needed.
                session_untouched(conn)

    async def _lock(self, conn: asyncpg.Connection, username: str, started: datetime) -> FetchOutcome | None:
        """Takes the fetch lock of `username` (None), or returns when another replica stored a fetch meanwhile."""
        deadline = time.monotonic() + self._settings.fetch_wait_s
        while not await store.try_lock_fetch(conn, username):
            current = await store.freshness(conn, username)
            if current is not None and current.ready and current.fetched_at >= started:
                return FetchOutcome(from_cache=True)
            if time.monotonic() >= deadline:
                raise Unavailable(f"another search is still fetching {username!r}; retry shortly", retry_after=5)
            await asyncio.sleep(LOCK_POLL_S)
        return None

    async def _fetch_and_store(
        self, conn: asyncpg.Connection, username: str, post_limit: int, refresh: bool, started: datetime
    ) -> FetchOutcome:
        current = await store.freshness(conn, username)
        if current is not None and current.ready:
            if current.fetched_at >= started or (not refresh and self._fresh(current, post_limit)):
                return FetchOutcome(from_cache=True)
        try:
            fetch = await self._source.fetch_profile(username, post_limit)
        except UserNotFound:
            SEARCHES.labels("not_found").inc()
            raise CreatorNotFound(f"instagram has no account named {username!r}") from None
        except UpstreamError as exc:
            if current is not None and current.ready:
                log.warning("upstream failed; serving the stored report", extra={"reason": str(exc)})
                return FetchOutcome(from_cache=True, stale_reason=str(exc))
            retry = exc.retry_after_seconds if exc.retry_after_seconds is not None else DEFAULT_RETRY_AFTER_S
            SEARCHES.labels("unavailable").inc()
            upstream = UpstreamThrottled if isinstance(exc, Throttled) else UpstreamUnavailable
            raise upstream(f"instagram is unavailable ({exc}); retry after {retry:.0f} s", retry_after=retry) from exc
        saved = await store.save_fetch(conn, fetch, post_limit, plan_jobs(fetch), self._completer.lease_s)
        claimed = await self._relay.claim(conn, saved.creator_id)
        # The network calls run side by side; every database write stays on this search's one connection.
        analysed, relay_error, bio = await asyncio.gather(
            self._completer.analyse(saved.pending),
            self._relay.relay(claimed),
            self._embedder.embed_bio(fetch.profile.biography if saved.bio_due else None),
        )
        if isinstance(analysed, str):
            log.warning("inference unavailable; analysis left pending", extra={"reason": analysed})
        await self._completer.settle(conn, saved.pending, analysed, by_search=True)
        await self._embedder.settle_bio(conn, saved.creator_id, bio)
        if relay_error:
            log.warning("cdn unavailable; media jobs left in the outbox", extra={"reason": relay_error})
        await self._relay.settle(conn, claimed, relay_error)
        if claimed and not relay_error:
            settled = await self._settled_assets(saved.creator_id, [item.job.source_url for item in claimed])
            await store.save_media(conn, settled)
        await reports.render_report(conn, saved.creator_id, self._settings.report_rules)
        await self._embedder.refresh(conn, saved.creator_id)
        return FetchOutcome(from_cache=False)

    async def _settled_assets(self, creator_id: int, urls: list[str]) -> list[MediaInfo]:
        """The images the CDN is done with (mirrored or failed for good); none when it cannot say."""
        self._mark_assets_checked(creator_id)
        try:
            infos = await self._cdn.assets(urls)
        except CdnUnavailable as exc:
            log.info("cdn assets unavailable; original URLs served", extra={"reason": str(exc)})
            return []
        return [info for info in infos if info.state != creator_pb2.MEDIA_STATE_PENDING]

    async def _answer(self, opened: store.OpenedReport, post_limit: int, outcome: FetchOutcome) -> wire.Answer:
        """The answer, from the stored report's bytes (wire.py): no parse or re-serialisation of the report."""
        stored = wire.StoredReport(opened.report)
        if opened.media_pending and self._assets_due(opened.creator_id):
            report = creator_pb2.CreatorReport.FromString(opened.report)
            self._refresh_media_later(opened.creator_id, _pending_media(report))
        if post_limit < stored.post_count:
            async with self._guard.connection() as conn:
                report = await reports.render_report(
                    conn, opened.creator_id, self._settings.report_rules, limit=post_limit
                )
            stored = wire.StoredReport(report.SerializeToString())
        return wire.Answer(
            stored,
            age_seconds=max((datetime.now(UTC) - opened.fetched_at).total_seconds(), 0.0),
            from_cache=outcome.from_cache,
            stale_reason=outcome.stale_reason,
            refresh_skipped=outcome.refresh_skipped,
            unlocked_at=opened.unlocked_at,
            models=tuple(await self._inference.model_languages()),
        )

    def _refresh_media_later(self, creator_id: int, urls: list[str]) -> None:
        """Asks the CDN about images still being copied, off the request path; the next answer shows the result."""
        self._mark_assets_checked(creator_id)
        if urls and len(self._media_due) < MAX_MEDIA_REFRESHES and self._media_loop is not None:
            self._media_due[creator_id] = urls
            self._media_loop.wake()

    async def _refresh_due_media(self) -> float:
        """One pass of the media-refresh loop: every creator asked for since the last pass, concurrently."""
        due, self._media_due = self._media_due, {}
        await asyncio.gather(*(self._refresh_media(creator_id, urls) for creator_id, urls in due.items()))
        return self._settings.worker_poll_s

    async def _refresh_media(self, creator_id: int, urls: list[str]) -> None:
        try:
            settled = await self._settled_assets(creator_id, urls)
            if settled:
                async with self._guard.connection() as conn:
                    await store.save_media(conn, settled)
                    await reports.render_report(conn, creator_id, self._settings.report_rules)
        except Exception as exc:  # one creator's failure must not hold up the others; the next search retries
            log.warning("media refresh failed", extra={"creator_id": creator_id, "error": str(exc)})

    async def close(self) -> None:
        """Stops the media refresh (it is only a cache of the CDN's state)."""
        if self._media_loop is not None:
            await self._media_loop.stop(0.5)

    def _mark_assets_checked(self, creator_id: int) -> None:
        if len(self._assets_checked) >= MAX_TRACKED_CREATORS:
            self._assets_checked.clear()
        self._assets_checked[creator_id] = time.monotonic()

    def _assets_due(self, creator_id: int) -> bool:
        last = self._assets_checked.get(creator_id)
        return last is None or time.monotonic() - last >= self._settings.cdn_assets_recheck_s


def _pending_media(report: creator_pb2.CreatorReport) -> list[str]:
    media = [report.profile.avatar]
    for post in report.recent_posts:
        media.append(post.image)
        media.extend(post.carousel)
    urls = [m.original_url for m in media if m.state == creator_pb2.MEDIA_STATE_PENDING and m.original_url]
    return list(dict.fromkeys(urls))
