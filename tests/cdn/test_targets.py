"""The URL and address policy of downloads, case by case: allowlisted hosts only on their allowed ports, URLs that do
not parse (or parse two ways) refused for good, and IPv6 ranges that carry IPv4 judged by what they carry or refused."""

from __future__ import annotations

import pytest

from services.cdn.downloads import address_problem
from services.cdn.targets import AllowedHost, PortRange, Refused, Target, host_allowed, parse_target

HOSTS = tuple(AllowedHost.parse(h) for h in ("*.cdninstagram.com", "127.0.0.1", "img.test:8443", "[::1]:8080"))
CDN = "scontent-a.cdninstagram.com"


def target(url: str, ports: tuple[PortRange, ...] = (), allow_private: bool = True) -> Target:
    return parse_target(url, HOSTS, ports, allow_private)


def test_allowlist_matches_exact_hosts_and_subdomain_wildcards_only() -> None:
    patterns = ("*.cdninstagram.com", "127.0.0.1")
    assert host_allowed("scontent-a.cdninstagram.com", patterns)
    assert host_allowed("a.b.cdninstagram.com.", patterns)
    assert not host_allowed("cdninstagram.com.evil.test", patterns)
    assert not host_allowed("evilcdninstagram.com", patterns)
    assert host_allowed("127.0.0.1", patterns)
    assert not host_allowed("localhost", patterns)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://{CDN}/a.jpg", f"{CDN}:443"),
        (f"https://{CDN}:443/a.jpg", f"{CDN}:443"),
        (f"http://{CDN}/a.jpg", f"{CDN}:80"),
        (f"http://{CDN}:80/a.jpg", f"{CDN}:80"),
        (f"http://{CDN}:/a.jpg", f"{CDN}:80"),
        (f"HTTPS://{CDN.upper()}./a.jpg?x=%41", f"{CDN}:443"),
        ("http://img.test:8443/a.jpg", "img.test:8443"),
        ("http://[::1]:8080/a.jpg", "[::1]:8080"),
        ("http://127.0.0.1/a.jpg", "127.0.0.1:80"),
    ],
)
def test_allowlisted_hosts_pass_on_the_default_port_or_the_port_their_entry_names(url: str, expected: str) -> None:
    assert str(target(url)) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"https://{CDN}:6379/a.jpg", "port 6379"),
        (f"http://{CDN}:0/a.jpg", "port 0"),
        (f"https://{CDN}:80/a.jpg", "port 80"),
        (f"http://{CDN}:443/a.jpg", "port 443"),
        (f"http://{CDN}:8080/a.jpg", "port 8080"),
        ("http://127.0.0.1:6379/", "port 6379"),
        ("http://127.0.0.1:5432/", "port 5432"),
        ("http://img.test/a.jpg", "port 80"),
        ("http://img.test:8444/a.jpg", "port 8444"),
        ("http://[::1]/a.jpg", "port 80"),
    ],
)
def test_allowlisted_hosts_on_other_ports_are_refused(url: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason) as refused:
        target(url)
    assert refused.value.permanent


def test_allowed_ports_open_ports_and_ranges_for_hosts_without_their_own_port() -> None:
    ports = (PortRange.parse("8080"), PortRange.parse("9000-9100"))
    assert str(target(f"https://{CDN}:9050/a.jpg", ports)) == f"{CDN}:9050"
    assert str(target(f"http://{CDN}:8080/a.jpg", ports)) == f"{CDN}:8080"
    for url in (f"https://{CDN}:9101/a.jpg", f"https://{CDN}:8999/a.jpg", "http://img.test:9050/a.jpg"):
        with pytest.raises(Refused, match="port"):
            target(url, ports)


