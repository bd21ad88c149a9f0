"""The sample creators' pictures: real JPEG bytes drawn with Pillow, deterministic per URL, cached in memory.

A URL path names the picture and its size (`/media/<username>/<key>_<w>x<h>.jpg`); the same path always gives the
same bytes. Pictures are a niche-coloured gradient with film-grain noise (so they compress like photos, not like flat
fills), a few shapes placed by a seeded generator, and the username as a caption strip.
"""

from __future__ import annotations

import io
import random
import threading
from collections import OrderedDict

from PIL import Image, ImageDraw

from fakes.instagram.niches import NICHES

MAX_SIDE = 2160
_FALLBACK_PALETTE = ((120, 120, 120), (30, 30, 30))


class ImageCache:
    """Least-recently-used cache of encoded JPEGs keyed by URL path. Thread-safe: rendering runs in a thread pool."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, path: str, username: str, niche: str | None, key: str, width: int, height: int) -> bytes:
        with self._lock:
            cached = self._items.get(path)
            if cached is not None:
                self._items.move_to_end(path)
                return cached
        data = render_jpeg(username, niche, key, width, height)
        with self._lock:
            self._items[path] = data
            while len(self._items) > self._entries:
                self._items.popitem(last=False)
        return data


def render_jpeg(username: str, niche: str | None, key: str, width: int, height: int) -> bytes:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"image size {width}x{height} is outside 1..{MAX_SIDE}")
    rng = random.Random(f"{username}/{key}/{width}x{height}")
    start, end = NICHES[niche].palette if niche in NICHES else _FALLBACK_PALETTE
    start = _shift(start, rng)
    end = _shift(end, rng)
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 45, 90, 135)), expand=False).resize((width, height))
    picture = Image.merge(
        "RGB",
        [gradient.point(lambda v, a=a, b=b: a + (b - a) * v // 255) for a, b in zip(start, end, strict=True)],
    )
    draw = ImageDraw.Draw(picture, "RGBA")
    for _ in range(rng.randint(3, 7)):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randint(max(width // 12, 2), max(width // 3, 3))
        colour = (*_shift(rng.choice((start, end)), rng), rng.randint(60, 160))
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        else:
            draw.rectangle((x - radius, y - radius // 2, x + radius, y + radius // 2), fill=colour)
    # Seeded grain (Pillow's effect_noise is not seedable): uniform bytes, softened, blended in lightly.
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    picture = Image.blend(picture, grain, 0.08)
    strip = max(height // 14, 10)
    draw = ImageDraw.Draw(picture, "RGBA")
    draw.rectangle((0, height - strip, width, height), fill=(0, 0, 0, 110))
    draw.text((strip // 2, height - strip + strip // 4), f"@{username}", fill=(255, 255, 255))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85, optimize=False, progressive=rng.random() < 0.5)
    return out.getvalue()


def _shift(colour: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, c + rng.randint(-30, 30))) for c in colour)
    return r, g, b
