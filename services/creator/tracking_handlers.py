"""CreatorService handlers of tracking and history: TrackCreator, UntrackCreator, ListTracked, GetHistory.

Mixed into CreatorServicer (handlers.py); thin like the others: read the caller and the request, call the store and the
pure growth figures, return the messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import grpc
from creator.v1 import creator_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from following.errors import Unavailable
from following.interceptors import caller_user_id
from following.pagination import PageTokenCodec, page_size
from services.creator import growth, tracking_store, unlocks
from services.creator.dbguard import DatabaseGuard
from services.creator.tracking_settings import TrackingSettings
from services.creator.usernames import normalise_username

TRACKED_TOKENS = PageTokenCodec("tracked", int)


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def tracked_message(row: tracking_store.TrackedRow, points: list[growth.Point]) -> creator_pb2.TrackedCreator:
    message = creator_pb2.TrackedCreator(
        username=row.username,
        full_name=row.full_name,
        avatar_url=row.avatar_url,
        is_verified=row.is_verified,
        followers_count=row.followers,
        tracked_at=_timestamp(row.tracked_at),
        last_refreshed_at=_timestamp(row.fetched_at),
        last_refresh_error=row.last_error,
        growth=growth.message(growth.compute(points)),
    )
    if row.next_refresh_at is not None:
        message.next_refresh_at.CopyFrom(_timestamp(row.next_refresh_at))
    return message


class TrackingHandlers:
    """The tracking RPCs; the servicer provides `_guard_ready` and `_tracking`."""

    _tracking: TrackingSettings
    _guard_ready: Callable[[], DatabaseGuard]

    def __init__(self, guard_ready: Callable[[], DatabaseGuard | None], tracking: TrackingSettings) -> None:
        def ready() -> DatabaseGuard:
            guard = guard_ready()
            if guard is None:
                raise Unavailable("the service is starting; retry in a moment", retry_after=1)
            return guard

        self._guard_ready = ready
        self._tracking = tracking

    async def TrackCreator(
        self, request: creator_pb2.TrackCreatorRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.TrackCreatorResponse:
        user_id = caller_user_id()
        username = normalise_username(request.username)
        async with self._guard_ready().connection() as conn:
            row = await tracking_store.track(conn, user_id, username, self._tracking.interval_s)
            points = await tracking_store.growth_points(conn, [row.creator_id])
        return creator_pb2.TrackCreatorResponse(creator=tracked_message(row, points[row.creator_id]))

    async def UntrackCreator(
        self, request: creator_pb2.UntrackCreatorRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.UntrackCreatorResponse:
        user_id = caller_user_id()
        username = normalise_username(request.username)
        async with self._guard_ready().connection() as conn:
            was_tracked = await tracking_store.untrack(conn, user_id, username)
        return creator_pb2.UntrackCreatorResponse(was_tracked=was_tracked)

    async def ListTracked(
        self, request: creator_pb2.ListTrackedRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.ListTrackedResponse:
        user_id = caller_user_id()
        size = page_size(request.page_size, 20, 100)
        after = TRACKED_TOKENS.decode(request.page_token)
        async with self._guard_ready().connection() as conn:
            rows = await tracking_store.list_tracked(conn, user_id, size + 1, after)
            page, more = rows[:size], len(rows) > size
            points = await tracking_store.growth_points(conn, [row.creator_id for row in page])
        return creator_pb2.ListTrackedResponse(
            creators=[tracked_message(row, points[row.creator_id]) for row in page],
            next_page_token=TRACKED_TOKENS.encode(page[-1].tracked_at, page[-1].creator_id) if more else "",
        )

    async def GetHistory(
        self, request: creator_pb2.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> creator_pb2.GetHistoryResponse:
        user_id = caller_user_id()
        username = normalise_username(request.username)
        limit = page_size(request.limit, 90, 1000, field="limit")
        async with self._guard_ready().connection() as conn:
            creator_id, _followers = await unlocks.require_unlock(conn, user_id, username)
            rows = await tracking_store.snapshots(conn, creator_id, limit)
            points = await tracking_store.growth_points(conn, [creator_id])
        response = creator_pb2.GetHistoryResponse(
            username=username, growth=growth.message(growth.compute(points[creator_id]))
        )
        for row in rows:
            snapshot = response.snapshots.add(
                captured_at=_timestamp(row.captured_at),
                followers_count=row.followers,
                following_count=row.following,
                posts_count=row.posts_count,
            )
            if row.engagement_rate is not None:
                snapshot.engagement_rate = row.engagement_rate
        return response
