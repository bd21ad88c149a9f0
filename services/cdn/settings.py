"""The CDN service's own settings, read once from CDN_* environment variables into a frozen dataclass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from following.settings import EnvReader, HostPort
from services.cdn.targets import AllowedHost, PortRange

T = TypeVar("T")

DEFAULT_ALLOWED_HOSTS = ("*.cdninstagram.com", "*.fbcdn.net", "cdninstagram.com", "fbcdn.net")


@dataclass(frozen=True)
class StorageTarget:
    """Where renditions go: `file://DIR` or `s3://bucket/prefix`."""

    scheme: str
    path: str
    bucket: str = ""
    prefix: str = ""


@dataclass(frozen=True)
class CdnSettings:
    concurrency: int
    prefetch: int
    rate_per_host: float
    rate_burst: int
    breaker_failures: int
    breaker_reset_seconds: float
    allowed_hosts: tuple[AllowedHost, ...]
    allowed_ports: tuple[PortRange, ...]
    allow_private_networks: bool
    max_download_bytes: int
    max_redirects: int
    download_timeout: float
    process_timeout: float
    store_timeout: float
    max_pixels: int
    max_side: int
    avatar_sizes: tuple[int, ...]
    post_sizes: tuple[int, ...]
    webp_quality: int
    jpeg_quality: int
    storage: StorageTarget
    http_listen: HostPort | None
    public_base_url: str
    s3_endpoint_url: str | None
    s3_region: str
    lease_seconds: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    poll_interval: float
    maintenance_interval: float
    gauge_interval: float
    workers_enabled: bool
    retention_days: int

    @classmethod
    def read(cls, env: EnvReader) -> CdnSettings:
        storage = _storage(env, env.text("CDN_STORAGE_URL", "file://.run/cdn"))
        http_text = env.text("CDN_HTTP_LISTEN", "127.0.0.1:8091")
        http_listen = None if http_text.lower() == "off" else env.host_port("CDN_HTTP_LISTEN", "127.0.0.1:8091")
        endpoint = env.optional_text("CDN_S3_ENDPOINT_URL")
        public = env.optional_text("CDN_PUBLIC_BASE_URL")
        if public is None:
            if storage.scheme == "s3":
                public = f"{endpoint}/{storage.bucket}" if endpoint else f"https://{storage.bucket}.s3.amazonaws.com"
            elif http_listen is not None:
                public = f"http://{http_listen}"
            else:
                public = ""
        concurrency = env.integer("CDN_WORKER_CONCURRENCY", 3, minimum=1, maximum=256)
        return cls(
            concurrency=concurrency,
            prefetch=env.integer("CDN_CLAIM_PREFETCH", concurrency, minimum=0, maximum=1000),
            rate_per_host=env.number("CDN_RATE_LIMIT_PER_HOST", 5.0, minimum=0),
            rate_burst=env.integer("CDN_RATE_LIMIT_BURST", 5, minimum=1, maximum=10_000),
            breaker_failures=env.integer("CDN_BREAKER_FAILURES", 5, minimum=1, maximum=1000),
            breaker_reset_seconds=env.number("CDN_BREAKER_RESET_SECONDS", 30.0, minimum=0.01, maximum=3600),
            allowed_hosts=_entries(env, "CDN_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS, AllowedHost.parse),
            allowed_ports=_entries(env, "CDN_ALLOWED_PORTS", (), PortRange.parse),
            allow_private_networks=env.flag("CDN_ALLOW_PRIVATE_NETWORKS", False),
            max_download_bytes=env.integer("CDN_MAX_DOWNLOAD_BYTES", 20 * 1024 * 1024, minimum=1024),
            max_redirects=env.integer("CDN_MAX_REDIRECTS", 3, minimum=0, maximum=10),
            download_timeout=env.number("CDN_DOWNLOAD_TIMEOUT_SECONDS", 15.0, minimum=0.1, maximum=600),
            process_timeout=env.number("CDN_PROCESS_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600),
            store_timeout=env.number("CDN_STORE_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600),
            max_pixels=env.integer("CDN_MAX_PIXELS", 40_000_000, minimum=1),
            max_side=env.integer("CDN_MAX_SIDE", 12_000, minimum=1),
            avatar_sizes=_sizes(env, "CDN_AVATAR_SIZES", (150,)),
            post_sizes=_sizes(env, "CDN_POST_SIZES", (320, 640, 1080)),
            webp_quality=env.integer("CDN_WEBP_QUALITY", 80, minimum=1, maximum=100),
            jpeg_quality=env.integer("CDN_JPEG_QUALITY", 85, minimum=1, maximum=95),
            storage=storage,
            http_listen=http_listen if storage.scheme == "file" else None,
            public_base_url=public.rstrip("/"),
            s3_endpoint_url=endpoint,
            s3_region=env.text("CDN_S3_REGION", env.optional_text("AWS_DEFAULT_REGION") or "us-east-1"),
            lease_seconds=env.number("CDN_LEASE_SECONDS", 30.0, minimum=0.5, maximum=3600),
            max_attempts=env.integer("CDN_MAX_ATTEMPTS", 5, minimum=1, maximum=100),
            backoff_base_seconds=env.number("CDN_BACKOFF_BASE_SECONDS", 2.0, minimum=0, maximum=3600),
            backoff_max_seconds=env.number("CDN_BACKOFF_MAX_SECONDS", 600.0, minimum=0, maximum=86_400),
            poll_interval=env.number("CDN_POLL_INTERVAL_SECONDS", 0.5, minimum=0.01, maximum=60),
            maintenance_interval=env.number("CDN_MAINTENANCE_INTERVAL_SECONDS", 1.0, minimum=0.01, maximum=600),
            gauge_interval=env.number("CDN_GAUGE_INTERVAL_SECONDS", 5.0, minimum=0.1, maximum=600),
            workers_enabled=env.flag("CDN_WORKERS_ENABLED", True),
            retention_days=env.integer("CDN_RETENTION_DAYS", 30, minimum=1, maximum=36_500),
        )


def _entries(env: EnvReader, name: str, default: tuple[str, ...], parse: Callable[[str], T]) -> tuple[T, ...]:
    entries: list[T] = []
    for item in env.items(name, default):
        try:
            entries.append(parse(item))
        except ValueError as exc:
            env.fail(name, str(exc))
    return tuple(entries)


def _sizes(env: EnvReader, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    items = env.items(name, tuple(str(s) for s in default))
    sizes: list[int] = []
    for item in items:
        if not item.isdigit() or not 16 <= int(item) <= 4096:
            env.fail(name, f"must be comma-separated pixel widths between 16 and 4096; got {item!r}")
            return default
        sizes.append(int(item))
    return tuple(sorted(set(sizes))) or default


def _storage(env: EnvReader, url: str) -> StorageTarget:
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = (parts.netloc + parts.path) or ""
        if not path:
            env.fail("CDN_STORAGE_URL", f"file:// needs a directory; got {url!r}")
        return StorageTarget("file", path)
    if parts.scheme == "s3":
        if not parts.netloc:
            env.fail("CDN_STORAGE_URL", f"s3:// needs a bucket; got {url!r}")
        return StorageTarget("s3", "", bucket=parts.netloc, prefix=parts.path.strip("/"))
    env.fail("CDN_STORAGE_URL", f"must start with file:// or s3://; got {url!r}")
    return StorageTarget("file", ".run/cdn")
