"""The discovery part of `make demo`: search a few of the sample upstream's niche creators (any stored creator can be
found afterwards, by any user), wait until their captions are embedded, then list lookalikes of one and run a topic
search in words with a follower filter."""

from __future__ import annotations

import time

from client.api import ApiError, GatewayClient
from client.render import discovered, similar

NICHE_CREATORS = ("crumb.and.crust", "the.little.oven", "loaf.lab.jon", "nomad.nat", "barbell.bea", "dewy.daily")
LOOKALIKES_OF = "crumb.and.crust"
QUERY = "home baking and sourdough"
EMBED_WAIT_S = 45.0


def run(api: GatewayClient) -> None:
    for username in NICHE_CREATORS:
        api.search(username)
    deadline = time.monotonic() + EMBED_WAIT_S
    while True:
        try:
            lookalikes = api.similar(LOOKALIKES_OF, page_size=5)
            break
        except ApiError as exc:  # EMBEDDING_PENDING until its captions' analyses are stored
            if exc.reason != "EMBEDDING_PENDING" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    print(f"=== discovery: lookalikes of @{LOOKALIKES_OF} among the stored creators ===")
    print(similar(lookalikes) + "\n")
    print(f'=== discovery: "{QUERY}", at least 10,000 followers ===')
    print(discovered(api.discover(QUERY, {"min_followers": 10_000, "page_size": 5})) + "\n")
