"""Image bytes -> 8-bit BGR array, safely.

The image's dimensions are read from its header and checked against a pixel limit
before any pixel memory is allocated, so a small file that claims to be 60000 x 60000
(a decompression bomb) is refused cheaply. Truncated files are errors, not grey
padding. Odd but valid images (grayscale, palette, alpha, 16-bit, CMYK) are converted
to 8-bit BGR, the layout OpenCV's DNN expects.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Formats a camera or the producer may plausibly send; anything else (EPS, which would
# call Ghostscript, or exotic formats with little-tested decoders) is refused.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")


class DecodeError(ValueError):
    """The bytes are not an image this consumer can decode."""


class ImageTooLarge(DecodeError):
    """The header announces more pixels than the configured limit."""


def _describe_start(data: bytes) -> str:
    return data[:12].hex(" ")


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode `data` into a contiguous uint8 array of shape (height, width, 3), BGR."""
    if not data:
        raise DecodeError("zero-byte object: there is no image to decode")
    try:
        # Pillow itself refuses beyond 2 x Image.MAX_IMAGE_PIXELS (~179 M pixels);
        # the configurable limit below is normally much lower.
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise DecodeError(
            f"not an image in a supported format ({', '.join(ALLOWED_FORMATS)}); "
            f"{len(data)} bytes starting {_describe_start(data)}"
        ) from None
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"image too large to decode safely: {error}") from None
    except Exception as error:  # malformed headers surface as struct.error, IndexError, ...
        raise DecodeError(f"unreadable image header: {type(error).__name__}: {error}") from None

    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise DecodeError(f"image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"{image.format} image of {width}x{height} = {width * height} pixels is over "
                f"the limit of {max_pixels} pixels (CONSUMER_MAX_IMAGE_PIXELS)"
            )
        try:
            image.load()
            # a photo's EXIF orientation says which way is up; boxes refer to that view
            upright = ImageOps.exif_transpose(image)
            return to_bgr(upright)
        except DecodeError:
            raise
        except Exception as error:
            # Pillow raises OSError("image file is truncated ...") for cut-off files, and
            # corrupt data in odd ways (struct.error, IndexError, ...): all mean "bad input"
            raise DecodeError(
                f"cannot decode {image.format} image ({width}x{height}): {type(error).__name__}: {error}"
            ) from None


def to_bgr(image: Image.Image) -> np.ndarray:
    """A loaded Pillow image in any mode -> contiguous uint8 BGR array."""
    mode = image.mode
    if mode == "RGB":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    if mode == "L":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_GRAY2BGR)
    if mode.startswith("I;16"):
        # 16-bit grayscale: keep the high byte (Pillow's convert would clip at 255)
        gray = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if mode == "I":
        values = np.asarray(image)
        if values.max(initial=0) > 255:  # 16-bit data held in 32-bit integers
            values = np.clip(values, 0, 65535) >> 8
        gray = np.clip(values, 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        if values.max(initial=0.0) <= 1.0:  # floats in [0, 1]
            values = values * 255.0
        gray = np.clip(values, 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    # palette, alpha (dropped), CMYK, YCbCr, LAB, 1-bit, ...: Pillow knows them all
    try:
        rgb = image.convert("RGB")
    except (ValueError, OSError) as error:
        raise DecodeError(f"unsupported pixel mode {mode!r}: {error}") from None
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)
