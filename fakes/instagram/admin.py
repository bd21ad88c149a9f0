"""A small client for the sample upstream's admin endpoints, for tests and benchmarks that steer its faults and
read how many requests it answered."""

from __future__ import annotations

from typing import Any

import aiohttp


class SampleAdmin:
    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")

    async def add_fault(self, mode: str, **fields: Any) -> list[dict[str, Any]]:
        """Add one global rule (see fakes.instagram.faults) and return every active rule."""
        return (await self._call("POST", "/__admin/faults", {"mode": mode, **fields}))["rules"]

    async def faults(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/__admin/faults"))["rules"]

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/__admin/faults")

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/__admin/stats")

    async def reset_stats(self) -> None:
        await self._call("DELETE", "/__admin/stats")

    async def requests(self, endpoint: str | None = None) -> int:
        """Requests answered so far, on one endpoint ("profile", "feed", "media") or on all."""
        stats = await self.stats()
        return int(stats["requests_total"] if endpoint is None else stats["by_endpoint"].get(endpoint, 0))

    async def advance_clock(self, days: float) -> float:
        """Moves simulated time forward by `days`; returns the simulated day now."""
        return float((await self._call("POST", "/__admin/clock", {"advance_days": days}))["days"])

    async def clock(self) -> float:
        return float((await self._call("GET", "/__admin/clock"))["days"])

    async def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self._base + path, json=body) as response,
        ):
            payload: dict[str, Any] = await response.json()
            if response.status >= 400:
                raise ValueError(f"{method} {path} answered {response.status}: {payload}")
            return payload
