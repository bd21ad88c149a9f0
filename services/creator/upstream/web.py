"""The web adapter: Instagram's web profile endpoint plus the v1 user feed for further pages of posts.

Endpoints (relative to INSTAGRAM_BASE_URL, or the sample upstream's URL):
- `GET /api/v1/users/web_profile_info/?username=<name>`: `data.user`, with the first page of posts embedded in the
  GraphQL shape (`edge_owner_to_timeline_media`) or none in the v1 shape.
- `GET /api/v1/feed/user/<user id>/?count=<n>&max_id=<cursor>`: `items`, `more_available`, `next_max_id`. The cursor
  of the embedded first page (`end_cursor`) is accepted as `max_id`.
"""

from __future__ import annotations

from following.breaker import BreakerState
from services.creator.upstream.breaker import SourceBreaker
from services.creator.upstream.errors import UserNotFound
from services.creator.upstream.parser import PostPage, parse_feed_response, parse_profile_response
from services.creator.upstream.records import Post, ProfileFetch
from services.creator.upstream.settings import MAX_POST_LIMIT, UpstreamSettings
from services.creator.upstream.source import RequestBudget
from services.creator.upstream.transport import RequestCounter, UpstreamTransport

PROFILE_PATH = "/api/v1/users/web_profile_info/"
FEED_PATH = "/api/v1/feed/user/{user_id}/"


class WebSource:
    """A ProfileSource over HTTP. One instance per process and source: it holds the connection pool and the breaker."""

    def __init__(self, settings: UpstreamSettings, budget: RequestBudget | None = None) -> None:
        self._settings = settings
        self._breaker = SourceBreaker(settings.source, settings.breaker_threshold, settings.breaker_cooldown_s)
        self._transport = UpstreamTransport(settings, self._breaker, budget)

    @property
    def name(self) -> str:
        return self._settings.source

    @property
    def breaker_state(self) -> BreakerState:
        return self._breaker.state

    async def fetch_profile(self, username: str, post_limit: int | None = None) -> ProfileFetch:
        limit = self._settings.post_limit if post_limit is None else post_limit
        if not 0 <= limit <= MAX_POST_LIMIT:
            raise ValueError(f"post_limit must be between 0 and {MAX_POST_LIMIT}, got {limit}")
        name = username.strip().lstrip("@").lower()
        referer = f"{self._settings.base_url}/{name}/"
        counter = RequestCounter()
        try:
            payload = await self._transport.get_json(PROFILE_PATH, {"username": name}, referer, counter)
            page = parse_profile_response(payload, name)
        except UserNotFound:
            raise UserNotFound(name) from None
        profile = page.profile
        posts: tuple[Post, ...] = ()
        if not profile.is_private and limit > 0 and (page.first_page is not None or profile.posts_count > 0):
            posts = await self._recent_posts(profile.instagram_id, page.first_page, limit, referer, counter)
        return ProfileFetch(profile=profile, posts=posts, source=self.name, requests_made=counter.sent)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _recent_posts(
        self, user_id: str, first_page: PostPage | None, limit: int, referer: str, counter: RequestCounter
    ) -> tuple[Post, ...]:
        """Collect up to `limit` posts: the embedded page, then feed pages by cursor until enough or none left."""
        posts: dict[str, Post] = {}
        if first_page is not None:
            _add(posts, first_page.posts, limit)
            cursor = first_page.next_cursor
            if cursor is None:
                return tuple(posts.values())
        else:
            cursor = None
        path = FEED_PATH.format(user_id=user_id)
        # Every page brings at least one new post or ends the loop, so `limit` pages is a hard bound.
        for _ in range(limit):
            if len(posts) >= limit:
                break
            params = {"count": str(limit - len(posts))}
            if cursor is not None:
                params["max_id"] = cursor
            page = parse_feed_response(await self._transport.get_json(path, params, referer, counter))
            added = _add(posts, page.posts, limit)
            cursor = page.next_cursor
            if cursor is None or added == 0:
                break
        return tuple(posts.values())


def _add(posts: dict[str, Post], new: tuple[Post, ...], limit: int) -> int:
    """Append unseen posts in order until `limit`; return how many were added."""
    added = 0
    for post in new:
        if len(posts) >= limit:
            break
        if post.instagram_id not in posts:
            posts[post.instagram_id] = post
            added += 1
    return added
