"""CreatorService handlers of discovery: SimilarCreators (lookalikes of a stored creator) and Discover (search by
meaning with exact filters, or lookalikes when the query names a stored creator).

Mixed into CreatorServicer (handlers.py); thin like the others: read the caller and the request, embed the query
(inference EmbedTexts), rank in the store (discovery_store.py), return the messages. Discover pages within the best
MAX_RANKED matches, each ranked only as far as it reaches: a page token holds the offset of the next page, a
digest of the request it belongs to, and the ranking's path (exact or by the index) the first page chose.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
import grpc
from creator.v1 import creator_pb2

from following.errors import (
    EmbeddingPending,
    FailedPrecondition,
    InvalidArgument,
    InvalidUsername,
    NotFound,
    Unavailable,
)
from following.interceptors import caller_user_id
from following.pagination import PageTokenCodec, page_size
from services.creator import discovery_store
from services.creator.dbguard import DatabaseGuard
from services.creator.inference_client import InferenceUnavailable
from services.creator.query_embeddings import QueryEmbeddings
from services.creator.usernames import normalise_username

DISCOVER_TOKENS = PageTokenCodec("discover", str)
MAX_QUERY_CHARS = 200
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 64
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 10
INT64_MAX = 2**63 - 1
# How a page token names the ranking's path, so that every page of a request takes the path its first page took.
PATHS = {True: "exact", False: "index"}


class TextEmbedder(Protocol):
    async def embed_texts(self, texts: Sequence[str]) -> list[list[float] | None]: ...


def summary(profile: discovery_store.Profile) -> creator_pb2.CreatorSummary:
    message = creator_pb2.CreatorSummary(
        full_name=profile.full_name,
        avatar_url=profile.avatar_url,
        is_verified=profile.is_verified,
        followers_count=profile.followers,
        dominant_category=profile.dominant_category,
        languages=profile.languages,
        topics=profile.topics,
    )
    if profile.mean_engagement_rate is not None:
        message.mean_engagement_rate = profile.mean_engagement_rate
    return message


def shared_topics(mine: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """The topics both have, in `mine`'s order."""
    kept = set(theirs)
    return [topic for topic in mine if topic in kept]


