"""One upstream GET with everything around it: request budget, circuit breaker, timeouts, bounded retries with
exponential backoff and jitter (tenacity), Retry-After, and the mapping of Instagram's answers to typed errors.

How answers are read: 200 with JSON -> the payload; 404 -> UserNotFound; 429, 401/403 ("Please wait a few minutes",
login required) and redirects to /accounts/login -> throttling; 400 checkpoint/challenge/feedback_required -> the
breaker opens at once; 5xx, timeouts, connection errors and truncated JSON -> retried, then UpstreamUnavailable or
UpstreamProtocolError; any other 4xx -> UpstreamProtocolError at once (our request no longer fits Instagram).
Every failed request counts against the breaker; a 404 or a 200 counts as a success. A Retry-After up to
`max_retry_after_s` is waited out before the next attempt; a longer one ends the fetch with Throttled at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import aiohttp
from multidict import CIMultiDict
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from services.creator.upstream.breaker import SourceBreaker
from services.creator.upstream.errors import (
    Throttled,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamUnavailable,
    UserNotFound,
)
from services.creator.upstream.settings import UpstreamSettings
from services.creator.upstream.source import RequestBudget

log = logging.getLogger(__name__)

FailureKind = Literal["throttled", "unavailable", "protocol"]
_CHECKPOINTS = ("checkpoint_required", "challenge_required", "feedback_required", "consent_required")


class _RetryableFailure(Exception):
    """A failed attempt that may succeed when repeated; turned into a public error when the retries run out."""

    def __init__(self, kind: FailureKind, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class _Checkpoint(Exception):
    """Instagram wants a checkpoint, challenge or feedback step: stop using this egress for a cool-down."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class RequestCounter:
    """Upstream HTTP requests actually sent (retries included) for one fetch."""

    sent: int = 0


