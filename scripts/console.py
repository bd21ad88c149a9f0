"""The web console's server for the local stack: the bundle from `clients/web/dist`, `config.json` naming the gateway,
and `dev-token?user=NAME`, which mints a development JWT with the stack's secret so the page can sign in without
Supabase. It mints only while it listens on a loopback address; anywhere else the page asks for a pasted token.

    CONSOLE_LISTEN=127.0.0.1:3000 CONSOLE_GATEWAY_URL=http://127.0.0.1:8080 python -m scripts.console
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import re
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from client.tokens import DEFAULT_ISSUER, mint
from following.settings import EnvReader, HostPort, SettingsError

BUNDLE = Path(__file__).resolve().parents[1] / "clients" / "web" / "dist"
DEV_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
NOT_BUILT = (
    b"<!doctype html><title>Following console</title><p>The console is not built: run <code>make setup</code> "
    b"(or <code>npm ci &amp;&amp; npm run build</code> in clients/web).</p>"
)


@dataclass(frozen=True)
class ConsoleSettings:
    listen: HostPort
    gateway_url: str
    #: The HS256 secret to mint development tokens with; None disables `dev-token`.
    dev_secret: str | None
    issuer: str
    bundle: Path

    @classmethod
    def from_env(cls, reader: EnvReader | None = None) -> ConsoleSettings:
        reader = reader or EnvReader()
        listen = reader.host_port("CONSOLE_LISTEN", "127.0.0.1:3000")
        gateway = reader.text("CONSOLE_GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
        if urlsplit(gateway).scheme not in ("http", "https"):
            reader.fail("CONSOLE_GATEWAY_URL", f"must be an http(s) URL; got {gateway!r}")
        secret = reader.optional_text("SUPABASE_JWT_SECRET")
        issuer = reader.text("SUPABASE_JWT_ISSUER", DEFAULT_ISSUER)
        reader.check()
        return cls(listen, gateway, secret if _loopback(listen.host) else None, issuer, BUNDLE)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def handler_for(settings: ConsoleSettings) -> type[BaseHTTPRequestHandler]:
    class ConsoleHandler(BaseHTTPRequestHandler):
        server_version = "following-console"

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/config.json":
                config = {"gateway": settings.gateway_url, "devTokens": settings.dev_secret is not None}
                return self._send(HTTPStatus.OK, "application/json", json.dumps(config).encode())
            if url.path == "/dev-token":
                return self._dev_token(parse_qs(url.query).get("user", ["demo"])[0])
            name = "index.html" if url.path in ("/", "/index.html") else url.path.lstrip("/")
            path = (settings.bundle / name).resolve()
            if not path.is_relative_to(settings.bundle.resolve()) or not path.is_file():
                if name == "index.html":
                    return self._send(HTTPStatus.OK, "text/html; charset=utf-8", NOT_BUILT)
                return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, kind, path.read_bytes())

        def _dev_token(self, user: str) -> None:
            if settings.dev_secret is None:
                return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"development tokens are off\n")
            if not DEV_USER.match(user):
                return self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"user: 1-64 of A-Z a-z 0-9 . _ -\n")
            token = mint(settings.dev_secret, settings.issuer, user)
            self._send(HTTPStatus.OK, "application/json", json.dumps({"token": token}).encode())

        def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            # The bundle is rebuilt in place and tokens are per request: nothing here may be cached.
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return ConsoleHandler


def main() -> None:
    try:
        settings = ConsoleSettings.from_env()
    except SettingsError as exc:
        sys.exit(str(exc))
    server = ThreadingHTTPServer((settings.listen.host, settings.listen.port), handler_for(settings))
    print(f"console: http://{settings.listen} (gateway {settings.gateway_url})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
