"""CreatorService handlers: read the caller and the request, call the domain, return its messages."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from following.errors import InvalidArgument, Unavailable
from following.interceptors import caller_user_id
from following.pagination import PageTokenCodec, page_size
from services.creator import report_json, reports, store, unlocks, wire
from services.creator.dbguard import DatabaseGuard
from services.creator.discovery_handlers import DiscoveryHandlers, TextEmbedder
from services.creator.search import SearchService
from services.creator.tracking_handlers import TrackingHandlers
from services.creator.tracking_settings import TrackingSettings
from services.creator.upstream import MAX_POST_LIMIT
from services.creator.usernames import normalise_username

UNLOCKED_TOKENS = PageTokenCodec("unlocked", int)
POST_TOKENS = PageTokenCodec("posts", str)


def _timestamp(value: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)  # type: ignore[arg-type]
    return stamp


class CreatorServicer(TrackingHandlers, DiscoveryHandlers, creator_pb2_grpc.CreatorServiceServicer):
    def __init__(
        self,
        parts: Callable[[], tuple[DatabaseGuard, SearchService] | None],
        default_post_limit: int,
        rules: reports.ReportRules,
        tracking: TrackingSettings | None = None,
        embedder: Callable[[], TextEmbedder | None] = lambda: None,
        json_cache_bytes: int = 32 << 20,
    ) -> None:
        super().__init__(lambda: ready[0] if (ready := parts()) is not None else None, tracking or TrackingSettings())
        self._embedder = embedder
        self._parts = parts
        self._default_post_limit = default_post_limit
        self._rules = rules
        self._json = report_json.ReportJson(json_cache_bytes)

    def _ready(self) -> tuple[DatabaseGuard, SearchService]:
        parts = self._parts()
        if parts is None:
            raise Unavailable("the service is starting; retry in a moment", retry_after=1)
        return parts

    async def SearchCreator(
        self, request: creator_pb2.SearchCreatorRequest, context: grpc.aio.ServicerContext
    ) -> bytes:
        """The report as encoded bytes (wire.py); the service is registered with wire.add_creator_service for it."""
        return (await self._search(request)).encoded()

    async def SearchCreatorJson(
        self, request: creator_pb2.SearchCreatorRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        """The same search, its report as JSON (report_json.py), which the gateway passes through to REST callers."""
        answer = await self._search(request)
        return httpbody_pb2.HttpBody(content_type=report_json.CONTENT_TYPE, data=self._json.render(answer))

    async def _search(self, request: creator_pb2.SearchCreatorRequest) -> wire.Answer:
        user_id = caller_user_id()
        username = normalise_username(request.username)
        if request.post_limit > MAX_POST_LIMIT:
            raise InvalidArgument(f"post_limit: must be between 1 and {MAX_POST_LIMIT}, got {request.post_limit}")
        post_limit = request.post_limit or self._default_post_limit
        _, search = self._ready()
        return await search.search(user_id, username, request.refresh, post_limit)

    async def ListUnlocked(
        self, request: creator_pb2.ListUnlockedRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListUnlockedResponse:
        user_id = caller_user_id()
        size = page_size(request.page_size, 20, 100)
        after = UNLOCKED_TOKENS.decode(request.page_token)
        guard, _ = self._ready()
        async with guard.connection() as conn:
            rows = await unlocks.list_unlocked(conn, user_id, size + 1, after)
        page, more = rows[:size], len(rows) > size
        return creator_pb2.ListUnlockedResponse(
            creators=[reports.unlocked_message(row) for row in page],
            next_page_token=UNLOCKED_TOKENS.encode(page[-1].unlocked_at, page[-1].creator_id) if more else "",
        )

    async def ListPosts(
        self, request: creator_pb2.ListPostsRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListPostsResponse:
        user_id = caller_user_id()
        username = normalise_username(request.username)
        size = page_size(request.page_size, 12, 100)
        after = POST_TOKENS.decode(request.page_token)
        guard, _ = self._ready()
        async with guard.connection() as conn:
            creator_id, followers = await unlocks.require_unlock(conn, user_id, username)
            posts = await unlocks.page_of_posts(conn, creator_id, followers, size + 1, after)
            page, more = posts[:size], len(posts) > size
            urls = [url for post in page for url in (post.image_url, *post.carousel_urls) if url]
            known = await store.load_media(conn, urls)
        last = page[-1] if page else None
        return creator_pb2.ListPostsResponse(
            posts=[reports.post_message(post, known, self._rules.thresholds) for post in page],
            next_page_token=POST_TOKENS.encode(last.taken_at, last.instagram_id) if more and last else "",
        )
