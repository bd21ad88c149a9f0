"""The creator's cache of Discover query embeddings: the pages of one query in words (and the same query asked again)
embed it once instead of calling inference EmbedTexts for every page.

Bounded in entries (least recently used leave first) and in age, so that a query embedded by an earlier model does
not outlive a model change by more than the age bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache

CAPACITY = 1024
MAX_AGE_S = 600.0


class QueryEmbeddings:
    """Query text -> its embedding (pgvector text), at most `capacity` of them, each kept for less than `max_age_s`."""

    def __init__(
        self, capacity: int = CAPACITY, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: TTLCache[str, str] = TTLCache(maxsize=capacity, ttl=max_age_s, timer=clock)

    def get(self, query: str) -> str | None:
        return self._entries.get(query)

    def put(self, query: str, vector: str) -> None:
        self._entries[query] = vector
