"""Typed settings of the sample upstream, read once from SAMPLE_UPSTREAM_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class SampleSettingsError(ValueError):
    """A SAMPLE_UPSTREAM_* variable has a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class SampleSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    # The base of every URL the server hands out (images); None = http://<the address it bound>.
    public_url: str | None = None
    # Seeds the catalogue: the same seed gives byte-identical JSON and images.
    seed: int = 2026
    # The catalogue's "now": the newest posts were taken shortly before it.
    now: datetime = DEFAULT_NOW
    # Generated JPEGs kept in memory (least recently used are dropped first).
    image_cache_entries: int = 512
    # Simulated days that pass per real second (0: the calendar moves only through POST /__admin/clock).
    days_per_second: float = 0.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SampleSettings:
        env = os.environ if environ is None else environ
        listen = env.get("SAMPLE_UPSTREAM_LISTEN", "127.0.0.1:8090").strip()
        host, sep, port_text = listen.rpartition(":")
        if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise SampleSettingsError(f"SAMPLE_UPSTREAM_LISTEN must be host:port, got {listen!r}")
        public_url = env.get("SAMPLE_UPSTREAM_PUBLIC_URL", "").strip() or None
        if public_url is not None:
            parts = urlsplit(public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SampleSettingsError(
                    f"SAMPLE_UPSTREAM_PUBLIC_URL must be an absolute http(s) URL, got {public_url!r}"
                )
        seed_text = env.get("SAMPLE_UPSTREAM_SEED", "2026").strip()
        if not seed_text.lstrip("-").isdigit():
            raise SampleSettingsError(f"SAMPLE_UPSTREAM_SEED must be an integer, got {seed_text!r}")
        now_text = env.get("SAMPLE_UPSTREAM_NOW", "").strip()
        now = DEFAULT_NOW
        if now_text:
            try:
                now = datetime.fromisoformat(now_text)
            except ValueError:
                raise SampleSettingsError(f"SAMPLE_UPSTREAM_NOW must be an ISO 8601 time, got {now_text!r}") from None
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
        cache_text = env.get("SAMPLE_UPSTREAM_IMAGE_CACHE", "512").strip()
        if not cache_text.isdigit():
            raise SampleSettingsError(f"SAMPLE_UPSTREAM_IMAGE_CACHE must be a non-negative integer, got {cache_text!r}")
        speed_text = env.get("SAMPLE_UPSTREAM_DAYS_PER_SECOND", "0").strip()
        try:
            speed = float(speed_text)
        except ValueError:
            speed = -1.0
        if not 0 <= speed <= 86_400:
            raise SampleSettingsError(f"SAMPLE_UPSTREAM_DAYS_PER_SECOND must be a number 0-86400, got {speed_text!r}")
        return cls(
            host=host,
            port=int(port_text),
            public_url=public_url.rstrip("/") if public_url else None,
            seed=int(seed_text),
            now=now,
            image_cache_entries=int(cache_text),
            days_per_second=speed,
        )
