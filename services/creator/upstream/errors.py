"""Typed failures of an upstream source; the creator service maps them to gRPC status codes in one place."""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of every upstream failure. `retry_after_seconds` is a hint for the caller, None when there is none."""

    retry_after_seconds: float | None = None


class UserNotFound(UpstreamError):
    """Instagram has no account with this username (HTTP 404 or an empty `data.user`)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"instagram has no account named {username!r}")
        self.username = username


class Throttled(UpstreamError):
    """Instagram (or our own request budget) refuses more requests for now: 429, 401 "Please wait a few minutes",
    a redirect to the login page, or a spent budget. Retry after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: float, reason: str) -> None:
        super().__init__(f"{reason}: retry after {retry_after_seconds:.0f} s")
        self.retry_after_seconds = retry_after_seconds
        self.reason = reason


class UpstreamUnavailable(UpstreamError):
    """Instagram did not answer usefully after the allowed retries: 5xx, timeouts, connection errors, a checkpoint
    or challenge demand, or the circuit breaker is open."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class CircuitOpen(UpstreamUnavailable):
    """The source's circuit breaker is open: no request was sent. Retry after the remaining cool-down."""


class UpstreamProtocolError(UpstreamError):
    """Instagram answered something we cannot read: invalid or truncated JSON, or a shape without the required
    fields (even after retrying)."""
