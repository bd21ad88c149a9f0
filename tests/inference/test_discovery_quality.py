"""Discovery floors of the default models (`make eval`, section "discovery"): over every sample creator, the labelled
niche creators' lookalike precision@3 is at least 0.8 in every niche and overall, and at least 0.8 of the topic
queries (written apart from the captions) get three creators of the expected niche on top.

Measured on this build: precision@3 0.952 overall (0.833 to 1.000 per niche), hit rate 0.857 (18 of 21); the misses
are sample creators of the same broad theme (a fitness coach, a finance creator) ranked among the top 3."""

from __future__ import annotations

from pathlib import Path

from scripts.discovery_eval import HIT_RATE_FLOOR, PRECISION_FLOOR, evaluate


def test_lookalikes_and_topic_queries_meet_the_discovery_floors(models_dir: Path) -> None:
    report = evaluate(models_dir, threads=2)
    assert report.niches >= 6 and report.labelled >= 24
    assert report.creators > report.labelled  # the other sample creators compete as distractors
    assert report.precision.overall >= PRECISION_FLOOR, report.precision
    assert min(report.precision.per_niche.values()) >= PRECISION_FLOOR, report.precision
    misses = [(r.query.text, r.top) for r in report.queries if not r.hit]
    assert report.hit_rate >= HIT_RATE_FLOOR, misses
