"""SSRF and download safety against a real HTTP server on 127.0.0.1: scheme, allowlist, IP literals, names resolving
to loopback, redirects leaving the allowlist, the byte limit and the magic-bytes check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from services.cdn.downloads import BadResponse, Downloader, DownloadPolicy, HostFailure, Refused
from services.cdn.targets import AllowedHost, PortRange
from tests.cdn import images
from tests.cdn.conftest import ImageServer, Route

MakeDownloader = Callable[..., Downloader]


@pytest.fixture
async def downloader() -> AsyncIterator[MakeDownloader]:
    made: list[Downloader] = []

    def make(
        hosts: tuple[str, ...] = ("127.0.0.1",),
        allow_private: bool = True,
        max_bytes: int = 1_000_000,
        ports: str = "1024-65535",  # the image server's ephemeral port
    ) -> Downloader:
        allowed = tuple(AllowedHost.parse(h) for h in hosts)
        port_ranges = tuple(PortRange.parse(p) for p in ports.split(",") if p)
        d = Downloader(DownloadPolicy(allowed, allow_private, max_bytes, 3, 5, port_ranges))
        made.append(d)
        return d

    yield make
    for d in made:
        await d.close()


async def test_allowed_image_downloads_and_is_recognised(downloader: MakeDownloader, image_server: ImageServer) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(64, 64))
    d = downloader()
    await d.start()
    result = await d.fetch(image_server.url("/a.jpg"))
    assert result.format == "jpeg" and result.data == image_server.routes["/a.jpg"].body


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/a.jpg",
        "http://[::1]:{port}/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.jpg",
        "http://localhost:{port}/a.jpg",
    ],
)
async def test_loopback_private_and_link_local_targets_are_refused_without_a_request(
    downloader: MakeDownloader, image_server: ImageServer, url: str
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(64, 64))
    hosts = ("127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "localhost")
    d = downloader(hosts, allow_private=False)
    await d.start()
    with pytest.raises(Refused):
        await d.fetch(url.format(port=image_server.port))
    assert image_server.count("/a.jpg") == 0


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/a.jpg",
        "file:///etc/passwd",
        "http://evil.test/a.jpg",
        "http://user:pw@127.0.0.1/a.jpg",
        "http://2130706433/a.jpg",
        "http://0x7f.0.0.1/a.jpg",
    ],
)
async def test_other_schemes_hosts_and_odd_ip_forms_are_refused(downloader: MakeDownloader, url: str) -> None:
    d = downloader()
    await d.start()
    with pytest.raises(Refused):
        await d.fetch(url)


@pytest.mark.parametrize(
    "target",
    ["http://localhost:{port}/a.jpg", "http://169.254.169.254/latest/meta-data/", "http://evil.test/a.jpg"],
)
async def test_redirects_leaving_the_allowlist_are_refused(
    downloader: MakeDownloader, image_server: ImageServer, target: str
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(64, 64))
    image_server.routes["/hop"] = Route(status=302, location=target.format(port=image_server.port))
    d = downloader()
    await d.start()
    with pytest.raises(Refused, match="not on CDN_ALLOWED_HOSTS"):
        await d.fetch(image_server.url("/hop"))
    assert image_server.count("/a.jpg") == 0


async def test_redirects_within_the_allowlist_are_followed_up_to_the_limit(
    downloader: MakeDownloader, image_server: ImageServer
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(64, 64))
    image_server.routes["/hop1"] = Route(status=301, location="/a.jpg")
    d = downloader()
    await d.start()
    assert (await d.fetch(image_server.url("/hop1"))).format == "jpeg"
    for i in range(5):
        image_server.routes[f"/loop{i}"] = Route(status=302, location=f"/loop{i + 1}")
    with pytest.raises(Refused, match="redirects"):
        await d.fetch(image_server.url("/loop0"))


async def test_byte_limit_and_magic_bytes_refuse_the_content(
    downloader: MakeDownloader, image_server: ImageServer
) -> None:
    image_server.routes["/big.jpg"] = Route(images.jpeg(64, 64) + b"\0" * 5000)
    image_server.routes["/page.jpg"] = Route(b"<html><body>not found</body></html>")
    image_server.routes["/svg.jpg"] = Route(images.svg())
    d = downloader(max_bytes=4000)
    await d.start()
    with pytest.raises(BadResponse, match="limit"):
        await d.fetch(image_server.url("/big.jpg"))
    for path in ("/page.jpg", "/svg.jpg"):
        with pytest.raises(BadResponse, match="not a supported image"):
            await d.fetch(image_server.url(path))


async def test_server_errors_are_host_failures_and_client_errors_are_permanent(
    downloader: MakeDownloader, image_server: ImageServer
) -> None:
    image_server.routes["/503"] = Route(status=503)
    image_server.routes["/429"] = Route(status=429)
    image_server.routes["/403"] = Route(status=403)
    d = downloader()
    await d.start()
    for path in ("/503", "/429"):
        with pytest.raises(HostFailure):
            await d.fetch(image_server.url(path))
    with pytest.raises(BadResponse, match="HTTP 403"):
        await d.fetch(image_server.url("/403"))


async def test_an_allowlisted_host_is_fetched_only_on_its_allowed_port_redirects_included(
    downloader: MakeDownloader, image_server: ImageServer
) -> None:
    image_server.routes["/a.jpg"] = Route(images.jpeg(64, 64))
    image_server.routes["/to-redis"] = Route(status=302, location="http://127.0.0.1:6379/a.jpg")
    image_server.routes["/to-zero"] = Route(status=302, location="http://127.0.0.1:0/a.jpg")
    d = downloader((f"127.0.0.1:{image_server.port}",), ports="")
    await d.start()
    assert (await d.fetch(image_server.url("/a.jpg"))).format == "jpeg"
    for path, port in (("/to-redis", "6379"), ("/to-zero", "0")):
        with pytest.raises(Refused, match=f"port {port}"):
            await d.fetch(image_server.url(path))
    other = downloader(("127.0.0.1",), ports="")
    await other.start()
    with pytest.raises(Refused, match=f"port {image_server.port}"):
        await other.fetch(image_server.url("/a.jpg"))
    assert image_server.count("/a.jpg") == 1
