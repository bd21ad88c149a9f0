"""The discovery evaluation's measures on a small hand-made pool: precision@3 leaves the creator itself out and
counts distractors as misses, a query hits only when all of its top 3 are in its niche, ties rank by name."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scripts.discovery_eval import EMBEDDING_OUTPUT, Query, nearest, precision_at_k, query_results, verdict


def at(degrees: float, length: float = 1.0) -> np.ndarray:
    radians = math.radians(degrees)
    return np.array([math.cos(radians), math.sin(radians)], dtype=np.float64) * length


# Niche "a" near 0-20 degrees, niche "b" near 90-100, an unlabelled distractor between them at 45.
VECTORS = {"a1": at(0), "a2": at(10), "a3": at(20), "b1": at(90), "b2": at(100), "d": at(45)}
LABELS: dict[str, str | None] = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b", "d": None}


def test_precision_at_3_counts_the_share_of_the_nearest_others_in_the_niche() -> None:
    precision = precision_at_k(VECTORS, LABELS, k=3)
    # Each "a" creator: the two other "a"s and the distractor; each "b": the other "b", the distractor and a3.
    assert precision.per_niche == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert precision.overall == pytest.approx((3 * 2 / 3 + 2 * 1 / 3) / 5)


def test_a_query_hits_only_when_all_of_its_top_3_are_in_its_niche() -> None:
    queries = [Query("near a", "a"), Query("near b", "b"), Query("between", "a")]
    # Query vectors need not be unit length: ranking is by cosine.
    results = query_results(queries, [at(5, 3.0), at(80, 0.5), at(40)], VECTORS, LABELS, k=3)
    assert [result.top for result in results] == [("a1", "a2", "a3"), ("b1", "b2", "d"), ("d", "a3", "a2")]
    assert [result.hit for result in results] == [True, False, False]


def test_nearest_leaves_out_the_excluded_name_and_breaks_ties_by_name() -> None:
    diagonal = np.array([1.0, 1.0]) / math.sqrt(2)
    vectors = {"y": np.array([0.0, 1.0]), "x": np.array([1.0, 0.0]), "self": diagonal}
    assert nearest(vectors, diagonal, 2, exclude="self") == ("x", "y")
    assert nearest(vectors, diagonal, 1) == ("self",)


def test_verdicts_name_the_floor_and_whether_it_was_met() -> None:
    assert verdict(0.8, 0.8) == "floor 0.80: met"
    assert verdict(0.79, 0.8) == "floor 0.80: MISSED"


def test_the_embedding_output_is_the_one_the_model_build_keeps() -> None:
    encoder = pytest.importorskip("services.inference.modelbuild.encoder")
    assert encoder.EMBEDDING_OUTPUT == EMBEDDING_OUTPUT
