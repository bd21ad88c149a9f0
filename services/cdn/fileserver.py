"""Serves a `file://` storage directory over HTTP (GET only, no listings), so mirrored URLs open in a browser."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.cdn.storage import CACHE_CONTROL, FileStorage

TYPES = {".webp": "image/webp", ".jpeg": "image/jpeg"}


class FileServer:
    def __init__(self, root: Path, host: str, port: int) -> None:
        self.root = root.resolve()
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{key:.+}", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None)
        if self.port == 0 and sockets:
            self.port = sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        path = (self.root / key).resolve()
        if (
            not path.is_relative_to(self.root)
            or path.suffix not in TYPES
            or FileStorage.TMP in path.relative_to(self.root).parts
            or not path.is_file()
        ):
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": TYPES[path.suffix], "Cache-Control": CACHE_CONTROL})
