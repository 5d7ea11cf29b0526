"""Fixtures for the consumer's unit tests: the offline model on real photos from the
Debian darknet package, images made in code; the fakes of S3 and Kafka come from
tests.support.fakes."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consumer.detector import Detector, DetectorConfig
from consumer.models import resolve_model_files
from consumer.settings import DEFAULT_MODELS_DIR
from pipeline_common.contracts import ImageAnnouncement
from tests.support import records
from tests.support.fakes import FakeDetector, FakeMessage, FakeS3, client_error

DARKNET_PHOTOS = Path("/usr/share/darknet/data")
BUCKET = "bucket"


@pytest.fixture(scope="session")
def photos() -> Path:
    if not (DARKNET_PHOTOS / "dog.jpg").is_file():
        pytest.fail(f"{DARKNET_PHOTOS} is missing: install the Debian package darknet (make setup)", pytrace=False)
    return DARKNET_PHOTOS


@pytest.fixture(scope="session")
def detector() -> Detector:
    files = resolve_model_files("yolov4-tiny", DEFAULT_MODELS_DIR)
    return Detector.load(files, DetectorConfig(input_size=416, confidence_threshold=0.25, nms_threshold=0.45))


def encode(image: Image.Image, fmt: str = "JPEG", **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def photo_like(width: int = 64, height: int = 48) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def announcement(image_id: str = "ab" * 16, key: str | None = None, bucket: str = BUCKET) -> ImageAnnouncement:
    return records.announcement(image_id, bucket, key=key, moment=datetime(2025, 4, 14, 12, 30, tzinfo=timezone.utc))


@pytest.fixture
def kit():
    """The helpers above and the shared fakes, in one place for the consumer's tests."""
    from types import SimpleNamespace

    return SimpleNamespace(
        BUCKET=BUCKET,
        encode=encode,
        photo_like=photo_like,
        announcement=announcement,
        client_error=client_error,
        FakeS3=FakeS3,
        FakeDetector=FakeDetector,
        FakeMessage=FakeMessage,
    )
