"""The creator's cache of Discover query embeddings: the pages of one query in words (and the same query asked again)
embed it once instead of calling inference EmbedTexts for every page.

Bounded in entries (least recently used leave first) and in age, so that a query embedded by an earlier model does
not outlive a model change by more than the age bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

CAPACITY = 1024
MAX_AGE_S = 600.0


class QueryEmbeddings:
    """Query text -> its embedding (pgvector text), at most `capacity` of them, none older than `max_age_s`."""

    def __init__(
        self, capacity: int = CAPACITY, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, query: str) -> str | None:
        entry = self._entries.get(query)
        if entry is None:
            return None
        stored_at, vector = entry
        if self._clock() - stored_at > self._max_age_s:
            del self._entries[query]
            return None
        self._entries.move_to_end(query)
        return vector

    def put(self, query: str, vector: str) -> None:
        self._entries[query] = (self._clock(), vector)
        self._entries.move_to_end(query)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
