"""The background components, one named class each, that finish what a search could not:

- `AnalysisCompleter`: claims pending caption analyses (any creator, any replica's), runs them through the inference
  service in batches, stores the results and re-renders the creators' reports. Failures back off per row.
- `OutboxRelay`: hands CDN jobs left in `creator.media_outbox` (the CDN was down at search time) to the CDN.
- `MediaSettler`: asks the CDN (GetAssets, over gRPC) about the unsettled images of recently fetched creators, stores
  what it settled and re-renders those reports, so answers carry our URLs without anyone searching again.
- `CreatorEmbedder`: keeps each creator's discovery embedding, languages and topics (embedding.py) up to date. Its
  `refresh` runs wherever a creator's recent posts or analyses change (after a search's fetch, after the completer
  stored analyses); its passes embed the biographies not embedded as they now read (one EmbedTexts call per pass;
  new, changed, or failed at search time) and compute the embeddings never computed.

The search flow makes its first attempt through the same methods (`AnalysisCompleter.analyse`/`settle`,
`OutboxRelay.claim`/`relay`/`settle`, `CreatorEmbedder.embed_bio`/`settle_bio`/`refresh`), so "done or postponed" is
decided in one place.

All work in passes, as loops of the service's supervisor (following.supervisor): a pass that did something is
followed at once by another (bounded), an idle pass by a wait of `poll_s` (cut short by `wake()` or `stop()`), a failed
one by the supervisor's backoff. State lives in PostgreSQL only, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from creator.v1 import creator_pb2
from prometheus_client import Counter

from following.supervisor import Loop, Supervisor
from services.creator import backlog, embedding, embedding_store, reports, store
from services.creator.analytics import CaptionAnalysis
from services.creator.cdn_client import CdnClient, CdnUnavailable
from services.creator.dbguard import DatabaseGuard
from services.creator.inference_client import InferenceClient, InferenceUnavailable
from services.creator.records import MediaInfo

log = logging.getLogger(__name__)

WORKER_ITEMS = Counter("creator_worker_items_total", "Items handled by background components", ["worker", "result"])
BUSY_PASSES_IN_A_ROW = 100
# Off the request path, the settler can wait longer for GetAssets than a search does.
SETTLE_ASSETS_DEADLINE_S = 2.0


class BackgroundComponent:
    name = "component"

    def __init__(self, poll_s: float) -> None:
        self._poll_s = poll_s
        self._busy = 0
        self._loop: Loop | None = None

    def start(self, supervisor: Supervisor, deadline_s: float) -> None:
        self._loop = supervisor.add(self.name, self.step, deadline_s=deadline_s)

    def wake(self) -> None:
        if self._loop is not None:
            self._loop.wake()

    async def stop(self, grace: float) -> None:
        if self._loop is not None:
            await self._loop.stop(grace)

    async def run_once(self) -> int:
        """One pass; returns how many items it handled."""
        raise NotImplementedError

    async def step(self) -> float:
        """One pass; returns the wait before the next (none after a busy pass, up to a bound)."""
        handled = await self.run_once()
        if handled and self._busy < BUSY_PASSES_IN_A_ROW:
            self._busy += 1
            return 0.0
        self._busy = 0
        return self._poll_s


@dataclass(frozen=True, slots=True)
class EmbeddedBio:
    biography: str
    vector: list[float] | None  # None: nothing to embed (no letters)


class CreatorEmbedder(BackgroundComponent):
    """A creator's embedding follows embedding.py over the biography and the captions of the report's summary window
    (its `window` newest posts of the latest fetch), counting every analysed caption: those whose sentiment and
    category were skipped as unsupported_language are embedded too (the encoder reads any text, if English best),
    give their language, and count in the topics' denominator without a topic, as embedding.topics defines."""

    name = "creator-embedder"

    def __init__(
        self, guard: DatabaseGuard, inference: InferenceClient, *, batch: int, window: int, poll_s: float
    ) -> None:
        super().__init__(poll_s)
        self._guard = guard
        self._inference = inference
        self._batch = batch
        self._window = window

    async def embed_bio(self, biography: str | None) -> EmbeddedBio | str | None:
        """The biography's embedding (None given: nothing to embed), or why there is none now."""
        if biography is None:
            return None
        if not biography.strip():
            return EmbeddedBio(biography, None)
        try:
            (vector,) = await self._inference.embed_texts([biography])
        except InferenceUnavailable as exc:
            return str(exc)
        return EmbeddedBio(biography, vector)

    async def settle_bio(self, conn: asyncpg.Connection, creator_id: int, embedded: EmbeddedBio | str | None) -> None:
        """Stores what `embed_bio` gave; a failure leaves the biography due for a later pass."""
        if isinstance(embedded, EmbeddedBio):
            await embedding_store.save_bio_embedding(conn, creator_id, embedded.biography, embedded.vector)
        elif embedded:
            log.info("biography not embedded; left for the creator embedder", extra={"reason": embedded})

    async def refresh(self, conn: asyncpg.Connection, creator_id: int) -> None:
        """Recomputes the creator's embedding, languages and topics from its stored texts."""
        texts = await embedding_store.creator_texts(conn, creator_id, self._window)
        if texts is None:
            return
        analysed = [caption for caption in texts.captions if caption.status == "analyzed"]
        computed = embedding.creator_embedding(texts.bio, [caption.embedding for caption in analysed])
        await embedding_store.save_creator_embedding(
            conn,
            creator_id,
            computed,
            embedding.languages([caption.language for caption in analysed]),
            embedding.topics([caption.category for caption in analysed]),
        )

    async def run_once(self) -> int:
        async with self._guard.connection() as conn:
            due = await embedding_store.due_creators(conn, self._batch)
        if not due:
            return 0
        bios = [item for item in due if item.bio_due and item.biography.strip()]
        vectors: list[list[float] | None] = []
        if bios:
            try:
                vectors = await self._inference.embed_texts([item.biography for item in bios])
            except InferenceUnavailable as exc:
                WORKER_ITEMS.labels(self.name, "postponed").inc(len(due))
                log.info("biographies not embedded; retried later", extra={"reason": str(exc)})
                return 0
        embedded = {item.creator_id: vector for item, vector in zip(bios, vectors, strict=True)}
        async with self._guard.connection() as conn:
            for item in due:
                if item.bio_due:
                    vector = embedded.get(item.creator_id)
                    await embedding_store.save_bio_embedding(conn, item.creator_id, item.biography, vector)
                await self.refresh(conn, item.creator_id)
        WORKER_ITEMS.labels(self.name, "done").inc(len(due))
        return len(due)


