"""CDN settings: defaults that work locally, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from following.settings import EnvReader, SettingsError
from services.cdn.fileserver import FileServer
from services.cdn.settings import CdnSettings
from services.cdn.storage import FileStorage


def read(env: dict[str, str]) -> CdnSettings:
    reader = EnvReader(env)
    settings = CdnSettings.read(reader)
    reader.check()
    return settings


def test_defaults_mirror_instagram_hosts_with_three_workers_at_five_per_second() -> None:
    s = read({})
    assert (s.concurrency, s.rate_per_host, s.breaker_failures, s.breaker_reset_seconds) == (3, 5.0, 5, 30.0)
    assert {str(h) for h in s.allowed_hosts} >= {"*.cdninstagram.com", "*.fbcdn.net"}
    assert all(h.port is None for h in s.allowed_hosts) and s.allowed_ports == ()  # default ports only
    assert not s.allow_private_networks
    assert (s.avatar_sizes, s.post_sizes) == ((150,), (320, 640, 1080))
    assert s.storage.scheme == "file" and s.public_base_url == "http://127.0.0.1:8091"
    assert s.retention_days == 30


def test_allowed_hosts_may_name_a_port_and_allowed_ports_take_ranges() -> None:
    s = read({"CDN_ALLOWED_HOSTS": "127.0.0.1:8090,[::1]:8090,img.test", "CDN_ALLOWED_PORTS": "8443,9000-9100"})
    assert [str(h) for h in s.allowed_hosts] == ["127.0.0.1:8090", "[::1]:8090", "img.test"]
    assert [(r.first, r.last) for r in s.allowed_ports] == [(8443, 8443), (9000, 9100)]


def test_s3_storage_defaults_its_public_url_to_the_endpoint_and_bucket() -> None:
    s = read({"CDN_STORAGE_URL": "s3://media/cdn", "CDN_S3_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com"})
    assert (s.storage.bucket, s.storage.prefix) == ("media", "cdn")
    assert s.public_base_url == "https://acc.r2.cloudflarestorage.com/media" and s.http_listen is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CDN_STORAGE_URL", "ftp://x"),
        ("CDN_STORAGE_URL", "s3://"),
        ("CDN_POST_SIZES", "320,big"),
        ("CDN_WORKER_CONCURRENCY", "0"),
        ("CDN_ALLOW_PRIVATE_NETWORKS", "maybe"),
        ("CDN_HTTP_LISTEN", "nowhere"),
        ("CDN_ALLOWED_HOSTS", "img.test:99999"),
        ("CDN_ALLOWED_HOSTS", "img.test/path"),
        ("CDN_ALLOWED_PORTS", "0"),
        ("CDN_ALLOWED_PORTS", "9000-8000"),
        ("CDN_RETENTION_DAYS", "0"),
    ],
)
def test_bad_values_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        read({name: value})


async def test_file_server_serves_objects_but_not_temp_files_listings_or_paths_outside(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    storage = FileStorage(root, "http://unused")
    await storage.start()
    await storage.put("ab/abcd/150.webp", b"RIFF....WEBP", "image/webp")
    (root / ".tmp" / "x.webp").write_bytes(b"partial")
    (tmp_path / "secret.webp").write_bytes(b"secret")
    server = FileServer(root, "127.0.0.1", 0)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/ab/abcd/150.webp") as ok:
                assert ok.status == 200 and await ok.read() == b"RIFF....WEBP"
                assert ok.headers["Content-Type"] == "image/webp" and "immutable" in ok.headers["Cache-Control"]
            for path in ("/.tmp/x.webp", "/ab/", "/ab/abcd", "/%2e%2e/secret.webp", "/ab/..%2F..%2Fsecret.webp"):
                async with http.get(base + path) as refused:
                    assert refused.status == 404, path
    finally:
        await server.close()
