"""The cache of Discover query embeddings: bounded in entries (least recently used leave first) and in age."""

from __future__ import annotations

from services.creator.query_embeddings import QueryEmbeddings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_query_leaves_first_when_full() -> None:
    cache = QueryEmbeddings(capacity=2, max_age_s=60, clock=Clock())
    cache.put("baking", "[1,0]")
    cache.put("running", "[0,1]")
    assert cache.get("baking") == "[1,0]"  # now the more recently used
    cache.put("coding", "[1,1]")
    assert cache.get("running") is None
    assert cache.get("baking") == "[1,0]" and cache.get("coding") == "[1,1]"


def test_an_embedding_as_old_as_the_age_bound_is_embedded_again() -> None:
    clock = Clock()
    cache = QueryEmbeddings(capacity=8, max_age_s=60, clock=clock)
    cache.put("baking", "[1,0]")
    clock.now = 59.5
    assert cache.get("baking") == "[1,0]"
    clock.now = 60.0
    assert cache.get("baking") is None
