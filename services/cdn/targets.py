"""Where the CDN may download from, decided without I/O.

A URL is read strictly: printable ASCII only (IDN hosts in their `xn--` form), no backslash, and the standard
library's reading of its host and port must agree with the HTTP client's (yarl), so no parser differential can send a
request somewhere the checks did not look. The host must match `CDN_ALLOWED_HOSTS` and the port must be the scheme's
default, one of `CDN_ALLOWED_PORTS`, or the port its allowlist entry names. Every address (an IP literal, or each DNS
answer) must pass `address_problem`. Whatever fails here is a `Refused`: a permanent failure, never retried.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import yarl

from services.cdn.jobs import PermanentFailure

DEFAULT_PORTS = {"http": 80, "https": 443}

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address

#: IPv6 ranges never contacted, whatever CDN_ALLOW_PRIVATE_NETWORKS says: deprecated, or carrying an IPv4 address
#: whose reach we cannot judge from here (a translator or relay decides where the packets go).
REFUSED_IPV6 = (
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible address (deprecated, RFC 4291)"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated address (SIIT, RFC 2765)"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address (RFC 8215)"),
    (ipaddress.IPv6Network("2002::/16"), "a 6to4 address (RFC 3056)"),
    (ipaddress.IPv6Network("2001::/32"), "a Teredo address (RFC 4380)"),
    (ipaddress.IPv6Network("fec0::/10"), "a site-local address (deprecated, RFC 3879)"),
)
#: The well-known NAT64 prefix (DNS64 clusters reach IPv4-only hosts through it): judged by the IPv4 address inside.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(PermanentFailure):
    """The URL or one of its redirects points somewhere we never download from."""


@dataclass(frozen=True)
class AllowedHost:
    """One CDN_ALLOWED_HOSTS entry: a name or address (`*.example.com` allows its subdomains only) and the one port it
    may use, or None for the scheme's default port and CDN_ALLOWED_PORTS."""

    pattern: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowedHost:
        """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; raises ValueError."""
        text = text.strip().lower()
        port_text: str | None = None
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ValueError(f"{text!r}: an IPv6 entry is [address] or [address]:port")
            port_text = rest[1:] if rest else None
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        else:
            host = text
        host = host.rstrip(".")
        if not host or not host.isascii() or any(c in host for c in "/@\\ ") or "*" in host.removeprefix("*."):
            raise ValueError(f"{text!r}: not a host name, address or *.domain pattern")
        port = None if port_text is None else parse_port(port_text)
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.pattern}]" if ":" in self.pattern else self.pattern
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class PortRange:
    """One CDN_ALLOWED_PORTS entry: a port (`8443`) or an inclusive range (`1024-65535`)."""

    first: int
    last: int

    @classmethod
    def parse(cls, text: str) -> PortRange:
        first, dash, last = text.strip().partition("-")
        low = parse_port(first)
        high = parse_port(last) if dash else low
        if high < low:
            raise ValueError(f"{text!r}: the range is empty")
        return cls(low, high)

    def __contains__(self, port: int) -> bool:
        return self.first <= port <= self.last


@dataclass(frozen=True)
class Target:
    """A checked URL's destination. `str(target)` (`host:port`) keys the circuit breaker and the rate limit."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{text!r} is not a port between 1 and 65535")
    return int(text)


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def port_allowed(
    host: str, port: int, scheme: str, hosts: tuple[AllowedHost, ...], ports: tuple[PortRange, ...]
) -> bool:
    """Whether an entry that allows `host` also allows `port`."""
    for entry in hosts:
        if not host_allowed(host, (entry.pattern,)):
            continue
        if entry.port is None:
            if port == DEFAULT_PORTS[scheme] or any(port in r for r in ports):
                return True
        elif port == entry.port:
            return True
    return False


def parse_target(url: str, hosts: tuple[AllowedHost, ...], ports: tuple[PortRange, ...], allow_private: bool) -> Target:
    """The URL's destination if it may be fetched; raises Refused otherwise."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise Refused("URL must be printable ASCII without spaces (IDN hosts in their xn-- form)")
    if "\\" in url:
        raise Refused("URL contains a backslash")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
        has_credentials = bool(parts.username or parts.password)
    except ValueError as exc:
        raise Refused(f"URL does not parse: {exc}") from None
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"scheme {parts.scheme!r} is not allowed; only http and https")
    if has_credentials:
        raise Refused("URLs with credentials are not allowed")
    if not host:
        raise Refused("URL has no host")
    if port == 0:
        raise Refused("port 0 is not a destination")
    port = port or DEFAULT_PORTS[scheme]
    try:
        client = yarl.URL(url)
        client_host = (client.host or "").lower().rstrip(".")
        client_port = client.port
    except (ValueError, TypeError, UnicodeError) as exc:
        raise Refused(f"URL does not parse: {exc}") from None
    if (client_host, client_port) != (host, port):
        raise Refused(f"URL is ambiguous: read as {host}:{port} and as {client_host}:{client_port}")
    if not host_allowed(host, tuple(entry.pattern for entry in hosts)):
        raise Refused(f"host {host!r} is not on CDN_ALLOWED_HOSTS")
    if not port_allowed(host, port, scheme, hosts, ports):
        raise Refused(f"port {port} of {host!r} is not allowed (CDN_ALLOWED_PORTS, or host:port on CDN_ALLOWED_HOSTS)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return Target(scheme, host, port)
    # aiohttp skips the resolver for IP literals, so check them here.
    problem = address_problem(host, allow_private)
    if problem is not None:
        raise Refused(problem)
    return Target(scheme, host, port)


def address_problem(address: str, allow_private: bool) -> str | None:
    """Why a resolved address must not be contacted, or None."""
    try:
        ip: IPv4 | IPv6 = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, IPv6):
        refused = _refused_ipv6(ip)
        if refused is not None:
            return refused
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = IPv4(int(ip) & 0xFFFFFFFF)
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if ip.is_global or allow_private:
        return None
    kind = "loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "private or reserved"
    return f"{address} is a {kind} address" if str(ip) == address else f"{address} reaches {ip}, a {kind} address"


def _refused_ipv6(ip: IPv6) -> str | None:
    if ip in (IPv6("::"), IPv6("::1")):
        return None  # unspecified and loopback: judged like any other address
    for network, kind in REFUSED_IPV6:
        if ip in network:
            inside = _embedded_ipv4(ip, network)
            return f"{ip} is {kind}" + (f" carrying {inside}" if inside else "") + "; never contacted"
    return None


def _embedded_ipv4(ip: IPv6, network: ipaddress.IPv6Network) -> str:
    if ip.teredo is not None:
        server, client = ip.teredo
        return f"server {server}, client {client}"
    if ip.sixtofour is not None:
        return str(ip.sixtofour)
    if network.prefixlen == 96:
        return str(IPv4(int(ip) & 0xFFFFFFFF))
    return ""
