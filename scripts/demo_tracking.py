"""The tracking part of `make demo`: vetting two suspicious sample creators, then tracking creators while the sample
upstream's simulated calendar moves a day at a time, so the scheduled refreshes (no request from the demo) show growth
and the bought-followers spike in the history and in the authenticity score."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from client.api import GatewayClient
from client.render import authenticity, growth, history

SUSPICIOUS = ("pod.pauline", "boost.brandon")
TRACKED = ("chef.marco", "boost.brandon")
DAYS = 3
REFRESH_WAIT_S = 45.0


def advance_clock(upstream: str, days: float) -> float:
    request = urllib.request.Request(
        f"{upstream}/__admin/clock",
        data=json.dumps({"advance_days": days}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return float(json.loads(reply.read())["days"])


def snapshots(api: GatewayClient, username: str) -> list[dict[str, Any]]:
    return list(api.history(username).get("snapshots", []))


def run(api: GatewayClient, upstream: str) -> None:
    for username in SUSPICIOUS:
        report = api.search(username)
        print(f"=== @{username}: vetting ===")
        print(authenticity(report.get("authenticity", {})) + "\n")
    for username in TRACKED:
        api.search(username)
        api.track(username)
    print(f"Tracking {', '.join('@' + u for u in TRACKED)}: the creator service refreshes them on its own schedule.")
    for _ in range(DAYS):
        day = advance_clock(upstream, 1)
        before = len(snapshots(api, "boost.brandon"))
        deadline = time.monotonic() + REFRESH_WAIT_S
        while len(snapshots(api, "boost.brandon")) <= before and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"  simulated day {day:.0f}: {len(snapshots(api, 'boost.brandon'))} snapshots of @boost.brandon")
    data = api.history("boost.brandon")
    print("\n=== @boost.brandon: history from scheduled refreshes (followers bought on simulated day 2) ===")
    print(history(data.get("snapshots", [])))
    print(growth(data.get("growth", {})))
    print(
        "(the simulated days passed in seconds of real time, and snapshots carry the real time of their fetch: the"
        " 7/30/90-day windows and the daily average stay absent until that much real history exists;"
        " the changes between snapshots above are the growth the refreshes saw)"
    )
    print("\n=== @boost.brandon: vetting after the spike ===")
    print(authenticity(api.search("boost.brandon").get("authenticity", {})) + "\n")
