"""The labelled niche creators: enough niches and creators to judge discovery, captions written for each (no two
alike), every creator served by the fake with exactly its written biography and captions, next to the unchanged
sample creators; and topic queries for every niche, written apart from the captions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fakes.instagram.catalogue import Catalogue
from fakes.instagram.creators import CREATORS
from fakes.instagram.niche_creators import LABELLED, load
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings
from services.creator.upstream import UpstreamSettings
from services.creator.upstream.web import WebSource
from services.creator.usernames import normalise_username
from tests.processes import ROOT

QUERIES = ROOT / "tests" / "data" / "discovery_queries.jsonl"


def test_the_labelled_set_has_at_least_six_niches_of_at_least_four_creators() -> None:
    per_niche = Counter(creator.niche for creator in LABELLED.creators)
    assert len(per_niche) >= 6 and min(per_niche.values()) >= 4, per_niche
    assert set(per_niche) == set(LABELLED.niches)
    themes = Counter(niche.theme for niche in LABELLED.niches.values())
    assert max(themes.values()) >= 2  # neighbouring niches of one theme (baking and vegan cooking: food)


def test_every_labelled_creator_has_a_biography_and_twelve_captions_of_its_own() -> None:
    captions = [caption for creator in LABELLED.creators for caption in creator.captions]
    for creator in LABELLED.creators:
        assert creator.biography.strip(), creator.username
        assert len(creator.captions) == 12, creator.username
    assert len(set(captions)) == len(captions), [c for c, n in Counter(captions).items() if n > 1]
    assert any("#" in caption for caption in captions) and any(not caption.isascii() for caption in captions)


def test_labelled_usernames_are_valid_and_new() -> None:
    names = [creator.username for creator in LABELLED.creators]
    assert all(normalise_username(name) == name for name in names)
    assert len(set(names)) == len(names)
    assert not set(names) & {spec.username for spec in CREATORS}


def test_a_creator_with_an_unknown_niche_is_refused(tmp_path: Path) -> None:
    document = {
        "niches": {"baking": {"about": "baking", "theme": "no-such-theme"}},
        "creators": [{"username": "x", "full_name": "X", "niche": "baking", "followers": 1, "biography": "b"}],
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match="no known theme"):
        load(path)


def test_the_catalogue_serves_the_sample_creators_and_the_labelled_ones() -> None:
    settings = SampleSettings()
    served = set(Catalogue(settings.seed, settings.now).usernames)
    assert {spec.username for spec in CREATORS} | {creator.username for creator in LABELLED.creators} == served


async def test_the_fake_serves_each_labelled_creator_with_its_written_biography_and_captions(
    upstream: SampleUpstream,
) -> None:
    source = WebSource(UpstreamSettings(base_url=upstream.url))
    try:
        for creator in LABELLED.creators:
            fetch = await source.fetch_profile(creator.username, post_limit=12)
            assert fetch.profile.biography == creator.biography
            assert tuple(post.caption for post in fetch.posts) == creator.captions, creator.username
    finally:
        await source.aclose()


def _queries() -> list[dict[str, str]]:
    return [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_niche_has_at_least_two_topic_queries_none_copied_from_a_caption() -> None:
    queries = _queries()
    per_niche = Counter(query["niche"] for query in queries)
    assert set(per_niche) == set(LABELLED.niches) and min(per_niche.values()) >= 2, per_niche
    texts = [creator.biography.lower() for creator in LABELLED.creators]
    texts += [caption.lower() for creator in LABELLED.creators for caption in creator.captions]
    for query in queries:
        assert not any(query["query"].lower() in text for text in texts), query