class UpstreamTransport:
    def __init__(self, settings: UpstreamSettings, breaker: SourceBreaker, budget: RequestBudget | None) -> None:
        self._settings = settings
        self._breaker = breaker
        self._budget = budget
        self._session: aiohttp.ClientSession | None = None
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial_s, max=settings.backoff_max_s, jitter=settings.backoff_jitter_s
        )
        self._headers = {
            "User-Agent": settings.user_agent,
            "X-IG-App-ID": settings.app_id,
            "X-Requested-With": "XMLHttpRequest",
            "Accept": "*/*",
            "Accept-Language": "en-US,en;q=0.9",
            **settings.extra_headers,
        }

    async def get_json(self, path: str, params: dict[str, str], referer: str, counter: RequestCounter) -> object:
        """GET `base_url + path` and return the decoded JSON, retrying what may pass on a second try."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_RetryableFailure),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(path, params, referer, counter)
        except _RetryableFailure as failure:
            raise self._final_error(failure) from None
        raise AssertionError("tenacity ended without a result or an error")  # pragma: no cover

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, _RetryableFailure) and failure.retry_after_seconds is not None:
            return failure.retry_after_seconds
        return float(self._backoff(state))

    def _final_error(self, failure: _RetryableFailure) -> UpstreamError:
        attempts = self._settings.max_attempts
        if failure.kind == "throttled":
            hint = failure.retry_after_seconds
            if hint is None:
                hint = self._settings.breaker_cooldown_s
            return Throttled(hint, f"{failure.reason} ({attempts} attempts)")
        if failure.kind == "protocol":
            return UpstreamProtocolError(f"{failure.reason} ({attempts} attempts)")
        return UpstreamUnavailable(f"{failure.reason} ({attempts} attempts)")

    async def _attempt(self, path: str, params: dict[str, str], referer: str, counter: RequestCounter) -> object:
        self._breaker.before_request()
        sent = False
        try:
            if self._budget is not None:
                await self._budget.acquire()
            sent = True
            counter.sent += 1
            status, headers, body = await self._send(path, params, referer)
            payload = self._read(status, headers, body)
        except (_RetryableFailure, Throttled) as failure:
            if not sent:
                self._breaker.release_trial()  # our own budget said no; nothing reached the upstream
                raise
            self._breaker.record_failure(str(failure), failure.retry_after_seconds)
            log.warning("upstream request failed", extra={"path": path, "reason": str(failure)})
            raise
        except UserNotFound:
            self._breaker.record_success()
            raise
        except _Checkpoint as failure:
            self._breaker.trip(failure.reason)
            log.warning("upstream demands a pause", extra={"path": path, "reason": failure.reason})
            raise UpstreamUnavailable(failure.reason, retry_after_seconds=self._settings.breaker_cooldown_s) from None
        except UpstreamProtocolError as failure:
            self._breaker.record_failure(str(failure))
            raise
        except BaseException:
            self._breaker.release_trial()
            raise
        self._breaker.record_success()
        return payload

    async def _send(self, path: str, params: dict[str, str], referer: str) -> tuple[int, CIMultiDict[str], bytes]:
        session = self._open_session()
        url = self._settings.base_url + path
        try:
            async with session.get(
                url,
                params=params,
                headers={"Referer": referer},
                proxy=self._settings.proxy_url,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return response.status, CIMultiDict(response.headers), body
        except TimeoutError:
            raise _RetryableFailure(
                "unavailable", f"instagram did not answer within {self._settings.request_timeout_s:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise _RetryableFailure("unavailable", f"cannot reach instagram: {exc.__class__.__name__}: {exc}") from None

    def _read(self, status: int, headers: CIMultiDict[str], body: bytes) -> object:
        message = _message(body)
        if status == 200:
            if "text/html" in headers.get("Content-Type", "") and b"/accounts/login" in body:
                raise _RetryableFailure("throttled", "instagram served the login page (login required)")
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                reason = f"instagram sent truncated or invalid JSON ({len(body)} bytes)"
                raise _RetryableFailure("protocol", reason) from None
            if isinstance(payload, dict) and payload.get("status") == "fail":
                raise _RetryableFailure("throttled", f"instagram refused: {message or 'status fail'}")
            return payload
        if status == 404:
            raise UserNotFound("")  # the caller knows the username and raises its own
        if 300 <= status < 400:
            location = headers.get("Location", "")
            if "/accounts/login" in location or "/challenge" in location:
                raise _RetryableFailure("throttled", "instagram redirected to the login page (login required)")
            raise _RetryableFailure("unavailable", f"instagram redirected unexpectedly to {location!r}")
        if status == 429:
            retry_after = _retry_after(headers.get("Retry-After"))
            if retry_after is not None and retry_after > self._settings.max_retry_after_s:
                raise Throttled(retry_after, "instagram answered 429 Too Many Requests")
            raise _RetryableFailure("throttled", "instagram answered 429 Too Many Requests", retry_after)
        if status in (401, 403):
            raise _RetryableFailure("throttled", f"instagram answered {status}: {message or 'login required'}")
        if status == 400 and any(marker in message for marker in _CHECKPOINTS):
            raise _Checkpoint(f"instagram demands {message}: this egress must rest")
        if status >= 500:
            raise _RetryableFailure("unavailable", f"instagram answered {status}")
        raise UpstreamProtocolError(f"instagram refused the request with {status}: {message or 'no message'}")

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(
                    total=self._settings.request_timeout_s, connect=self._settings.connect_timeout_s
                ),
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300),
            )
        return self._session


def _message(body: bytes) -> str:
    """Instagram's `message` (or `error_type`) from a JSON error body, '' when there is none."""
    try:
        payload = json.loads(body[:4096])
    except (UnicodeDecodeError, ValueError):
        return ""
    if not isinstance(payload, dict):
        return ""
    parts = [str(payload.get(key)) for key in ("message", "error_type") if payload.get(key)]
    return " ".join(parts)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
