"""The two small contracts around an upstream: what a profile source offers, and the request budget it awaits."""

from __future__ import annotations

from typing import Protocol

from services.creator.upstream.records import ProfileFetch


class RequestBudget(Protocol):
    """One request budget per source, shared by every replica (kept in PostgreSQL by the creator store).

    `acquire()` is awaited before every upstream HTTP request, retries included. It returns when a request may be
    sent and raises `Throttled` (with the seconds until the budget refills) when the budget is spent.
    """

    async def acquire(self) -> None: ...


class ProfileSource(Protocol):
    """Where profiles come from. `name` is "web" or "sample"; use it to key the request budget and metrics."""

    @property
    def name(self) -> str: ...

    async def fetch_profile(self, username: str, post_limit: int | None = None) -> ProfileFetch:
        """Fetch a profile and its `post_limit` most recent posts (settings default when None; 0..50).

        `username` is already normalised (lower-case, no '@'). Private accounts come back flagged private with no
        posts. Raises UserNotFound, Throttled, UpstreamUnavailable (CircuitOpen when no request was sent) or
        UpstreamProtocolError.
        """
        ...

    async def aclose(self) -> None:
        """Close the HTTP connections. The source cannot be used afterwards."""
        ...
