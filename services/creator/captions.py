"""What a caption says about a post: its hashtags, its mentions and whether it declares a paid partnership."""

from __future__ import annotations

import re

# Instagram hashtags are letters (any script), digits and '_'; mentions follow the username rules.
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)", re.UNICODE)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9._]{1,30})")
_SPONSOR_TAGS = frozenset({"ad", "ads", "sponsored", "partner", "paidpartnership", "advertisement", "anzeige"})
_SPONSOR_PHRASE = re.compile(r"paid\s+partnership", re.IGNORECASE)


def hashtags(caption: str | None) -> list[str]:
    """Lower-case hashtags without '#', in order of first use, each once."""
    if not caption:
        return []
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(caption)))


def mentions(caption: str | None) -> list[str]:
    """Lower-case mentioned usernames without '@', in order of first use, each once."""
    if not caption:
        return []
    return list(dict.fromkeys(name.rstrip(".").lower() for name in _MENTION.findall(caption) if name.rstrip(".")))


def is_sponsored(caption: str | None, sponsors: tuple[str, ...] | list[str]) -> bool:
    """A paid partnership: the sponsor edge, '#ad', '#sponsored', '#partner' or 'paid partnership' in the caption."""
    if sponsors:
        return True
    if not caption:
        return False
    if _SPONSOR_PHRASE.search(caption):
        return True
    return any(tag in _SPONSOR_TAGS for tag in hashtags(caption))
