"""Typed settings of the sample upstream, read once from SAMPLE_UPSTREAM_* environment variables with the
services' reader (`following.settings.EnvReader`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from following.settings import EnvReader

DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


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
    def read(cls, env: EnvReader) -> SampleSettings:
        """The SAMPLE_UPSTREAM_* settings; every problem is recorded on `env` (raised by `env.check()`)."""
        listen = env.host_port("SAMPLE_UPSTREAM_LISTEN", "127.0.0.1:8090")
        now_text = env.optional_text("SAMPLE_UPSTREAM_NOW")
        now = DEFAULT_NOW
        if now_text is not None:
            try:
                now = datetime.fromisoformat(now_text)
            except ValueError:
                env.fail("SAMPLE_UPSTREAM_NOW", f"must be an ISO 8601 time; got {now_text!r}")
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
        return cls(
            host=listen.host,
            port=listen.port,
            public_url=env.http_url("SAMPLE_UPSTREAM_PUBLIC_URL"),
            seed=env.integer("SAMPLE_UPSTREAM_SEED", 2026),
            now=now,
            image_cache_entries=env.integer("SAMPLE_UPSTREAM_IMAGE_CACHE", 512, minimum=0),
            days_per_second=env.number("SAMPLE_UPSTREAM_DAYS_PER_SECOND", 0.0, minimum=0.0, maximum=86_400.0),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SampleSettings:
        """`read` over `environ` (default: the process environment); SettingsError names each bad variable."""
        env = EnvReader(environ)
        settings = cls.read(env)
        env.check()
        return settings
