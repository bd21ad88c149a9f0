"""The sample catalogue as the web adapter sees it: the demo creators, every edge case the product must handle, both
JSON shapes, determinism per seed, and real JPEGs of Instagram's sizes behind every image URL."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image

from fakes.instagram.creators import CREATORS
from fakes.instagram.niches import NICHES
from fakes.instagram.server import SampleUpstream
from fakes.instagram.settings import SampleSettings
from services.creator.upstream import PostType, ProfileFetch, UpstreamSettings
from services.creator.upstream.web import WebSource

_SPONSOR_MARKER = re.compile(r"#ad\b|#sponsored\b|#partner\b|paid partnership", re.IGNORECASE)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


@pytest.fixture(scope="module")
async def catalogue(upstream: SampleUpstream) -> AsyncIterator[dict[str, ProfileFetch]]:
    source = WebSource(UpstreamSettings(base_url=upstream.url))
    try:
        yield {spec.username: await source.fetch_profile(spec.username, post_limit=50) for spec in CREATORS}
    finally:
        await source.aclose()


def test_demo_creators_are_in_the_catalogue(catalogue: dict[str, ProfileFetch]) -> None:
    bayann = catalogue["fit.bayann"].profile
    assert 1_350_000 <= bayann.followers <= 1_450_000 and bayann.is_verified
    assert bayann.category == "Fitness Trainer"
    for name in ("chef.marco", "wander.lena", "techwithtariq"):
        assert len(catalogue[name].posts) == 50
    assert catalogue["private.pia"].profile.is_private and catalogue["private.pia"].posts == ()
    assert catalogue["empty.eddie"].posts == () and not catalogue["empty.eddie"].profile.is_private


def test_catalogue_covers_the_niches_and_languages() -> None:
    niches = {spec.niche for spec in CREATORS}
    assert {"fitness", "food", "travel", "fashion", "tech", "gaming", "parenting", "music", "beauty"} <= niches
    assert {"es", "pt", "fr", "de", "it"} <= {spec.language for spec in CREATORS}
    assert {"graphql", "v1"} == {spec.shape for spec in CREATORS}


def test_non_english_creators_write_in_their_language(catalogue: dict[str, ProfileFetch]) -> None:
    english = {sentence for niche in NICHES.values() for sentence in niche.sentences}
    for spec in CREATORS:
        if spec.language == "en":
            continue
        captions = [post.caption for post in catalogue[spec.username].posts if post.caption]
        assert captions, spec.username
        assert not any(sentence in caption for caption in captions for sentence in english), spec.username


def test_posts_cover_every_edge_case(catalogue: dict[str, ProfileFetch]) -> None:
    posts = [post for fetch in catalogue.values() for post in fetch.posts]
    assert {post.type for post in posts} == set(PostType)
    assert any(post.likes is None for post in posts)  # hidden likes
    assert all(post.likes is None for post in catalogue["hidden.hana"].posts)
    assert any(post.caption is None for post in posts)
    assert any(post.is_pinned for post in posts)
    marked = [bool(post.caption and _SPONSOR_MARKER.search(post.caption)) for post in posts]
    assert any(post.sponsors and mark for post, mark in zip(posts, marked, strict=True))  # edge and "#ad"
    assert any(post.sponsors and not mark for post, mark in zip(posts, marked, strict=True))  # only the edge
    assert any(not post.sponsors and mark for post, mark in zip(posts, marked, strict=True))  # only the caption
    assert any(len(post.carousel) >= 2 and any(item.is_video for item in post.carousel) for post in posts)
    assert any(post.location is not None for post in posts) and any(post.tagged_users for post in posts)
    reels = [post for post in posts if post.type is PostType.REEL]
    assert all(post.views and post.views > 0 for post in reels)


def test_some_creators_write_emoji_heavy_captions(catalogue: dict[str, ProfileFetch]) -> None:
    captions = [post.caption or "" for post in catalogue["glow.yuna"].posts]
    assert sum(len(_EMOJI.findall(caption)) for caption in captions) / len(captions) >= 5


async def test_same_seed_gives_identical_answers_and_another_seed_differs(upstream: SampleUpstream) -> None:
    path = "/api/v1/users/web_profile_info/?username=fit.bayann"
    async with (
        SampleUpstream(SampleSettings(port=0, seed=2026, public_url="http://sample.test")) as first,
        SampleUpstream(SampleSettings(port=0, seed=2026, public_url="http://sample.test")) as second,
        SampleUpstream(SampleSettings(port=0, seed=7, public_url="http://sample.test")) as other,
        aiohttp.ClientSession() as http,
    ):
        bodies = []
        for server in (first, second, other):
            async with http.get(server.url + path) as response:
                bodies.append(await response.read())
        image = "/media/fit.bayann/avatar_320x320.jpg"
        images = []
        for server in (first, second):
            async with http.get(server.url + image) as response:
                images.append(await response.read())
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]
    assert images[0] == images[1]


async def test_image_urls_serve_real_jpegs_of_instagram_sizes(
    catalogue: dict[str, ProfileFetch], http: aiohttp.ClientSession
) -> None:
    fetch = catalogue["style.amara"]
    carousel = next(post for post in fetch.posts if post.type is PostType.CAROUSEL)
    expected = {fetch.profile.avatar_url: (320, 320), fetch.posts[0].image_url: (1080, 1350)}
    expected |= {item.image_url: (1080, 1350) for item in carousel.carousel}
    bodies = set()
    for url, size in expected.items():
        assert url is not None
        async with http.get(url) as response:
            assert response.status == 200
            assert response.content_type == "image/jpeg"
            body = await response.read()
        assert body[:3] == b"\xff\xd8\xff"
        with Image.open(io.BytesIO(body)) as picture:
            assert picture.format == "JPEG" and picture.size == size
            picture.load()  # decodes every byte: a truncated or corrupt file fails here
        assert len(body) > (40_000 if size[0] == 1080 else 5_000)  # photo-like, not a flat fill
        bodies.add(body)
    assert len(bodies) == len(expected)  # every URL its own picture


async def test_image_bytes_are_stable_per_url(upstream: SampleUpstream, http: aiohttp.ClientSession) -> None:
    url = f"{upstream.url}/media/chef.marco/12345-1_640x800.jpg"
    bodies = []
    for _ in range(2):
        async with http.get(url) as response:
            bodies.append(await response.read())
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize(
    "path",
    [
        "/media/nobody.at.all/avatar_320x320.jpg",
        "/media/chef.marco/avatar_9999x9999.jpg",
        "/media/chef.marco/avatar.png",
    ],
)
async def test_unknown_media_is_404(upstream: SampleUpstream, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(upstream.url + path) as response:
        assert response.status == 404
