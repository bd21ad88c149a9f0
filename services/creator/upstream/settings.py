"""Typed settings of the upstream source, read once from INSTAGRAM_* environment variables through the services'
one reader (`following.settings.EnvReader`), so their problems are reported with the rest of the creator's.

`INSTAGRAM_SOURCE=sample` (the default) points the web adapter at the local sample upstream, `INSTAGRAM_SOURCE=web`
at Instagram; `INSTAGRAM_BASE_URL` overrides either (defaults: http://127.0.0.1:8090 and https://www.instagram.com).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from following.settings import EnvReader

SourceName = Literal["sample", "web"]

MAX_POST_LIMIT = 50
INSTAGRAM_BASE_URL = "https://www.instagram.com"
SAMPLE_BASE_URL = "http://127.0.0.1:8090"
DEFAULT_APP_ID = "936619743392459"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


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
    def read(cls, env: EnvReader) -> UpstreamSettings:
        """The INSTAGRAM_* settings; every problem is recorded on `env` (raised by `env.check()`)."""
        source = env.text("INSTAGRAM_SOURCE", "sample").lower()
        if source not in ("sample", "web"):
            env.fail("INSTAGRAM_SOURCE", f"must be one of sample, web; got {source!r}")
            source = "sample"
        default_base = SAMPLE_BASE_URL if source == "sample" else INSTAGRAM_BASE_URL
        return cls(
            source="sample" if source == "sample" else "web",
            base_url=env.http_url("INSTAGRAM_BASE_URL", default_base) or default_base,
            app_id=env.text("INSTAGRAM_APP_ID", DEFAULT_APP_ID),
            user_agent=env.text("INSTAGRAM_USER_AGENT", DEFAULT_USER_AGENT),
            extra_headers=_headers(env),
            proxy_url=env.http_url("INSTAGRAM_PROXY_URL"),
            post_limit=env.integer("INSTAGRAM_POST_LIMIT", 12, minimum=0, maximum=MAX_POST_LIMIT),
            request_timeout_s=env.number("INSTAGRAM_TIMEOUT_S", 10.0, minimum=0.05, maximum=300.0),
            connect_timeout_s=env.number("INSTAGRAM_CONNECT_TIMEOUT_S", 3.0, minimum=0.05, maximum=60.0),
            max_attempts=env.integer("INSTAGRAM_MAX_ATTEMPTS", 3, minimum=1, maximum=10),
            backoff_initial_s=env.number("INSTAGRAM_BACKOFF_INITIAL_S", 0.5, minimum=0.0, maximum=60.0),
            backoff_max_s=env.number("INSTAGRAM_BACKOFF_MAX_S", 8.0, minimum=0.0, maximum=300.0),
            backoff_jitter_s=env.number("INSTAGRAM_BACKOFF_JITTER_S", 0.5, minimum=0.0, maximum=60.0),
            max_retry_after_s=env.number("INSTAGRAM_MAX_RETRY_AFTER_S", 10.0, minimum=0.0, maximum=600.0),
            breaker_threshold=env.integer("INSTAGRAM_BREAKER_THRESHOLD", 5, minimum=1, maximum=1000),
            breaker_cooldown_s=env.number("INSTAGRAM_BREAKER_COOLDOWN_S", 30.0, minimum=0.01, maximum=3600.0),
        )


def _headers(env: EnvReader) -> dict[str, str]:
    """INSTAGRAM_EXTRA_HEADERS: a JSON object of header names to values (e.g. a session cookie)."""
    raw = env.optional_text("INSTAGRAM_EXTRA_HEADERS")
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        env.fail("INSTAGRAM_EXTRA_HEADERS", f"must be a JSON object: {exc}")
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        env.fail("INSTAGRAM_EXTRA_HEADERS", "must be a JSON object of string names to string values")
        return {}
    return value
