"""Safe decoding: odd but valid images work, broken or oversized ones are refused."""

from __future__ import annotations

import io
import resource
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from consumer.decode import DecodeError, ImageTooLarge, decode_image

LIMIT = 40_000_000
RED_RGB = (220, 20, 20)


def red_square(mode: str = "RGB") -> Image.Image:
    return Image.new("RGB", (40, 30), RED_RGB).convert(mode)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def grey16_png() -> bytes:
    values = np.full((30, 40), 0xC800, dtype=np.uint16)  # 200 in the high byte
    return save(Image.fromarray(values), "PNG")


def rgb48_png() -> bytes:
    bgr16 = np.zeros((30, 40, 3), np.uint16)
    bgr16[..., 2] = 0xDC00  # red, in OpenCV's BGR order
    ok, data = cv2.imencode(".png", bgr16)
    assert ok
    return data.tobytes()


def cmyk_jpeg() -> bytes:
    return save(Image.new("CMYK", (40, 30), (0, 230, 230, 30)), "JPEG", quality=95)


def alpha_png() -> bytes:
    return save(Image.new("RGBA", (40, 30), (*RED_RGB, 128)), "PNG")


def palette_png() -> bytes:
    return save(red_square().convert("P", palette=Image.Palette.ADAPTIVE), "PNG")


ODD_BUT_VALID = {
    "rgb jpeg": lambda: save(red_square(), "JPEG", quality=95),
    "grayscale jpeg": lambda: save(red_square("L"), "JPEG"),
    "grayscale png": lambda: save(red_square("L"), "PNG"),
    "grayscale+alpha png": lambda: save(red_square("LA"), "PNG"),
    "rgba png": alpha_png,
    "palette png": palette_png,
    "1-bit png": lambda: save(red_square("1"), "PNG"),
    "16-bit grayscale png": grey16_png,
    "48-bit rgb png": rgb48_png,
    "cmyk jpeg": cmyk_jpeg,
    "webp": lambda: save(red_square(), "WEBP", lossless=True),
    "bmp": lambda: save(red_square(), "BMP"),
    "tiff": lambda: save(red_square(), "TIFF"),
    "gif": lambda: save(red_square(), "GIF"),
}


@pytest.mark.parametrize("kind", sorted(ODD_BUT_VALID))
def test_odd_formats_become_8bit_bgr(kind):
    image = decode_image(ODD_BUT_VALID[kind](), LIMIT)

    assert image.dtype == np.uint8
    assert image.shape == (30, 40, 3)
    assert image.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("kind", ["rgb jpeg", "rgba png", "palette png", "48-bit rgb png", "webp", "cmyk jpeg"])
def test_colour_images_keep_their_colour_in_bgr_order(kind):
    blue, green, red = decode_image(ODD_BUT_VALID[kind](), LIMIT)[15, 20].astype(int)

    assert red > 150 and green < 80 and blue < 80


def test_16bit_grayscale_is_scaled_not_clipped():
    pixel = decode_image(grey16_png(), LIMIT)[0, 0]

    assert pixel.tolist() == [200, 200, 200]


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    data = save(red_square(), "JPEG", exif=exif.tobytes())

    assert decode_image(data, LIMIT).shape == (40, 30, 3)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "zero-byte"),
        (b"this is not an image at all", "not an image"),
        (b"%PDF-1.7\n" + b"\0" * 100, "not an image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),  # EPS is not allowed
    ],
)
def test_non_images_are_refused(data, message):
    with pytest.raises(DecodeError, match=message):
        decode_image(data, LIMIT)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(fmt):
    whole = save(Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)), fmt)

    with pytest.raises(DecodeError, match="truncated|cannot decode"):
        decode_image(whole[: len(whole) // 2], LIMIT)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size, followed by one row's worth of data."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to claim another size."""
    data = bytearray(save(red_square(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        png_claiming(60_000, 60_000),
        jpeg_claiming(65_000, 65_000),
        png_claiming(8_000, 6_000),
        jpeg_claiming(8_000, 6_000),
    ],
    ids=["png-bomb", "jpeg-bomb", "png-over-limit", "jpeg-over-limit"],
)
def test_huge_dimensions_are_refused_from_the_header_without_allocating(data):
    # 48 M to 4.2 G pixels (0.1-12 GB decoded); the files hold almost no pixel data, so
    # only the header check can say ImageTooLarge (decoding would say "truncated")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageTooLarge, match="too large|over the limit"):
        decode_image(data, LIMIT)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before

    assert grown_kb < 50_000


def test_pixel_limit_is_configurable():
    data = save(red_square(), "PNG")  # 40 x 30 = 1200 pixels

    assert decode_image(data, 1200).shape == (30, 40, 3)
    with pytest.raises(ImageTooLarge, match="1200 pixels is over the limit of 1199"):
        decode_image(data, 1199)
