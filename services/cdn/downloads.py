"""Safe image downloads with aiohttp: every URL and redirect hop checked by the target policy (`targets.py`: http(s)
only, allowlisted hosts on allowed ports, strict parsing), redirects followed by hand, resolved addresses checked (no
private, loopback or link-local targets unless allowed), a byte limit, and the content recognised by its magic bytes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from services.cdn.jobs import PermanentFailure, TransientFailure
from services.cdn.targets import AllowedHost, PortRange, Refused, Target, address_problem, parse_target

REDIRECTS = (301, 302, 303, 307, 308)
MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


class BadResponse(PermanentFailure):
    """The host answered, but not with an image we accept (4xx, too large, wrong content)."""


class HostFailure(TransientFailure):
    """The host did not answer properly (connection error, timeout, 5xx, 429): retried, and counted by the breaker."""


@dataclass(frozen=True)
class Download:
    data: bytes
    format: str
    final_url: str


@dataclass(frozen=True)
class DownloadPolicy:
    allowed_hosts: tuple[AllowedHost, ...]
    allow_private_networks: bool
    max_bytes: int
    max_redirects: int
    timeout: float
    #: Ports besides the scheme's default that hosts without their own port on the allowlist may use.
    allowed_ports: tuple[PortRange, ...] = ()


def sniff(data: bytes) -> str | None:
    """The image format by magic bytes: jpeg, png, gif or webp; None for anything else (SVG, HTML, ...)."""
    for magic, name in MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class GuardedResolver(AbstractResolver):
    """Resolves names, then drops every address the policy refuses, so the connection goes only to a checked one."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        results: list[ResolveResult] = await self._inner.resolve(host, port, family)
        problems = [address_problem(r["host"], self.allow_private) for r in results]
        allowed = [r for r, problem in zip(results, problems, strict=True) if problem is None]
        if not allowed:
            raise Refused(f"{host} resolves only to refused addresses: {'; '.join(p for p in problems if p)}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class Downloader:
    def __init__(self, policy: DownloadPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy.allow_private_networks), limit=100)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": "following-cdn/1", "Accept": "image/*"},
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout, connect=min(5.0, self.policy.timeout)),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def check_url(self, url: str) -> Target:
        """Where the URL may be fetched from; raises Refused otherwise. Runs again on every redirect hop."""
        policy = self.policy
        return parse_target(url, policy.allowed_hosts, policy.allowed_ports, policy.allow_private_networks)

    async def fetch(self, url: str) -> Download:
        assert self._session is not None, "Downloader.start() not called"
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            self.check_url(current)
            try:
                async with self._session.get(current, allow_redirects=False) as response:
                    if response.status in REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise BadResponse(f"HTTP {response.status} without a Location")
                        current = urljoin(current, location)
                        continue
                    if response.status == 429 or response.status >= 500:
                        raise HostFailure(f"HTTP {response.status} from {urlsplit(current).hostname}")
                    if response.status != 200:
                        raise BadResponse(f"HTTP {response.status}")
                    data = await self._read(response)
            except aiohttp.InvalidURL as exc:
                raise Refused(f"URL does not parse: {exc}") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, Refused):
                    raise exc.os_error from None
                raise HostFailure(f"download failed: {type(exc).__name__}: {exc}") from exc
            kind = sniff(data)
            if kind is None:
                raise BadResponse(f"not a supported image (first bytes {data[:8]!r})")
            return Download(data, kind, current)
        raise Refused(f"more than {self.policy.max_redirects} redirects")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self.policy.max_bytes
        if response.content_length is not None and response.content_length > limit:
            raise BadResponse(f"image is {response.content_length} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise BadResponse(f"image exceeds the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)