def _labels(field: str, values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_FILTER_VALUES:
        raise InvalidArgument(f"{field}: at most {MAX_FILTER_VALUES} values, got {len(values)}")
    labels: list[str] = []
    for value in values:
        label = value.strip().lower()
        if not label or len(label) > MAX_FILTER_CHARS or not label.isprintable():
            raise InvalidArgument(f"{field}: each value must be printable text of 1-{MAX_FILTER_CHARS} characters")
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def discover_filters(request: creator_pb2.DiscoverRequest) -> discovery_store.Filters:
    """The request's filters, checked: INVALID_ARGUMENT names the field when one is out of range or they contradict."""
    low = request.min_followers if request.HasField("min_followers") else None
    high = request.max_followers if request.HasField("max_followers") else None
    for field, value in (("min_followers", low), ("max_followers", high)):
        if value is not None and value < 0:
            raise InvalidArgument(f"{field}: must not be negative, got {value}")
    if low is not None and high is not None and low > high:
        raise InvalidArgument(f"min_followers ({low}) must not exceed max_followers ({high})")
    rate = request.min_engagement_rate if request.HasField("min_engagement_rate") else None
    if rate is not None and not (math.isfinite(rate) and rate >= 0):
        raise InvalidArgument(f"min_engagement_rate: must be a fraction of at least 0, got {rate}")
    return discovery_store.Filters(
        min_followers=low,
        max_followers=high,
        topics=_labels("categories", request.categories),
        languages=_labels("languages", request.languages),
        min_engagement_rate=rate,
    )


def request_digest(query: str, filters: discovery_store.Filters, size: int) -> str:
    """What a page token is bound to, so that a token is refused for another query, other filters or page size."""
    text = repr((query, filters, size)).encode()
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def username_in(query: str) -> str | None:
    """The username a query names: "@name" must be one (INVALID_ARGUMENT otherwise); a bare word may be one."""
    if query.startswith("@"):
        return normalise_username(query)
    try:
        return normalise_username(query)
    except InvalidUsername:
        return None


class DiscoveryHandlers:
    """The discovery RPCs; the servicer provides `_guard_ready` (tracking_handlers.py) and `_embedder`."""

    _guard_ready: Callable[[], DatabaseGuard]
    _embedder: Callable[[], TextEmbedder | None]
    _iterative_scan: bool | None = None
    _query_embeddings: QueryEmbeddings | None = None

    async def _can_scan_iteratively(self, conn: asyncpg.Connection) -> bool:
        if self._iterative_scan is None:
            self._iterative_scan = await discovery_store.iterative_scan_available(conn)
        return self._iterative_scan

    async def SimilarCreators(
        self, request: creator_pb2.SimilarCreatorsRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.SimilarCreatorsResponse:
        caller_user_id()
        username = normalise_username(request.username)
        size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        async with self._guard_ready().connection() as conn:
            anchor = await discovery_store.anchor(conn, username)
            if anchor is None:
                raise NotFound(f"{username} is not a stored creator: search it first")
            ranked = await discovery_store.rank(
                conn,
                self._anchor_vector(anchor, username),
                size,
                discovery_store.Filters(),
                anchor.creator_id,
                await self._can_scan_iteratively(conn),
            )
            found = await discovery_store.profiles(conn, [r.creator_id for r in ranked])
        return creator_pb2.SimilarCreatorsResponse(
            creators=[
                creator_pb2.SimilarCreator(
                    username=found[r.creator_id].username,
                    similarity=r.similarity,
                    profile=summary(found[r.creator_id]),
                    shared_topics=shared_topics(anchor.topics, found[r.creator_id].topics),
                )
                for r in ranked
                if r.creator_id in found
            ]
        )

    async def Discover(
        self, request: creator_pb2.DiscoverRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.DiscoverResponse:
        caller_user_id()
        query = request.query.strip()
        if not query:
            raise InvalidArgument("query: must not be empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(f"query: must be at most {MAX_QUERY_CHARS} characters, got {len(query)}")
        filters = discover_filters(request)
        size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        digest = request_digest(query, filters, size)
        offset, exact = self._position(request.page_token, digest)
        named = username_in(query)
        anchor = None
        if named is not None:
            async with self._guard_ready().connection() as conn:
                anchor = await discovery_store.anchor(conn, named)
        if anchor is None and query.startswith("@"):
            raise NotFound(f"no stored creator is named {named}: search it first")
        if anchor is not None:
            vector, exclude = self._anchor_vector(anchor, named or ""), anchor.creator_id
        else:
            # Embedded before a connection is taken: the inference call must not hold one from the pool.
            vector, exclude = await self._embed(query), None
        async with self._guard_ready().connection() as conn:
            iterative = await self._can_scan_iteratively(conn)
            if exact is None:
                exact = await discovery_store.ranks_exactly(conn, filters, exclude)
            # Ranked as far as this page and one more (whether a next page exists), on the path the first page took
            # (its token carries it) and at one ef_search: a prefix of the same ranking of MAX_RANKED. Without the
            # iterative scan the index finds few rows that pass a filter at a page's breadth, so every page ranks
            # all MAX_RANKED, as its fallback to the exact ranking needs.
            if iterative:
                wanted, ef = min(discovery_store.MAX_RANKED, offset + size + 1), discovery_store.DISCOVER_EF_SEARCH
            else:
                wanted, ef = discovery_store.MAX_RANKED, None
            ranked = await discovery_store.rank(conn, vector, wanted, filters, exclude, iterative, ef, exact)
            page = ranked[offset : offset + size]
            ids = [r.creator_id for r in page]
            found = await discovery_store.profiles(conn, ids)
            posts = await discovery_store.closest_posts(conn, vector, ids)
        more = offset + size < len(ranked)
        return creator_pb2.DiscoverResponse(
            creators=[
                creator_pb2.DiscoveredCreator(
                    username=found[r.creator_id].username,
                    score=r.similarity,
                    profile=summary(found[r.creator_id]),
                    matching_posts=[
                        creator_pb2.MatchingPost(shortcode=p.shortcode, caption=p.caption, similarity=p.similarity)
                        for p in posts[r.creator_id]
                    ],
                )
                for r in page
                if r.creator_id in found
            ],
            next_page_token=(
                DISCOVER_TOKENS.encode(datetime.now(UTC), f"{offset + size}.{digest}.{PATHS[exact]}") if more else ""
            ),
            lookalikes_of=named if anchor is not None else "",
        )

    @staticmethod
    def _anchor_vector(anchor: discovery_store.Anchor, username: str) -> str:
        if anchor.embedding is None and anchor.pending:
            raise EmbeddingPending(f"the captions of {username} are not embedded yet; retry shortly", retry_after=2)
        if anchor.embedding is None:
            raise FailedPrecondition(f"{username} has no biography or captions to compare by")
        return anchor.embedding

    async def _embed(self, query: str) -> str:
        if self._query_embeddings is None:
            self._query_embeddings = QueryEmbeddings()
        cached = self._query_embeddings.get(query)
        if cached is not None:
            return cached
        embedded = await self._embed_anew(query)
        self._query_embeddings.put(query, embedded)
        return embedded

    async def _embed_anew(self, query: str) -> str:
        embedder = self._embedder()
        if embedder is None:
            raise Unavailable("the service is starting; retry in a moment", retry_after=1)
        try:
            [vector] = await embedder.embed_texts([query])
        except InferenceUnavailable:
            raise Unavailable("inference cannot embed the query now; retry", retry_after=2) from None
        if vector is None:
            raise InvalidArgument("query: has no words to search by")
        return discovery_store.vector_text(vector)

    @staticmethod
    def _position(token: str, digest: str) -> tuple[int, bool | None]:
        """The offset a page token points at and whether its ranking is exact (None without a token: to decide)."""
        position = DISCOVER_TOKENS.decode(token)
        if position is None:
            return 0, None
        offset, _, rest = position[1].partition(".")
        bound_to, _, path = rest.partition(".")
        if bound_to != digest:
            raise InvalidArgument("page_token: made for another query, filters or page_size; start again without one")
        if not offset.isdigit() or not 0 < int(offset) < discovery_store.MAX_RANKED or path not in PATHS.values():
            raise InvalidArgument("page_token: not a token returned by this method; start again without one")
        return int(offset), path == PATHS[True]