class AnalysisCompleter(BackgroundComponent):
    name = "analysis-completer"

    def __init__(
        self,
        guard: DatabaseGuard,
        inference: InferenceClient,
        *,
        batch: int,
        lease_s: float,
        max_backoff_s: float,
        poll_s: float,
        rules: reports.ReportRules,
        embedder: CreatorEmbedder,
    ) -> None:
        super().__init__(poll_s)
        self._guard = guard
        self._inference = inference
        self._rules = rules
        self._embedder = embedder
        self._batch = batch
        self._lease_s = lease_s
        self._max_backoff_s = max_backoff_s

    @property
    def lease_s(self) -> float:
        """How long a claimed (or newly pending) analysis is left to its claimer before the completer takes it."""
        return self._lease_s

    async def analyse(self, due: Sequence[backlog.DueAnalysis]) -> list[CaptionAnalysis] | str:
        """One batched inference call: the results in order, or why there are none."""
        if not due:
            return []
        try:
            return await self._inference.analyze([item.caption for item in due], include_embedding=True)
        except InferenceUnavailable as exc:
            return str(exc)

    async def settle(
        self,
        conn: asyncpg.Connection,
        due: Sequence[backlog.DueAnalysis],
        analysed: list[CaptionAnalysis] | str,
        *,
        by_search: bool = False,
    ) -> None:
        """Stores the results of `analyse`, or postpones the rows (with backoff) when it has none. `by_search`: the
        rows are those a search saved and holds its creator's fetch lock for, so it may wait for them (backlog.py)."""
        if isinstance(analysed, str):
            await backlog.postpone_analyses(conn, [item.post_id for item in due], analysed, self._max_backoff_s)
            return
        await backlog.complete_analyses(
            conn,
            [(item.post_id, item.caption, result) for item, result in zip(due, analysed, strict=True)],
            skip_locked=not by_search,
        )

    async def run_once(self) -> int:
        async with self._guard.connection() as conn:
            due = await backlog.claim_analyses(conn, self._batch, self._lease_s)
        if not due:
            return 0
        analysed = await self.analyse(due)
        async with self._guard.connection() as conn:
            await self.settle(conn, due, analysed)
            if isinstance(analysed, str):
                WORKER_ITEMS.labels(self.name, "postponed").inc(len(due))
                return 0
            for creator_id in sorted({item.creator_id for item in due}):
                await reports.render_report(conn, creator_id, self._rules)
                await self._embedder.refresh(conn, creator_id)
        WORKER_ITEMS.labels(self.name, "done").inc(len(due))
        log.info("pending analyses completed", extra={"posts": len(due)})
        return len(due)


