"""`make demo`: with the stack up, search three sample creators through the REST gateway and print a summary.

It mints a development JWT from the stack's secret, searches each creator (a fresh fetch the first time), waits for the
images to be mirrored (they settle in the stored report by themselves), prints the report as a later search answers it,
and ends with how to query the stack yourself. The headline says which answer is which, in the report's own words.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from client.api import ApiError, GatewayClient
from client.render import report, source
from client.tokens import dev_token, read_stack_env
from scripts import demo_discovery, demo_tracking

CREATORS = ("fit.bayann", "chef.marco", "wander.lena")
MIRROR_WAIT_S = 30.0


def mirrored_share(data: dict[str, Any]) -> tuple[int, int]:
    media = [data.get("profile", {}).get("avatar", {})] + [p.get("image", {}) for p in data.get("recent_posts", [])]
    return sum(1 for m in media if m.get("state") == "MEDIA_STATE_MIRRORED"), len(media)


def headline(username: str, first: dict[str, Any], elapsed_ms: float, shown: dict[str, Any], waited_s: float) -> str:
    """Names the first answer's source and, when the report printed is a later answer, says so in the same words."""
    line = f"=== @{username}: first answer in {elapsed_ms:.0f} ms, {source(first.get('freshness', {}))}"
    if shown is not first:
        line += f"; the report below is the answer {waited_s:.1f} s later, {source(shown.get('freshness', {}))}"
    return line + " ==="


def main() -> None:
    values = read_stack_env()
    gateway = f"http://{values.get('GATEWAY_LISTEN', '127.0.0.1:8080')}"
    api = GatewayClient(gateway, dev_token("demo"), timeout=60)
    print(f"Searching {len(CREATORS)} sample creators through {gateway} as development user 'demo'\n")
    for username in CREATORS:
        started = time.perf_counter()
        try:
            data = api.search(username)
        except ApiError as exc:
            sys.exit(f"search @{username} failed: {exc}")
        elapsed_ms = (time.perf_counter() - started) * 1000
        first = data
        waited = time.monotonic()
        deadline = waited + MIRROR_WAIT_S
        done, total = mirrored_share(data)
        while done < total and time.monotonic() < deadline:
            time.sleep(0.5)
            data = api.search(username)
            done, total = mirrored_share(data)
        print(headline(username, first, elapsed_ms, data, time.monotonic() - waited))
        print(report(data))
        print(f"  mirrored: {done}/{total} images on our storage\n")
    if values.get("INSTAGRAM_SOURCE", "sample") == "sample":
        demo_tracking.run(api, f"http://{values.get('SAMPLE_UPSTREAM_LISTEN', '127.0.0.1:8090')}")
        demo_discovery.run(api)
    unlocked = api.unlocked()
    names = ", ".join(c["username"] for c in unlocked.get("creators", []))
    print(f"Unlocked by 'demo': {names}\n")
    print(
        "The stack keeps running. Try:\n"
        "  bin/following search techwithtariq        # a table summary (add --json for the raw answer)\n"
        "  bin/following unlocked | posts fit.bayann | history fit.bayann | queue | health\n"
        "  bin/following tracked | track wander.lena | untrack chef.marco\n"
        '  bin/following similar fit.bayann | discover "budget travel in South-East Asia" --min-followers 5000\n'
        "  bin/following --user someone-else unlocked   # another user sees nothing of demo's\n"
        f"  curl {gateway}/api/health\n"
        f"  curl -H \"Authorization: Bearer $(.venv/bin/python -c 'from client.tokens import dev_token;"
        f" print(dev_token())')\" -X POST {gateway}/api/v1/creator/search/fit.bayann\n"
        "  make logs    # follow every service's JSON logs\n"
        "  make down    # stop everything (data in .run/ survives)"
    )


if __name__ == "__main__":
    main()