@pytest.mark.parametrize(
    "url",
    [
        "http://[x]/a.jpg",
        "http://[::1/a.jpg",
        "http://[127.0.0.1]/a.jpg",
        f"http://{CDN}:99999/a.jpg",
        f"http://{CDN}:-1/a.jpg",
        f"http://{CDN}:8o/a.jpg",
        f"http://{CDN}:80:80/a.jpg",
        "http://ｓcontent-a.cdninstagram.com/a.jpg",  # fullwidth s: NFKC folds it to ASCII in some parsers
        f"http://evil.test\uff03@{CDN}/a.jpg",  # fullwidth # : NFKC makes it a fragment
        f"http://evil.test\u2100@{CDN}/a.jpg",  # a/c
        f"http://{CDN}\\@evil.test/a.jpg",
        f"http://{CDN} /a.jpg",
        f"http://{CDN}/a.jpg\x00",
        f"http://{CDN}/\u00e9.jpg",
        f"http://{CDN}%2eevil.test/a.jpg",
        f"http://{CDN}\t/a.jpg",
        "http:///a.jpg",
        "http://user:pw@127.0.0.1/a.jpg",
        "gopher://127.0.0.1:6379/_INFO",
        "file:///etc/passwd",
    ],
)
def test_urls_that_do_not_parse_or_parse_two_ways_are_permanent_refusals(url: str) -> None:
    with pytest.raises(Refused) as refused:
        target(url)
    assert refused.value.permanent


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("*.cdninstagram.com", AllowedHost("*.cdninstagram.com")),
        ("Img.Test:8443", AllowedHost("img.test", 8443)),
        ("127.0.0.1:8090", AllowedHost("127.0.0.1", 8090)),
        ("[::1]:8080", AllowedHost("::1", 8080)),
        ("[::1]", AllowedHost("::1")),
        ("::1", AllowedHost("::1")),
    ],
)
def test_allowlist_entries_may_name_one_port(text: str, entry: AllowedHost) -> None:
    assert AllowedHost.parse(text) == entry


@pytest.mark.parametrize("text", ["img.test:0", "img.test:65536", "img.test:x", "[::1]x", "a/b", "*.*.test", ":80"])
def test_bad_allowlist_entries_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        AllowedHost.parse(text)


@pytest.mark.parametrize("text", ["0", "65536", "9100-9000", "http", "-1"])
def test_bad_port_entries_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        PortRange.parse(text)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1", "100.64.0.1"],
)
def test_private_loopback_and_link_local_addresses_are_refused_unless_allowed(address: str) -> None:
    assert address_problem(address, allow_private=False) is not None
    assert address_problem(address, allow_private=True) is None


def test_public_addresses_pass_and_unspecified_or_multicast_never_do() -> None:
    assert address_problem("157.240.1.174", allow_private=False) is None
    assert address_problem("2a03:2880:f12f:83:face:b00c:0:25de", allow_private=False) is None
    assert address_problem("0.0.0.0", allow_private=True) is not None
    assert address_problem("224.0.0.1", allow_private=True) is not None
    assert address_problem("ff02::1", allow_private=True) is not None


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
        ("::169.254.169.254", "169.254.169.254"),
        ("::8.8.8.8", "8.8.8.8"),
        ("::ffff:0:127.0.0.1", "127.0.0.1"),  # IPv4-translated
        ("::ffff:0:8.8.8.8", "8.8.8.8"),
        ("64:ff9b:1::a9fe:a9fe", ""),  # local-use NAT64
        ("64:ff9b:1:ffff::1", ""),
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4
        ("2002:7f00:1::1", "127.0.0.1"),
        ("2002:808:808::1", "8.8.8.8"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo
        ("2001:0:7f00:1::1", "127.0.0.1"),
        ("fec0::1", ""),  # site-local
        ("feff:ffff::1", ""),
    ],
)
def test_deprecated_and_relayed_ipv6_ranges_are_refused_even_where_private_networks_are_allowed(
    address: str, carried: str
) -> None:
    for allow_private in (False, True):
        problem = address_problem(address, allow_private)
        assert problem is not None, address
        assert carried in problem


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("64:ff9b::6440:1", "100.64.0.1"),
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
    ],
)
def test_nat64_and_mapped_addresses_are_judged_by_the_ipv4_address_they_carry(address: str, carried: str) -> None:
    problem = address_problem(address, allow_private=False)
    assert problem is not None and carried in problem
    assert address_problem("64:ff9b::9df0:1ae", allow_private=False) is None  # 157.240.1.174, public
    assert address_problem("64:ff9b::e000:1", allow_private=True) is not None  # 224.0.0.1, multicast


async def test_ip_literals_in_urls_are_judged_by_the_same_address_policy() -> None:
    hosts = tuple(AllowedHost.parse(h) for h in ("::ffff:0:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"))
    for url in ("http://[::ffff:0:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:7f00:1::1]/"):
        with pytest.raises(Refused, match=r"127\.0\.0\.1|169\.254\.169\.254"):
            parse_target(url, hosts, (), allow_private=False)
