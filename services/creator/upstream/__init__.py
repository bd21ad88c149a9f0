"""Instagram upstream sources of the creator service: one interface, one HTTP adapter, two targets.

Use it like this (inside a running event loop):

    env = EnvReader()                              # following.settings: the services' one reader
    settings = UpstreamSettings.read(env)          # INSTAGRAM_SOURCE=sample|web and friends
    env.check()                                    # SettingsError naming each bad variable
    source = create_source(settings, budget=None)  # budget: any RequestBudget (awaited before each request)
    try:
        fetch = await source.fetch_profile("fit.bayann", post_limit=12)
    except UserNotFound: ...      # -> NOT_FOUND
    except Throttled as exc: ...  # -> UNAVAILABLE, retry after exc.retry_after_seconds
    except UpstreamUnavailable as exc: ...  # -> UNAVAILABLE (CircuitOpen: nothing was sent)
    except UpstreamProtocolError: ...       # -> UNAVAILABLE / INTERNAL: Instagram changed its shape
    finally:
        await source.aclose()

`sample` is the same web adapter pointed at the local sample upstream (`python -m fakes.instagram.server`),
so the demo and the tests exercise exactly the code that talks to Instagram.
"""

from __future__ import annotations

from services.creator.upstream.errors import (
    CircuitOpen,
    Throttled,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamUnavailable,
    UserNotFound,
)
from services.creator.upstream.records import CarouselItem, Location, Post, PostType, Profile, ProfileFetch
from services.creator.upstream.settings import MAX_POST_LIMIT, UpstreamSettings
from services.creator.upstream.source import ProfileSource, RequestBudget

__all__ = [
    "MAX_POST_LIMIT",
    "CarouselItem",
    "CircuitOpen",
    "Location",
    "Post",
    "PostType",
    "Profile",
    "ProfileFetch",
    "ProfileSource",
    "RequestBudget",
    "Throttled",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamSettings",
    "UpstreamUnavailable",
    "UserNotFound",
    "create_source",
]


def create_source(settings: UpstreamSettings, budget: RequestBudget | None = None) -> ProfileSource:
    """The configured source: the web adapter aimed at Instagram or at the sample upstream."""
    from services.creator.upstream.web import WebSource

    return WebSource(settings, budget=budget)
