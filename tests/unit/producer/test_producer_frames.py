"""Normalisation: whatever the picture's mode or orientation, the frame is upright 8-bit RGB."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from producer.frames import encode_jpeg, image_id, normalise


def reopen(image: Image.Image, fmt: str, **save) -> Image.Image:
    """What prepare sees: the picture after a round trip through a file."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    buffer.seek(0)
    opened = Image.open(buffer)
    opened.load()
    return opened


def test_exif_orientation_is_applied(pictures):
    stored = Image.fromarray(pictures.gradient(96, 64))  # top-right red, bottom-left green
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    opened = Image.open(io.BytesIO(pictures.jpeg_bytes(stored, exif=exif.tobytes(), quality=95)))

    upright = normalise(opened, max_side=1000)

    assert upright.size == (64, 96)
    red, green, _ = upright.getpixel((2, 2))  # the stored bottom-left corner
    assert green > 200 and red < 40
    red, green, _ = upright.getpixel((61, 93))  # the stored top-right corner
    assert red > 200 and green < 40


def _grey16() -> Image.Image:
    samples = np.zeros((32, 32), dtype=np.uint16)
    samples[:, 16:] = 65535
    samples[:, :16] = 32896  # 128 * 257
    return Image.fromarray(samples)


def _rgba() -> Image.Image:
    pixels = np.zeros((32, 32, 4), dtype=np.uint8)
    pixels[:, :16] = (200, 10, 10, 255)  # opaque red
    pixels[:, 16:] = (0, 0, 0, 0)  # fully transparent
    return Image.fromarray(pixels, "RGBA")


def _palette() -> Image.Image:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([200, 10, 10] + [0, 0, 0] * 255)
    image.paste(1, (16, 0, 32, 32))
    return image


def _palette_with_transparency() -> Image.Image:
    image = _palette()
    image.info["transparency"] = 1
    return image


# (made, file format, save options, expected left-half pixel, expected right-half pixel)
ODD_PICTURES = {
    "grayscale": (
        lambda: Image.fromarray(np.tile(np.array([60] * 16 + [220] * 16, np.uint8), (32, 1))),
        "PNG",
        {},
        (60, 60, 60),
        (220, 220, 220),
    ),
    "16-bit grey PNG": (_grey16, "PNG", {}, (128, 128, 128), (255, 255, 255)),
    "RGBA over white": (_rgba, "PNG", {}, (200, 10, 10), (255, 255, 255)),
    "grey + alpha": (lambda: _rgba().convert("LA"), "PNG", {}, None, (255, 255, 255)),
    "palette": (_palette, "PNG", {}, (200, 10, 10), (0, 0, 0)),
    "palette + transparency": (_palette_with_transparency, "PNG", {}, (200, 10, 10), (255, 255, 255)),
    "CMYK JPEG": (
        lambda: Image.new("CMYK", (32, 32), (0, 255, 255, 0)),
        "JPEG",
        {"quality": 95},
        (255, 0, 0),
        (255, 0, 0),
    ),
    "bilevel BMP": (
        lambda: Image.fromarray(np.tile(np.array([0] * 16 + [255] * 16, np.uint8), (32, 1))).convert("1"),
        "BMP",
        {},
        (0, 0, 0),
        (255, 255, 255),
    ),
    "WebP with alpha": (_rgba, "WEBP", {"lossless": True}, (200, 10, 10), (255, 255, 255)),
}


@pytest.mark.parametrize("name", ODD_PICTURES)
def test_odd_modes_become_rgb_with_the_right_colours(name):
    make, fmt, save, left, right = ODD_PICTURES[name]
    frame = normalise(reopen(make(), fmt, **save), max_side=1000)

    assert frame.mode == "RGB"
    assert frame.size == (32, 32)
    for expected, x in ((left, 4), (right, 28)):
        if expected is not None:
            assert np.allclose(frame.getpixel((x, 16)), expected, atol=6), (name, x, frame.getpixel((x, 16)))
    # and the frame encodes: that is what the detector will read
    assert Image.open(io.BytesIO(encode_jpeg(frame, 90))).mode == "RGB"


@pytest.mark.parametrize(
    "size, max_side, expected",
    [((2000, 1000), 256, (256, 128)), ((600, 1200), 300, (150, 300)), ((100, 50), 256, (100, 50))],
)
def test_longest_side_is_capped_and_never_enlarged(size, max_side, expected):
    frame = normalise(Image.new("RGB", size, (10, 20, 30)), max_side)
    assert frame.size == expected


def test_same_picture_gives_same_bytes_and_id(pictures):
    picture = Image.fromarray(pictures.gradient())
    first, second = encode_jpeg(picture, 90), encode_jpeg(picture.copy(), 90)
    assert first == second
    assert image_id(first) == hashlib.sha256(first).hexdigest()[:32]
    assert len(image_id(first)) == 32
    assert image_id(encode_jpeg(picture, 80)) != image_id(first)


def test_frames_carry_no_metadata(pictures):
    exif = Image.Exif()
    exif[0x0110] = "Secret camera model"
    picture = Image.open(io.BytesIO(pictures.jpeg_bytes(Image.fromarray(pictures.gradient()), exif=exif.tobytes())))
    frame_bytes = encode_jpeg(normalise(picture, 1000), 90)
    assert b"Secret camera model" not in frame_bytes
    assert not Image.open(io.BytesIO(frame_bytes)).getexif()


def test_encode_refuses_non_rgb():
    with pytest.raises(ValueError, match="RGB"):
        encode_jpeg(Image.new("L", (4, 4)), 90)
