"""Typed settings read from environment variables once at start-up.

Each service declares a frozen dataclass and builds it with an `EnvReader`, which collects every problem and raises
one `SettingsError` naming each variable and what is wrong with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """One or more environment variables are missing or malformed."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class EnvReader:
    """Reads typed values from an environment mapping, remembering every error until `check()`."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._errors: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def fail(self, name: str, problem: str) -> None:
        self._errors.append(f"{name}: {problem}")

    def text(self, name: str, default: str | None = None, *, choices: tuple[str, ...] | None = None) -> str:
        value = self._raw(name)
        if value is None:
            if default is None:
                self.fail(name, "is required but not set")
                return ""
            return default
        if choices is not None and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def optional_text(self, name: str) -> str | None:
        return self._raw(name)

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"must be an integer; got {value!r}")
            return default
        return self._bounded(name, number, minimum, maximum)

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.fail(name, f"must be a number; got {value!r}")
            return default
        return self._bounded(name, number, minimum, maximum)

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        self.fail(name, f"must be true or false; got {value!r}")
        return default

    def items(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._raw(name)
        if value is None:
            return default
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def http_url(self, name: str, default: str | None = None) -> str | None:
        """An absolute http(s) URL without its trailing slash; `default` (None: no URL) when unset."""
        value = self._raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(name, f"must be an absolute http(s) URL; got {value!r}")
            return default
        return value.rstrip("/")

    def host_port(self, name: str, default: str) -> HostPort:
        value = self._raw(name) or default
        host, sep, port_text = value.rpartition(":")
        if not sep or not host:
            self.fail(name, f"must be HOST:PORT; got {value!r}")
            return HostPort("127.0.0.1", 0)
        try:
            port = int(port_text)
        except ValueError:
            self.fail(name, f"port must be an integer; got {port_text!r}")
            return HostPort(host, 0)
        if not 0 <= port <= 65535:
            self.fail(name, f"port must be between 0 and 65535; got {port}")
        return HostPort(host.strip("[]"), port)

    def _bounded(self, name: str, number: N, minimum: N | None, maximum: N | None) -> N:
        if minimum is not None and number < minimum:
            self.fail(name, f"must be at least {minimum}; got {number}")
        if maximum is not None and number > maximum:
            self.fail(name, f"must be at most {maximum}; got {number}")
        return number

    def check(self) -> None:
        """Raises SettingsError listing every problem found so far."""
        if self._errors:
            raise SettingsError("invalid configuration:\n  " + "\n  ".join(self._errors))


@dataclass(frozen=True)
class RuntimeSettings:
    """What every service reads: where to listen, where the database is, how to log and stop."""

    service: str
    grpc_listen: HostPort
    metrics_listen: HostPort | None
    database_url: str | None
    db_connect_timeout: float
    db_statement_timeout_ms: int
    db_pool_min: int
    db_pool_max: int
    migrate_on_start: bool
    log_level: str
    shutdown_grace_seconds: float
    #: The schema owner's DSN for MIGRATE_ON_START (local development); the runtime role cannot alter its tables.
    migration_database_url: str | None = None
    #: A background loop that has not completed an iteration for this long turns the service NOT_SERVING.
    background_deadline_seconds: float = 120.0

    @classmethod
    def read(
        cls, service: str, env: EnvReader, *, default_grpc_port: int, needs_database: bool = True
    ) -> RuntimeSettings:
        metrics_text = env.text("METRICS_LISTEN", "127.0.0.1:0")
        metrics = None if metrics_text.lower() == "off" else env.host_port("METRICS_LISTEN", "127.0.0.1:0")
        database_url = env.text("DATABASE_URL") if needs_database else env.optional_text("DATABASE_URL")
        return cls(
            service=service,
            grpc_listen=env.host_port("GRPC_LISTEN", f"127.0.0.1:{default_grpc_port}"),
            metrics_listen=metrics,
            database_url=database_url,
            db_connect_timeout=env.number("DB_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=120),
            db_statement_timeout_ms=env.integer("DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100, maximum=600_000),
            db_pool_min=env.integer("DB_POOL_MIN", 1, minimum=0, maximum=100),
            db_pool_max=env.integer("DB_POOL_MAX", 10, minimum=1, maximum=200),
            migrate_on_start=env.flag("MIGRATE_ON_START", True),
            log_level=env.text("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
            shutdown_grace_seconds=env.number("SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0, maximum=600),
            migration_database_url=env.optional_text("MIGRATION_DATABASE_URL"),
            background_deadline_seconds=env.number("BACKGROUND_DEADLINE_SECONDS", 120.0, minimum=0.1, maximum=86_400),
        )
