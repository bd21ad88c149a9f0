"""The gateway's settings: read once from environment variables, validated, with errors that name the variable.

A deliberate copy: the Python services read their settings with `following.settings.EnvReader`, but the gateway's
render image (the pod's init container; deploy/images.py) carries only `services/gateway/` and the generated messages,
and the Envoy image no Python at all, not the services' runtime `following/`, whose other modules need grpcio, asyncpg
and prometheus-client the render image does not install. Shipping one file of that package would make the gateway's
build depend on the services' runtime for about forty lines, so `_Reader` below stays the gateway's own; keep its
contract the same (a problem names the variable, an empty value is unset).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from services.gateway.contract import default_descriptor_path


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class JwksUrl:
    """A remote JWKS endpoint (Supabase: https://<ref>.supabase.co/auth/v1/.well-known/jwks.json)."""

    url: str
    host: str
    port: int
    tls: bool


@dataclass(frozen=True)
class GatewaySettings:
    listen: Address
    admin_listen: Address
    metrics_listen: Address | None
    creator_addr: Address
    cdn_addr: Address
    jwt_secret: str | None
    jwks_url: JwksUrl | None
    jwks_file: Path | None
    jwks_ca_file: Path
    jwt_issuer: str
    jwt_audience: str
    jwt_clock_skew_s: int
    jwt_max_lifetime_s: int
    operator_claim: tuple[str, ...]
    operator_role: str
    cors_origins: tuple[str, ...]
    # RE2 regexes, one per CORS_ORIGIN_PATTERNS entry such as https://*.vercel.app ('*' = one DNS label).
    cors_origin_patterns: tuple[str, ...]
    descriptor: Path
    read_timeout_s: float
    write_timeout_s: float
    connect_timeout_s: float
    read_retries: int
    max_request_bytes: int
    max_response_bytes: int
    rate_limit_rps: int
    rate_limit_burst: int
    user_rate_limit_rps: int
    user_rate_limit_burst: int
    max_tracked_users: int
    max_path_bytes: int
    max_connections: int
    max_pending_requests: int
    max_requests: int
    concurrency: int
    access_log: str
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings:
        reader = _Reader(env)
        secret = reader.optional("SUPABASE_JWT_SECRET")
        jwks_url = reader.optional("SUPABASE_JWKS_URL")
        jwks_file = reader.optional("SUPABASE_JWKS_FILE")
        if not (secret or jwks_url or jwks_file):
            raise SettingsError(
                "no JWT key configured: set SUPABASE_JWT_SECRET (HS256) and/or SUPABASE_JWKS_URL or SUPABASE_JWKS_FILE"
            )
        if jwks_url and jwks_file:
            raise SettingsError("set only one of SUPABASE_JWKS_URL and SUPABASE_JWKS_FILE")
        if jwks_file and not Path(jwks_file).is_file():
            raise SettingsError(f"SUPABASE_JWKS_FILE: {jwks_file!r} is not a readable file")
        admin = reader.address("GATEWAY_ADMIN_LISTEN", "127.0.0.1:9901")
        if not admin.loopback:
            raise SettingsError(f"GATEWAY_ADMIN_LISTEN: {admin} is not a loopback address (the admin API has no auth)")
        metrics = reader.optional("GATEWAY_METRICS_LISTEN")
        metrics_listen = reader.address("GATEWAY_METRICS_LISTEN", metrics) if metrics else None
        if metrics_listen and admin.port == 0:
            raise SettingsError("GATEWAY_METRICS_LISTEN needs a fixed port in GATEWAY_ADMIN_LISTEN (it proxies to it)")
        burst_default = str(2 * reader.integer("GATEWAY_RATE_LIMIT_RPS", "1000", minimum=1))
        user_burst_default = str(2 * reader.integer("GATEWAY_USER_RATE_LIMIT_RPS", "50", minimum=1))
        return cls(
            listen=reader.address("GATEWAY_LISTEN", "127.0.0.1:8080"),
            admin_listen=admin,
            metrics_listen=metrics_listen,
            creator_addr=reader.address("CREATOR_ADDR", "127.0.0.1:50051"),
            cdn_addr=reader.address("CDN_ADDR", "127.0.0.1:50053"),
            jwt_secret=secret,
            jwks_url=_jwks_url(jwks_url) if jwks_url else None,
            jwks_file=Path(jwks_file) if jwks_file else None,
            jwks_ca_file=Path(reader.text("SUPABASE_JWKS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt")),
            jwt_issuer=reader.required("SUPABASE_JWT_ISSUER", "e.g. https://<project-ref>.supabase.co/auth/v1"),
            jwt_audience=reader.text("SUPABASE_JWT_AUDIENCE", "authenticated"),
            # Envoy reads 0 as "unset" and applies 60 s, so 1 s is the strictest setting.
            jwt_clock_skew_s=reader.integer("SUPABASE_JWT_CLOCK_SKEW_S", "30", minimum=1),
            jwt_max_lifetime_s=reader.integer("SUPABASE_JWT_MAX_LIFETIME_S", "86400", minimum=60),
            operator_claim=reader.claim_path("GATEWAY_OPERATOR_CLAIM", "app_metadata.role"),
            operator_role=reader.text("GATEWAY_OPERATOR_ROLE", "operator"),
            cors_origins=reader.origins("CORS_ORIGINS", "http://localhost:3000"),
            cors_origin_patterns=reader.origin_patterns("CORS_ORIGIN_PATTERNS"),
            descriptor=Path(reader.optional("GATEWAY_DESCRIPTOR") or default_descriptor_path()),
            read_timeout_s=reader.seconds("GATEWAY_READ_TIMEOUT_S", "5"),
            write_timeout_s=reader.seconds("GATEWAY_WRITE_TIMEOUT_S", "60"),
            connect_timeout_s=reader.seconds("GATEWAY_CONNECT_TIMEOUT_S", "1"),
            read_retries=reader.integer("GATEWAY_READ_RETRIES", "2", minimum=0),
            max_request_bytes=reader.integer("GATEWAY_MAX_REQUEST_BYTES", "65536", minimum=1024),
            max_response_bytes=reader.integer("GATEWAY_MAX_RESPONSE_BYTES", "16777216", minimum=65536),
            rate_limit_rps=reader.integer("GATEWAY_RATE_LIMIT_RPS", "1000", minimum=1),
            rate_limit_burst=reader.integer("GATEWAY_RATE_LIMIT_BURST", burst_default, minimum=1),
            user_rate_limit_rps=reader.integer("GATEWAY_USER_RATE_LIMIT_RPS", "50", minimum=1),
            user_rate_limit_burst=reader.integer("GATEWAY_USER_RATE_LIMIT_BURST", user_burst_default, minimum=1),
            max_tracked_users=reader.integer("GATEWAY_USER_RATE_LIMIT_USERS", "20000", minimum=1),
            # The path travels to the service as gRPC metadata (8 KiB in all), so it is bounded well below that.
            max_path_bytes=reader.integer("GATEWAY_MAX_PATH_BYTES", "2048", minimum=256),
            max_connections=reader.integer("GATEWAY_MAX_CONNECTIONS", "1024", minimum=1),
            max_pending_requests=reader.integer("GATEWAY_MAX_PENDING_REQUESTS", "1024", minimum=1),
            max_requests=reader.integer("GATEWAY_MAX_REQUESTS", "1024", minimum=1),
            concurrency=reader.integer("GATEWAY_CONCURRENCY", "1", minimum=1),
            access_log=reader.text("GATEWAY_ACCESS_LOG", "/dev/stdout"),
            log_level=reader.choice("GATEWAY_LOG_LEVEL", "warn", ("trace", "debug", "info", "warn", "error")),
        )


def _jwks_url(value: str) -> JwksUrl:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"SUPABASE_JWKS_URL: {value!r} is not an http(s) URL")
    tls = parts.scheme == "https"
    return JwksUrl(url=value, host=parts.hostname, port=parts.port or (443 if tls else 80), tls=tls)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def required(self, name: str, hint: str) -> str:
        value = self.optional(name)
        if value is None:
            raise SettingsError(f"{name} is not set ({hint})")
        return value

    def integer(self, name: str, default: str, minimum: int) -> int:
        raw = self.text(name, default)
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not an integer") from None
        if value < minimum:
            raise SettingsError(f"{name}: {value} is below the minimum {minimum}")
        return value

    def seconds(self, name: str, default: str) -> float:
        raw = self.text(name, default)
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a number of seconds") from None
        if not 0.001 <= value <= 3600:
            raise SettingsError(f"{name}: {value} is outside 0.001-3600 seconds")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def claim_path(self, name: str, default: str) -> tuple[str, ...]:
        raw = self.text(name, default)
        keys = tuple(raw.split("."))
        if not all(re.fullmatch(r"[A-Za-z0-9_:-]+", key) for key in keys):
            raise SettingsError(f"{name}: {raw!r} is not a dotted claim path like app_metadata.role")
        return keys

    def address(self, name: str, default: str) -> Address:
        raw = self.text(name, default)
        host, sep, port = raw.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise SettingsError(f"{name}: {raw!r} is not HOST:PORT")
        return Address(host, int(port))

    def origin_patterns(self, name: str) -> tuple[str, ...]:
        """`scheme://*.rest.of.host[:port]` entries as anchored RE2 regexes; '*' stands for exactly one DNS label, so
        `https://*.vercel.app` allows `https://my-app-git-branch.vercel.app` but not `https://vercel.app.evil.com`."""
        patterns = []
        for entry in (p.strip().rstrip("/") for p in self.text(name, "").split(",") if p.strip()):
            scheme, sep, rest = entry.partition("://")
            fixed = rest[2:]
            if (
                scheme not in ("http", "https")
                or not sep
                or not rest.startswith("*.")
                or not fixed
                or not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", fixed)
            ):
                raise SettingsError(f"{name}: {entry!r} is not a pattern like https://*.vercel.app")
            patterns.append(rf"{re.escape(scheme)}://[a-z0-9]([a-z0-9-]*[a-z0-9])?\.{re.escape(fixed.lower())}")
        return tuple(patterns)

    def origins(self, name: str, default: str) -> tuple[str, ...]:
        origins = tuple(o.strip().rstrip("/") for o in self.text(name, default).split(",") if o.strip())
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise SettingsError(f"{name}: {origin!r} is not an origin like https://app.example.com")
        return origins
