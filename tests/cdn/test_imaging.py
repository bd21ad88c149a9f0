"""Pillow processing on real image bytes: every bad input is refused, every odd mode comes out right."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.cdn.imaging import BadImage, ImagePolicy, render
from tests.cdn import images

POLICY = ImagePolicy(max_pixels=40_000_000, max_side=12_000, webp_quality=80, jpeg_quality=85)
POST = (320, 640, 1080)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_post_gets_webp_and_jpeg_at_each_width_keeping_the_aspect_ratio() -> None:
    out = render(images.patterned_jpeg(1), POST, POLICY)
    assert [(r.width, r.height, r.format) for r in out] == [
        (320, 400, "webp"), (320, 400, "jpeg"), (640, 800, "webp"), (640, 800, "jpeg"),
        (1080, 1350, "webp"), (1080, 1350, "jpeg"),
    ]  # fmt: skip
    for r in out:
        image = decoded(r.data)
        assert image.format == r.format.upper()
        assert image.size == (r.width, r.height)


def test_small_images_are_never_upscaled() -> None:
    out = render(images.jpeg(500, 250), POST, POLICY)
    assert sorted({(r.width, r.height) for r in out}) == [(320, 160), (500, 250)]


def test_identical_bytes_get_identical_content_addressed_keys() -> None:
    a = render(images.patterned_jpeg(2), (150,), POLICY)
    b = render(images.patterned_jpeg(2), (150,), POLICY)
    c = render(images.patterned_jpeg(3), (150,), POLICY)
    assert [r.key for r in a] == [r.key for r in b]
    assert {r.key for r in a}.isdisjoint(r.key for r in c)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (images.truncated_jpeg(), "truncated"),
        (images.png_bomb(), "bomb"),
        (b"this is not an image at all" * 10, "not an image"),
        (images.svg(), "svg"),
        (images.huge_dimensions_gif(), "huge dimensions"),
    ],
)
def test_bad_images_are_refused_as_permanent_failures(data: bytes, reason: str) -> None:
    with pytest.raises(BadImage) as info:
        render(data, POST, POLICY)
    assert info.value.permanent, reason


def test_pixel_budget_refuses_images_over_the_limit_before_decoding() -> None:
    with pytest.raises(BadImage, match="pixel limit"):
        render(images.jpeg(3000, 3000), POST, ImagePolicy(1_000_000, 12_000, 80, 85))


def test_cmyk_comes_out_as_rgb_with_the_right_colour() -> None:
    out = render(images.cmyk_jpeg(), (150,), POLICY)
    image = decoded(next(r.data for r in out if r.format == "jpeg"))
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((75, 50))  # type: ignore[misc]
    assert red < 60 and green > 150 and blue > 180  # cyan, not inverted


def test_16_bit_png_is_scaled_to_8_bits_not_clipped_to_white() -> None:
    out = render(images.png_16bit_gray(32768), (150,), POLICY)
    image = decoded(next(r.data for r in out if r.format == "webp")).convert("RGB")
    red, green, blue = image.getpixel((10, 10))  # type: ignore[misc]
    assert 115 <= red <= 140 and abs(red - green) < 4 and abs(red - blue) < 4


def test_animated_gif_becomes_its_first_frame() -> None:
    out = render(images.animated_gif(), (150,), POLICY)
    for r in out:
        image = decoded(r.data)
        assert getattr(image, "n_frames", 1) == 1
        red, green, blue = image.convert("RGB").getpixel((5, 5))  # type: ignore[misc]
        assert red > 200 and green < 40 and blue < 40


def test_exif_orientation_is_applied_then_every_bit_of_metadata_is_stripped() -> None:
    out = render(images.exif_rotated_jpeg(), (1080,), POLICY)
    for r in out:
        assert (r.width, r.height) == (200, 400)
        image = decoded(r.data)
        assert not image.getexif()
        assert "icc_profile" not in image.info and "exif" not in image.info and "comment" not in image.info
        assert b"SecretCam" not in r.data and b"private" not in r.data
        rgb = image.convert("RGB")
        top, bottom = rgb.getpixel((100, 20)), rgb.getpixel((100, 380))
        assert top[0] > 200 and top[2] < 60  # type: ignore[index]  # red half now on top
        assert bottom[2] > 200 and bottom[0] < 60  # type: ignore[index]


def test_transparency_survives_in_webp_and_is_flattened_on_white_in_jpeg() -> None:
    out = render(images.rgba_png(), (150,), POLICY)
    webp = decoded(next(r.data for r in out if r.format == "webp"))
    jpeg = decoded(next(r.data for r in out if r.format == "jpeg"))
    assert webp.mode == "RGBA" and webp.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert jpeg.mode == "RGB" and min(jpeg.getpixel((2, 2))) > 240  # type: ignore[arg-type]
