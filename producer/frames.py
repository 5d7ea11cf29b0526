"""Pure image normalisation: any decodable picture -> upright 8-bit RGB JPEG bytes.

Every frame the pipeline sees went through `normalise` and `encode_jpeg`, so the
detector never meets CMYK, alpha, 16-bit samples or a sideways EXIF orientation.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp"})
# Transparent pixels are laid over white: a detector sees what a viewer would see.
BACKGROUND = (255, 255, 255)


def image_id(jpeg_bytes: bytes) -> str:
    """The pipeline-wide id of a frame: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(jpeg_bytes).hexdigest()[:32]


def normalise(image: Image.Image, max_side: int) -> Image.Image:
    """Upright, RGB, longest side at most `max_side`; the input is not modified."""
    upright = ImageOps.exif_transpose(image)
    rgb = to_rgb(upright)
    if max(rgb.size) > max_side:
        rgb = rgb.copy()
        # thumbnail keeps the aspect ratio and only ever shrinks
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        return Image.fromarray(_to_uint8(np.asarray(image), mode)).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "LA" or mode == "PA":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "RGBa"}:
        background = Image.new("RGB", image.size, BACKGROUND)
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    # L, 1, P, CMYK, YCbCr, LAB, HSV: Pillow's own conversions are right for these
    return image.convert("RGB")


def _to_uint8(samples: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        finite = np.nan_to_num(samples.astype(np.float64))
        low, high = float(finite.min()), float(finite.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        return ((finite - low) * scale).round().astype(np.uint8)
    # 16-bit (and 32-bit integer) grey: 16-bit range mapped linearly to 8 bits
    wide = samples.astype(np.int64)
    return (np.clip(wide, 0, 65535) // 257).astype(np.uint8)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG without metadata: the same picture always gives the same bytes,
    so its `image_id` is stable across runs."""
    if image.mode != "RGB":
        raise ValueError(f"encode_jpeg expects an RGB image, got mode {image.mode}")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
