"""The sample creators: who they are (fixed specs: creators.py and the labelled niche creators of niche_creators.py)
and their posts (generated, seeded, deterministic; a labelled creator's captions are its written ones).

Everything follows from `SampleSettings.seed` and `.now`: the same settings give the same posts, counts and captions
on every run. Posts are generated on first use per creator and kept.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from fakes.instagram.creators import CREATORS, CreatorSpec
from fakes.instagram.niche_creators import NICHE_CREATORS
from fakes.instagram.niches import FRIENDS, LOCAL_SENTENCES, NICHES, PARTNERSHIP_LINES

MediaKind = Literal["image", "video", "reel", "carousel"]
_SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True, slots=True)
class SamplePost:
    id: str
    shortcode: str
    kind: MediaKind
    taken_at: datetime
    caption: str | None
    likes: int
    likes_hidden: bool
    comments: int
    views: int
    video_duration: float
    pinned: bool
    sponsor: str | None
    tagged: tuple[str, ...]
    location: tuple[str, str, str] | None  # id, name, slug
    # Kinds of the carousel's items ("image" or "video"); empty for other kinds.
    children: tuple[str, ...] = field(default_factory=tuple)


def user_id(spec: CreatorSpec, seed: int) -> str:
    rng = random.Random(f"{seed}:uid:{spec.username}")
    return str(rng.randrange(1_000_000_000, 60_000_000_000))


def shortcode(media_id: int) -> str:
    """Instagram's shortcode: the media id in URL-safe base64 digits."""
    digits = []
    while media_id:
        media_id, rest = divmod(media_id, 64)
        digits.append(_SHORTCODE_ALPHABET[rest])
    return "".join(reversed(digits))[-11:]


def generate_posts(spec: CreatorSpec, seed: int, now: datetime) -> tuple[SamplePost, ...]:
    """The creator's feed as Instagram serves it: pinned posts first, then newest to oldest."""
    rng = random.Random(f"{seed}:posts:{spec.username}")
    posts: list[SamplePost] = []
    taken_at = (now - timedelta(hours=rng.uniform(2, 30))).replace(microsecond=0)
    media_id = 3_480_000_000_000_000_000 + rng.randrange(10**15)
    for index in range(spec.posts_available):
        posts.append(_post(spec, rng, media_id, taken_at, index))
        taken_at -= timedelta(seconds=int(86_400 * (rng.expovariate(1 / spec.days_between_posts) + 0.05)))
        media_id -= rng.randrange(10**13, 10**15)
    pinned_at = sorted(rng.sample(range(12, len(posts)), min(spec.pinned, max(len(posts) - 12, 0))))
    pinned = [_with_pin(posts[i]) for i in pinned_at]
    rest = [post for i, post in enumerate(posts) if i not in pinned_at]
    return tuple(pinned + rest)


def _with_pin(post: SamplePost) -> SamplePost:
    return replace(post, pinned=True)


def _post(spec: CreatorSpec, rng: random.Random, media_id: int, taken_at: datetime, index: int) -> SamplePost:
    roll = rng.random()
    kind: MediaKind
    if roll < spec.reel_share:
        kind = "reel"
    elif roll < spec.reel_share + spec.video_share:
        kind = "video"
    elif roll < spec.reel_share + spec.video_share + spec.carousel_share:
        kind = "carousel"
    else:
        kind = "image"
    niche = NICHES[spec.niche]
    sponsored = rng.random() < spec.sponsored_share
    sponsor = rng.choice(niche.brands) if sponsored else None
    # Some sponsored posts only carry the edge, some only the caption markers.
    marker_style = rng.choice(("both", "both", "edge", "caption")) if sponsored else "none"
    caption = None if rng.random() < spec.no_caption_share else _caption(spec, rng, sponsor, marker_style, index)
    likes = max(int(spec.followers * spec.engagement * rng.lognormvariate(0, spec.engagement_spread)), 0)
    if kind == "reel":
        likes = int(likes * 1.4)
    views = int(spec.followers * rng.uniform(0.15, 0.9)) if kind in ("reel", "video") else 0
    location = None
    if niche.places and rng.random() < 0.35:
        name = rng.choice(niche.places)
        slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
        location = (str(200_000_000 + rng.randrange(10**8)), name, slug)
    tagged = tuple(rng.sample(FRIENDS, rng.randint(1, 2))) if rng.random() < 0.25 else ()
    children: tuple[str, ...] = ()
    if kind == "carousel":
        children = tuple("video" if rng.random() < 0.15 else "image" for _ in range(rng.randint(2, 6)))
    return SamplePost(
        id=str(media_id),
        shortcode=shortcode(media_id),
        kind=kind,
        taken_at=taken_at,
        caption=caption,
        likes=likes,
        likes_hidden=rng.random() < spec.hidden_likes_share,
        comments=max(int(likes * rng.uniform(*spec.comments_per_like)), 0),
        views=views,
        video_duration=round(rng.uniform(7, 90), 3) if kind in ("reel", "video") else 0.0,
        pinned=False,
        sponsor=sponsor if marker_style in ("both", "edge") else None,
        tagged=tagged + ((sponsor,) if sponsor and marker_style != "caption" else ()),
        location=location,
        children=children,
    )


def _caption(spec: CreatorSpec, rng: random.Random, sponsor: str | None, marker_style: str, index: int) -> str:
    if spec.captions:
        return spec.captions[index % len(spec.captions)]
    niche = NICHES[spec.niche]
    sentences = LOCAL_SENTENCES.get(spec.language, {}).get(spec.niche, niche.sentences)
    parts = rng.sample(sentences, 2 if rng.random() < 0.4 else 1)
    if spec.emoji_heavy:
        parts = [f"{p} {''.join(rng.choices(niche.emoji, k=rng.randint(2, 5)))}" for p in parts]
        parts.insert(0, "".join(rng.choices(niche.emoji, k=rng.randint(3, 6))))
    elif rng.random() < 0.6:
        parts[-1] += " " + rng.choice(niche.emoji)
    if rng.random() < 0.3:
        parts.append(f"📸 @{rng.choice(FRIENDS)}")
    if sponsor and marker_style in ("both", "caption"):
        parts.append(PARTNERSHIP_LINES[spec.language].format(brand=sponsor))
    tags = rng.sample(niche.hashtags, rng.randint(2, min(7, len(niche.hashtags))))
    if sponsor and marker_style in ("both", "caption"):
        tags.insert(0, rng.choice(("ad", "sponsored", "partner")))
    return "\n".join(parts) + "\n\n" + " ".join(f"#{tag}" for tag in tags)


class Catalogue:
    """The creators by username and by user id, with their posts generated on first use."""

    def __init__(self, seed: int, now: datetime, specs: tuple[CreatorSpec, ...] = (*CREATORS, *NICHE_CREATORS)) -> None:
        self.seed = seed
        self.now = now
        self._by_name = {spec.username: spec for spec in specs}
        self._by_id = {user_id(spec, seed): spec for spec in specs}
        self._posts: dict[str, tuple[SamplePost, ...]] = {}

    @property
    def usernames(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def by_username(self, username: str) -> CreatorSpec | None:
        return self._by_name.get(username.lower())

    def by_user_id(self, uid: str) -> CreatorSpec | None:
        return self._by_id.get(uid)

    def user_id(self, spec: CreatorSpec) -> str:
        return user_id(spec, self.seed)

    def posts(self, spec: CreatorSpec) -> tuple[SamplePost, ...]:
        posts = self._posts.get(spec.username)
        if posts is None:
            posts = self._posts[spec.username] = generate_posts(spec, self.seed, self.now)
        return posts
