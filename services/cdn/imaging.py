"""Image processing with Pillow, pure and synchronous (the worker runs it in a thread): verify, guard against
decompression bombs, apply EXIF orientation, drop every bit of metadata, normalise any mode to RGB/RGBA, take the first
frame of animations, and encode each configured width as WebP with a JPEG fallback.

Object keys are derived from the source bytes' SHA-256, so an identical image is stored once whatever its URL.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from services.cdn.jobs import PermanentFailure

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
CONTENT_TYPES = {"webp": "image/webp", "jpeg": "image/jpeg"}
ImageFile.LOAD_TRUNCATED_IMAGES = False


class BadImage(PermanentFailure):
    """The bytes are not an image we can process safely."""


@dataclass(frozen=True)
class ImagePolicy:
    max_pixels: int
    max_side: int
    webp_quality: int
    jpeg_quality: int


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    format: str
    data: bytes
    key: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def render(data: bytes, widths: tuple[int, ...], policy: ImagePolicy) -> list[Rendition]:
    """Every rendition of `data` (WebP and JPEG per width, smallest first). Raises BadImage."""
    digest = hashlib.sha256(data).hexdigest()
    image = _open_checked(data, policy)
    targets = _target_widths(image.size[0], widths)
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when even the largest rendition is that much smaller.
        largest = max(targets)
        image.draft("RGB", (largest, max(1, round(image.size[1] * largest / image.size[0]))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"cannot decode image: {exc}") from exc
    image = _normalised(image)
    image.info = {}
    out: list[Rendition] = []
    source_width = image.size[0]
    for width in _target_widths(source_width, widths):
        height = max(1, round(image.size[1] * width / source_width))
        resized = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)
        for fmt in ("webp", "jpeg"):
            encoded = _encode(resized, fmt, policy)
            out.append(Rendition(width, height, fmt, encoded, f"{digest[:2]}/{digest}/{width}.{fmt}"))
    return out


def _open_checked(data: bytes, policy: ImagePolicy) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            probe.verify()
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"not a safe image: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"corrupt image: {exc}") from exc
    if image.format not in ACCEPTED_FORMATS:
        raise BadImage(f"format {image.format} is not accepted")
    width, height = image.size
    if width < 1 or height < 1 or max(width, height) > policy.max_side:
        raise BadImage(f"dimensions {width}x{height} exceed the {policy.max_side}-pixel side limit")
    if width * height > policy.max_pixels:
        raise BadImage(f"{width}x{height} exceeds the {policy.max_pixels}-pixel limit (decompression bomb guard)")
    return image


def _target_widths(source_width: int, widths: tuple[int, ...]) -> list[int]:
    """The configured widths, never upscaled: widths above the source collapse into the source width."""
    return sorted({min(w, source_width) for w in widths})


def _normalised(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency; colours converted through the embedded ICC profile if any."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit samples: scale to 8 bits instead of clipping everything above 255 to white.
        image = image.convert("I").point(_to_8_bits).convert("L")
    elif mode == "F":
        image = image.convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            image = converted if converted is not None else image.convert("RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            image = image.convert("RGB")
    target = "RGBA" if has_alpha else "RGB"
    return image if image.mode == target else image.convert(target)


def _to_8_bits(value: float) -> float:
    return value / 256


def _encode(image: Image.Image, fmt: str, policy: ImagePolicy) -> bytes:
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=policy.webp_quality, method=4)
    else:
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(buffer, "JPEG", quality=policy.jpeg_quality, optimize=False, progressive=True)
    return buffer.getvalue()
