"""What the models see of a caption (pure, no I/O, no gRPC: the model build uses it too): whether a text has
anything to analyse, sentiment-bearing emoji spelled out for MiniLM, and the caption cleaned for language
identification.
"""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[\w.]+")
_SPACES = re.compile(r"\s+")
# MiniLM's vocabulary maps emoji to [UNK]; these carry the sentiment of many captions, so they are spelled out.
EMOJI_WORDS = {
    "😍": "love",
    "🥰": "love",
    "❤️": "love",
    "❤": "love",
    "🤍": "love",
    "🖤": "love",
    "💕": "love",
    "😂": "haha",
    "🤣": "haha",
    "🔥": "amazing",
    "💪": "strong",
    "🙌": "yay",
    "🎉": "celebrate",
    "🏆": "win",
    "🤤": "delicious",
    "😭": "crying",
    "😢": "sad",
    "😡": "angry",
    "🤬": "angry",
    "👎": "bad",
    "👍": "good",
    "😊": "happy",
    "😄": "happy",
    "😃": "happy",
    "😁": "happy",
    "🥳": "celebrate",
    "🥹": "touched",
    "🙏": "grateful",
    "👏": "bravo",
    "💯": "perfect",
    "👌": "perfect",
    "🤩": "amazing",
    "😋": "yummy",
    "😘": "love",
    "🧡": "love",
    "💛": "love",
    "💚": "love",
    "💙": "love",
    "💜": "love",
    "💖": "love",
    "💗": "love",
    "😎": "cool",
    # Complaint and eye-roll emoji: they often turn a positive-sounding caption sarcastic.
    "🙃": "ugh",
    "🙄": "annoyed",
    "😒": "annoyed",
    "😑": "unimpressed",
    "😩": "exhausted",
    "😫": "exhausted",
    "😤": "frustrated",
    "😞": "disappointed",
    "😔": "sad",
    "🙁": "sad",
    "☹️": "sad",
    "☹": "sad",
    "😖": "miserable",
    "💔": "heartbroken",
    "🤢": "disgusting",
    "🤮": "disgusting",
    "😠": "angry",
    "💀": "dead",
    "🥵": "too hot",
    "🥶": "freezing",
    "🤒": "sick",
    "😷": "sick",
    "😓": "stressed",
    "😰": "anxious",
    "😱": "shocked",
    "😬": "awkward",
    "😅": "awkward",
    "🤦": "facepalm",
}
_EMOJI = re.compile("|".join(re.escape(e) for e in sorted(EMOJI_WORDS, key=len, reverse=True)))


def has_text(text: str) -> bool:
    """Whether a text has a letter in any script; emoji, digits and punctuation alone are not text."""
    return any(char.isalpha() for char in text)


def model_text(text: str) -> str:
    """What the sentiment and category models see: sentiment-bearing emoji as words, whitespace collapsed."""
    return _SPACES.sub(" ", _EMOJI.sub(lambda m: f" {EMOJI_WORDS[m.group(0)]} ", text)).strip()


def language_text(text: str) -> str:
    """What the language identifier sees: no links, no @mentions, no '#' (hashtag words stay)."""
    return _SPACES.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text)).replace("#", " ")).strip()