class OutboxRelay(BackgroundComponent):
    name = "outbox-relay"

    def __init__(
        self, guard: DatabaseGuard, cdn: CdnClient, *, batch: int, lease_s: float, max_backoff_s: float, poll_s: float
    ) -> None:
        super().__init__(poll_s)
        self._guard = guard
        self._cdn = cdn
        self._batch = batch
        self._lease_s = lease_s
        self._max_backoff_s = max_backoff_s

    async def claim(self, conn: asyncpg.Connection, creator_id: int | None = None) -> list[backlog.OutboxJob]:
        """Leases the next outbox rows (of one creator only, when given)."""
        return await backlog.claim_outbox(conn, self._batch, self._lease_s, creator_id)

    async def relay(self, claimed: Sequence[backlog.OutboxJob]) -> str:
        """Hands claimed rows to the CDN: "" when it took them (or there were none), else why not."""
        if not claimed:
            return ""
        try:
            await self._cdn.enqueue([item.job for item in claimed])
        except CdnUnavailable as exc:
            return str(exc)
        return ""

    async def settle(self, conn: asyncpg.Connection, claimed: Sequence[backlog.OutboxJob], error: str) -> None:
        """Deletes the rows the CDN took, or postpones them (with backoff) when `relay` said why it could not."""
        ids = [item.id for item in claimed]
        if error:
            await backlog.postpone_outbox(conn, ids, error, self._max_backoff_s)
        elif ids:
            await backlog.delete_outbox(conn, ids)

    async def run_once(self) -> int:
        async with self._guard.connection() as conn:
            claimed = await self.claim(conn)
        if not claimed:
            return 0
        error = await self.relay(claimed)
        async with self._guard.connection() as conn:
            await self.settle(conn, claimed, error)
        WORKER_ITEMS.labels(self.name, "postponed" if error else "done").inc(len(claimed))
        if error:
            return 0
        log.info("outbox relayed to the cdn", extra={"jobs": len(claimed)})
        return len(claimed)


class MediaSettler(BackgroundComponent):
    """Each pass: one GetAssets call for the unsettled images of up to `creators` recently fetched creators; the
    settled ones are stored and those creators' reports re-rendered. A pass that settled nothing waits `poll_s`, so
    an image is in the stored report at most about `poll_s` + one pass after the CDN finished it."""

    name = "media-settler"

    def __init__(
        self,
        guard: DatabaseGuard,
        cdn: CdnClient,
        *,
        creators: int,
        window_s: float,
        poll_s: float,
        rules: reports.ReportRules,
    ) -> None:
        super().__init__(poll_s)
        self._guard = guard
        self._cdn = cdn
        self._creators = creators
        self._window_s = window_s
        self._rules = rules

    async def run_once(self) -> int:
        async with self._guard.connection() as conn:
            unsettled = await store.unsettled_media(conn, self._creators, self._window_s)
        urls = list(dict.fromkeys(url for found in unsettled.values() for url in found))
        if not urls:
            return 0
        try:
            infos = await self._cdn.assets(urls, SETTLE_ASSETS_DEADLINE_S)
        except CdnUnavailable as exc:
            WORKER_ITEMS.labels(self.name, "postponed").inc(len(urls))
            log.info("cdn assets unavailable; media left pending", extra={"reason": str(exc)})
            return 0
        settled: list[MediaInfo] = [info for info in infos if info.state != creator_pb2.MEDIA_STATE_PENDING]
        if not settled:
            return 0
        done = {info.source_url for info in settled}
        async with self._guard.connection() as conn:
            await store.save_media(conn, settled)
            for creator_id, found in sorted(unsettled.items()):
                if done.intersection(found):
                    await reports.render_report(conn, creator_id, self._rules)
        WORKER_ITEMS.labels(self.name, "done").inc(len(settled))
        return len(settled)
