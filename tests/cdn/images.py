"""Real image bytes made with Pillow for the CDN tests, one function per case."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms


def jpeg(width: int = 800, height: int = 600, color: tuple[int, int, int] = (200, 30, 30), **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def patterned_jpeg(seed: int, width: int = 1080, height: int = 1350) -> bytes:
    """A photo-like JPEG whose bytes differ per seed (distinct content hash)."""
    image = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    image.paste((seed * 37 % 256, seed * 91 % 256, seed * 13 % 256), (0, 0, 64 + seed % 64, 64))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = patterned_jpeg(1, 400, 400)
    return data[: len(data) // 2]


def png_bomb(side: int = 10_000) -> bytes:
    """A tiny PNG that declares side x side pixels (all zeros compress to almost nothing)."""
    row = b"\x00" + b"\x00" * side
    raw = zlib.compress(row * side, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def huge_dimensions_gif() -> bytes:
    """A valid GIF header declaring 65535 x 2 pixels: within the pixel budget, beyond the side limit."""
    buffer = io.BytesIO()
    Image.new("P", (65535, 2)).save(buffer, "GIF")
    return buffer.getvalue()


def svg() -> bytes:
    return b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


def cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    # Pure cyan in CMYK.
    Image.new("CMYK", (300, 200), (255, 0, 0, 0)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def png_16bit_gray(value: int = 32768) -> bytes:
    buffer = io.BytesIO()
    Image.new("I;16", (200, 100), value).save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (120, 80), i) for i in (10, 200, 90)]
    for frame, rgb in zip(frames, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], strict=True):
        frame.putpalette([*rgb] * 256)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    """Stored 400x200 (left half red, right half blue) with orientation 6 (display rotated 90° clockwise), plus a GPS
    tag, an ICC profile and a comment that must all be stripped."""
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, icc_profile=icc, comment=b"private", quality=95)
    return buffer.getvalue()


def rgba_png() -> bytes:
    image = Image.new("RGBA", (200, 200), (0, 128, 0, 0))
    image.paste((0, 128, 0, 255), (50, 50, 150, 150))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
