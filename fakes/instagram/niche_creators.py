"""The labelled niche creators: a set for judging discovery, each creator with a niche label, a biography and twelve
captions written for it (`niche_creators.json`).

Niches sit side by side on purpose (home baking next to vegan cooking; each niche next to a broader sample creator of
its theme), so lookalikes and topic search have neighbours to confuse. The fake serves these creators like the others:
twelve posts, newest first, each carrying one written caption as is (no generated hashtags, no sponsor lines), so the
recent captions the creator service analyses are exactly the ones written here. `theme` picks the sample niche
(niches.py) their pictures and places come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fakes.instagram.creators import CreatorSpec
from fakes.instagram.niches import NICHES

DATA_FILE = Path(__file__).with_name("niche_creators.json")


@dataclass(frozen=True, slots=True)
class LabelledNiche:
    name: str
    about: str
    theme: str  # a key of niches.NICHES


@dataclass(frozen=True, slots=True)
class LabelledCreator:
    username: str
    niche: str  # a LabelledNiche.name
    biography: str
    captions: tuple[str, ...]  # newest first


@dataclass(frozen=True, slots=True)
class LabelledSet:
    niches: dict[str, LabelledNiche]
    creators: tuple[LabelledCreator, ...]
    specs: tuple[CreatorSpec, ...]


def load(path: Path = DATA_FILE) -> LabelledSet:
    """The labelled set and the creator specs the fake serves; a creator naming an unknown niche or theme fails."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    niches = {
        name: LabelledNiche(name, str(entry["about"]), str(entry["theme"])) for name, entry in raw["niches"].items()
    }
    creators, specs = [], []
    for row in raw["creators"]:
        niche = niches.get(row["niche"])
        if niche is None or niche.theme not in NICHES:
            raise ValueError(f"{path}: {row['username']} has niche {row['niche']!r} with no known theme")
        captions = tuple(str(caption) for caption in row["captions"])
        creators.append(LabelledCreator(row["username"], niche.name, row["biography"], captions))
        specs.append(
            CreatorSpec(
                row["username"],
                row["full_name"],
                niche.theme,
                int(row["followers"]),
                int(row.get("following", 400)),
                int(row.get("media_count", 180)),
                row.get("category"),
                biography=row["biography"],
                captions=captions,
                posts_available=len(captions),
                sponsored_share=0.0,
                no_caption_share=0.0,
            )
        )
    return LabelledSet(niches, tuple(creators), tuple(specs))


LABELLED = load()
NICHE_CREATORS: tuple[CreatorSpec, ...] = LABELLED.specs
