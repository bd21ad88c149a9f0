"""Entry point of the sample upstream: `python -m fakes.instagram.server` serves Instagram-shaped JSON and
pictures for the sample creators on SAMPLE_UPSTREAM_LISTEN (default 127.0.0.1:8090) until SIGTERM or SIGINT.

`SampleUpstream` runs the same server inside an existing event loop (tests, benchmarks): port 0 picks a free port
and `url` tells where it landed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from types import TracebackType

from aiohttp import web

from fakes.instagram.app import create_app
from fakes.instagram.settings import SampleSettings
from following import logs
from following.settings import SettingsError

log = logging.getLogger("sample_upstream")


class SampleUpstream:
    """The sample upstream on its own socket for as long as the `async with` block runs."""

    def __init__(self, settings: SampleSettings) -> None:
        self._settings = settings
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        # Bind first, so the pictures' public URL can name the real port when port 0 was asked for.
        sock = socket.socket(socket.AF_INET6 if ":" in self._settings.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._settings.host, self._settings.port))
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        app = create_app(self._settings, public_url=self._settings.public_url or self.url)
        # handler_cancellation: a client that gives up (timeout tests) also ends a slow answer on this side.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=5.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SampleUpstream:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve(settings: SampleSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with SampleUpstream(settings) as upstream:
        log.info("sample upstream listening", extra={"url": upstream.url})
        await stop.wait()
        log.info("sample upstream stopping")


def main() -> None:
    try:
        settings = SampleSettings.from_env()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    logs.configure("sample-upstream")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
