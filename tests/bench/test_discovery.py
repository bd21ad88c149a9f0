"""The discovery benchmark's corpus, loader and recall measure, on a small corpus in a fresh database."""

from __future__ import annotations

import numpy as np

from bench import discovery, discovery_corpus
from bench.discovery_corpus import FILTERS, Corpus, generate
from following.migrations import migrate_directory
from services.creator import embedding_store
from tests.conftest import TestDatabase

SIZE = 2_000


def test_corpus_clusters_creators_around_niches_with_filters_of_decreasing_selectivity() -> None:
    corpus = generate(SIZE)
    assert corpus.vectors.shape == (SIZE, 384) and corpus.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, atol=1e-5)
    same = corpus.niche == corpus.niche[0]
    similarity = corpus.vectors @ corpus.vectors[0]
    assert similarity[same][1:].mean() > 0.3 > abs(similarity[~same].mean())
    shares = [float(f.mask(corpus).mean()) for f in FILTERS]
    assert 1.0 > shares[0] > shares[1] > shares[2] > 0.0
    assert all(corpus.languages[i] and corpus.topics[i] for i in range(SIZE))
    assert np.isnan(corpus.engagement).any() and (corpus.followers >= 1_000).all()


async def test_loaded_corpus_is_answered_by_the_hnsw_index_close_to_exact_search(database: TestDatabase) -> None:
    await migrate_directory(database.owner_dsn_for("creator"), "creator", discovery.MIGRATIONS)
    corpus = generate(SIZE)
    conn = await discovery_corpus.connect(database.admin_dsn)
    try:
        await discovery_corpus.load(conn, corpus)
        _, index_bytes = await discovery_corpus.build_index(conn)
        assert index_bytes > 0
        assert await conn.fetchval("SELECT count(*) FROM creator.creators WHERE embedding IS NOT NULL") == SIZE
        assert await conn.fetch(embedding_store.DUE_CREATORS, 10) == []  # the service's embedder leaves them alone
        stored = await conn.fetchval("SELECT embedding FROM creator.creators WHERE username = $1", Corpus.username(7))
        assert np.allclose(stored, corpus.vectors[7])
        queries = discovery_corpus.queries(corpus, 20)
        assert await discovery_corpus.uses_index(conn, queries[0], 10)
        assert await discovery_corpus.recall_at_k(conn, corpus, queries, 10, 40) >= 0.95
        narrow = FILTERS[-1]
        row = await discovery.store_rankings(conn, corpus, queries[:3], 10, narrow, iterative=True)
        assert len(row.samples) == 3 and row.wanted == 3 * min(10, int(narrow.mask(corpus).sum()))
        assert row.returned == row.wanted and row.found / row.wanted >= 0.9
        # The narrow filter passes fewer than the store's EXACT_BELOW: its ranking is exact, a page of it as well.
        page = await discovery.store_rankings(conn, corpus, queries[:3], 11, narrow, True, ef=100)
        assert row.found == row.wanted and page.found == page.wanted == 3 * min(11, int(narrow.mask(corpus).sum()))
    finally:
        await conn.close()


def test_report_says_which_floors_are_missed() -> None:
    figures = discovery.Figures(creators=SIZE, pgvector="0.8.6", recall={discovery.EF_SEARCH: 0.9})
    figures.service.append(discovery.Latency("SimilarCreators", [0.005] * 98 + [0.08] * 2))
    text = discovery.report(figures)
    assert "recall@10 at ef_search" in text and ">= 0.95: MISSES (0.900)" in text
    assert "| SimilarCreators | 100 | 5.00 ms | 80.00 ms | MISSES |" in text
