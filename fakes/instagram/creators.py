"""The sample creators' specs: a fixed catalogue covering the niches, languages and edge cases the product meets.

Edge cases on purpose: `private.pia` is private, `empty.eddie` has no posts, `hidden.hana` hides every like count,
`gg.kenji` hides half of them, `glow.yuna`/`milo.the.pup`/`giulia.canta` write emoji-heavy captions, several accounts
pin posts, and es/pt/fr/de/it creators write in their language. `boost.brandon` buys followers (a spike on simulated
day 2, an audience that does not engage) and `pod.pauline` is in engagement pods (every post alike, comments flood
in). `shape` picks the JSON shape of the profile answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Shape = Literal["graphql", "v1"]


@dataclass(frozen=True, slots=True)
class CreatorSpec:
    username: str
    full_name: str
    niche: str
    followers: int
    following: int
    media_count: int
    category: str | None = None
    language: str = "en"
    verified: bool = False
    business: bool = True
    private: bool = False
    # Which JSON shape the profile endpoint answers in.
    shape: Shape = "graphql"
    # Posts the feed can page through (the account's media_count may be larger).
    posts_available: int = 60
    engagement: float = 0.035
    hidden_likes_share: float = 0.0
    pinned: int = 0
    sponsored_share: float = 0.1
    emoji_heavy: bool = False
    video_share: float = 0.1
    reel_share: float = 0.2
    carousel_share: float = 0.25
    no_caption_share: float = 0.04
    days_between_posts: float = 2.5
    external_url: str | None = None
    biography: str = ""
    # Growth over simulated time (timeline.py): followers compound by `daily_growth` a day; a bought-followers spike
    # adds `spike_followers` from simulated day `spike_day` on.
    daily_growth: float = 0.002
    spike_day: float | None = None
    spike_followers: int = 0
    # How much engagement varies between posts (sigma of a log-normal) and comments per like (uniform range):
    # engagement pods make every post alike and flood the comments.
    engagement_spread: float = 0.35
    comments_per_like: tuple[float, float] = (0.004, 0.04)
    # Captions written for this creator, newest first: post i carries captions[i] as is (niche_creators.py); empty:
    # captions are generated from the niche's sentences.
    captions: tuple[str, ...] = ()


CREATORS: tuple[CreatorSpec, ...] = (
    CreatorSpec(
        "fit.bayann",
        "Bayan N. | Fitness Coach",
        "fitness",
        1_412_388,
        612,
        1443,
        "Fitness Trainer",
        verified=True,
        pinned=2,
        engagement=0.028,
        sponsored_share=0.17,
        reel_share=0.35,
        external_url="https://bayann.fit",
        biography="Coach. Strength, mobility, no shortcuts.\nPrograms ⬇️",
    ),
    CreatorSpec(
        "chef.marco",
        "Marco Bellini",
        "food",
        823_410,
        903,
        978,
        "Chef",
        verified=True,
        pinned=1,
        external_url="https://marcocooks.example",
        biography="Italian home cooking in 15 minutes 🍝",
    ),
    CreatorSpec(
        "wander.lena",
        "Lena Hoffmann",
        "travel",
        312_775,
        1204,
        642,
        "Travel Blogger",
        shape="v1",
        carousel_share=0.45,
        biography="60 countries, one backpack ✈️",
    ),
    CreatorSpec(
        "techwithtariq",
        "Tariq Aziz",
        "tech",
        540_220,
        388,
        811,
        "Digital Creator",
        shape="v1",
        reel_share=0.55,
        video_share=0.15,
        sponsored_share=0.22,
        verified=True,
        biography="Honest tech reviews. No hype.",
    ),
    CreatorSpec(
        "private.pia", "Pia", "home", 12_408, 530, 214, None, business=False, private=True, biography="friends only 🌿"
    ),
    CreatorSpec(
        "empty.eddie",
        "Eddie",
        "art",
        231,
        180,
        0,
        None,
        business=False,
        posts_available=0,
        biography="nothing here yet",
    ),
    CreatorSpec(
        "style.amara",
        "Amara Okafor",
        "fashion",
        2_104_991,
        1020,
        2210,
        "Fashion Model",
        verified=True,
        carousel_share=0.5,
        sponsored_share=0.3,
        pinned=3,
        engagement=0.022,
    ),
    CreatorSpec(
        "gg.kenji",
        "Kenji Mori",
        "gaming",
        687_002,
        211,
        530,
        "Gamer",
        reel_share=0.6,
        hidden_likes_share=0.5,
        shape="v1",
    ),
    CreatorSpec("mama.noor", "Noor | Parenting", "parenting", 95_310, 640, 402, "Blogger", engagement=0.052),
    CreatorSpec("beats.theo", "Theo Lindqvist", "music", 430_115, 720, 388, "Musician/Band", reel_share=0.4),
    CreatorSpec(
        "glow.yuna",
        "Yuna ✨ Skincare",
        "beauty",
        1_130_540,
        455,
        1290,
        "Beauty, cosmetic & personal care",
        emoji_heavy=True,
        verified=True,
        sponsored_share=0.25,
        shape="v1",
    ),
    CreatorSpec("hidden.hana", "Hana", "beauty", 48_920, 312, 190, "Personal Blog", hidden_likes_share=1.0),
    CreatorSpec("milo.the.pup", "Milo the Pup", "pets", 256_003, 88, 731, "Pet", emoji_heavy=True),
    CreatorSpec("green.kai", "Kai Rivers", "home", 74_220, 810, 355, "Gardener", no_caption_share=0.2),
    CreatorSpec("money.maya", "Maya Chen", "finance", 188_400, 301, 420, "Entrepreneur", carousel_share=0.6),
    CreatorSpec("ines.paints", "Inês Duarte", "art", 22_870, 940, 260, "Artist", business=False),
    CreatorSpec(
        "cocina.sofia",
        "Sofía Ramírez",
        "food",
        402_118,
        522,
        690,
        "Chef",
        language="es",
        shape="v1",
        biography="Recetas caseras de España y México 🇪🇸🇲🇽",
    ),
    CreatorSpec(
        "joao.viaja",
        "João Pereira",
        "travel",
        133_540,
        870,
        501,
        "Travel Company",
        language="pt",
        biography="Viagens baratas e bonitas 🌍",
    ),
    CreatorSpec(
        "camille.mode",
        "Camille Laurent",
        "fashion",
        611_900,
        402,
        1105,
        "Fashion Designer",
        language="fr",
        sponsored_share=0.3,
        carousel_share=0.45,
        biography="Mode parisienne, tous les jours.",
    ),
    CreatorSpec(
        "jonas.laeuft",
        "Jonas Becker",
        "fitness",
        58_310,
        390,
        318,
        "Athlete",
        language="de",
        shape="v1",
        biography="Läufer. Marathon 2:38.",
    ),
    CreatorSpec(
        "giulia.canta",
        "Giulia Romano",
        "music",
        279_440,
        611,
        440,
        "Singer",
        language="it",
        emoji_heavy=True,
        biography="Cantautrice 🎶 Milano",
    ),
    CreatorSpec(
        "boost.brandon",
        "Brandon Vale",
        "fashion",
        182_000,
        1_204,
        212,
        "Entrepreneur",
        engagement=0.003,
        daily_growth=0.001,
        spike_day=2.0,
        spike_followers=140_000,
        biography="Living my best life ✨ DM for collabs",
    ),
    CreatorSpec(
        "pod.pauline",
        "Pauline Martin",
        "beauty",
        24_600,
        980,
        301,
        "Beauty, cosmetic & personal care",
        engagement=0.085,
        engagement_spread=0.03,
        comments_per_like=(0.16, 0.2),
        biography="Skincare that works 💧",
    ),
)


def creator_index() -> dict[str, CreatorSpec]:
    return {spec.username: spec for spec in CREATORS}
