"""Typed settings of the upstream source, read once from INSTAGRAM_* environment variables.

`INSTAGRAM_SOURCE=sample` (the default) points the web adapter at the local sample upstream, `INSTAGRAM_SOURCE=web`
at Instagram; `INSTAGRAM_BASE_URL` overrides either (defaults: http://127.0.0.1:8090 and https://www.instagram.com).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

SourceName = Literal["sample", "web"]

MAX_POST_LIMIT = 50
INSTAGRAM_BASE_URL = "https://www.instagram.com"
SAMPLE_BASE_URL = "http://127.0.0.1:8090"
DEFAULT_APP_ID = "936619743392459"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


class UpstreamSettingsError(ValueError):
    """An INSTAGRAM_* variable has a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    source: SourceName = "sample"
    # Where the adapter sends its requests (already resolved from the source).
    base_url: str = "http://127.0.0.1:8090"
    app_id: str = DEFAULT_APP_ID
    user_agent: str = DEFAULT_USER_AGENT
    # Extra request headers (e.g. a cookie for a logged-in session), from INSTAGRAM_EXTRA_HEADERS as a JSON object.
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    proxy_url: str | None = None
    post_limit: int = 12
    # Whole-request and connect timeouts.
    request_timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    # HTTP attempts per request, the first included.
    max_attempts: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    backoff_jitter_s: float = 0.5
    # The longest Retry-After we wait for inside one fetch; a longer one fails at once with Throttled.
    max_retry_after_s: float = 10.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UpstreamSettings:
        env = os.environ if environ is None else environ
        source = env.get("INSTAGRAM_SOURCE", "sample").strip().lower()
        if source not in ("sample", "web"):
            raise UpstreamSettingsError(f"INSTAGRAM_SOURCE must be 'sample' or 'web', got {source!r}")
        default_base = SAMPLE_BASE_URL if source == "sample" else INSTAGRAM_BASE_URL
        base_url = _url(env, "INSTAGRAM_BASE_URL", default_base)
        proxy = env.get("INSTAGRAM_PROXY_URL", "").strip() or None
        if proxy is not None:
            proxy = _url({"INSTAGRAM_PROXY_URL": proxy}, "INSTAGRAM_PROXY_URL", "")
        return cls(
            source="sample" if source == "sample" else "web",
            base_url=base_url,
            app_id=env.get("INSTAGRAM_APP_ID", DEFAULT_APP_ID).strip() or DEFAULT_APP_ID,
            user_agent=env.get("INSTAGRAM_USER_AGENT", DEFAULT_USER_AGENT).strip() or DEFAULT_USER_AGENT,
            extra_headers=_headers(env),
            proxy_url=proxy,
            post_limit=_int(env, "INSTAGRAM_POST_LIMIT", 12, 0, MAX_POST_LIMIT),
            request_timeout_s=_float(env, "INSTAGRAM_TIMEOUT_S", 10.0, 0.05, 300.0),
            connect_timeout_s=_float(env, "INSTAGRAM_CONNECT_TIMEOUT_S", 3.0, 0.05, 60.0),
            max_attempts=_int(env, "INSTAGRAM_MAX_ATTEMPTS", 3, 1, 10),
            backoff_initial_s=_float(env, "INSTAGRAM_BACKOFF_INITIAL_S", 0.5, 0.0, 60.0),
            backoff_max_s=_float(env, "INSTAGRAM_BACKOFF_MAX_S", 8.0, 0.0, 300.0),
            backoff_jitter_s=_float(env, "INSTAGRAM_BACKOFF_JITTER_S", 0.5, 0.0, 60.0),
            max_retry_after_s=_float(env, "INSTAGRAM_MAX_RETRY_AFTER_S", 10.0, 0.0, 600.0),
            breaker_threshold=_int(env, "INSTAGRAM_BREAKER_THRESHOLD", 5, 1, 1000),
            breaker_cooldown_s=_float(env, "INSTAGRAM_BREAKER_COOLDOWN_S", 30.0, 0.01, 3600.0),
        )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UpstreamSettingsError(f"{name} must be an absolute http(s) URL, got {value!r}")
    return value.rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UpstreamSettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise UpstreamSettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UpstreamSettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise UpstreamSettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _headers(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("INSTAGRAM_EXTRA_HEADERS", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UpstreamSettingsError(f"INSTAGRAM_EXTRA_HEADERS must be a JSON object: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UpstreamSettingsError("INSTAGRAM_EXTRA_HEADERS must be a JSON object of string names to string values")
    return value
