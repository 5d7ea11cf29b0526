"""Fixtures for the consumer's unit tests: the offline model on real photos from the
Debian darknet package, images made in code, and simple fakes of S3 and Kafka."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from consumer.detector import Blob, Detector, DetectorConfig, Detections
from consumer.models import resolve_model_files
from consumer.settings import DEFAULT_MODELS_DIR
from pipeline_common.contracts import ImageAnnouncement, ModelInfo

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
    moment = datetime(2025, 4, 14, 12, 30, tzinfo=timezone.utc)
    return ImageAnnouncement(
        image_id=image_id,
        image_path=f"s3://{bucket}/{key or f'images/{image_id}.jpg'}",
        source="camera-1",
        captured_at=moment,
        uploaded_at=moment,
        size_bytes=100,
        width=64,
        height=48,
    )


class FakeBody:
    def __init__(self, data: bytes, short_by: int = 0):
        self._data = data[: len(data) - short_by] if short_by else data
        self.closed = False

    def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        self.closed = True


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


@dataclass
class FakeS3:
    """In-memory S3 with optional scripted failures per call."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    puts: list[tuple[str, str, bytes]] = field(default_factory=list)
    short_read_by: int = 0

    def get_object(self, Bucket: str, Key: str):
        if self.failures:
            raise self.failures.pop(0)
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", 404)
        data = self.objects[(Bucket, Key)]
        return {"ContentLength": len(data), "Body": FakeBody(data, self.short_read_by)}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str):
        if self.failures:
            raise self.failures.pop(0)
        self.objects[(Bucket, Key)] = Body
        self.puts.append((Bucket, Key, Body))
        return {"ETag": '"x"'}


class FakeDetector:
    """Finds one 'dog' covering the top-left quarter of any image."""

    model_info = ModelInfo(name="fake-yolo", input_size=416, confidence_threshold=0.25, nms_threshold=0.45)

    def __init__(self, fail_with: Exception | None = None):
        self.fail_with = fail_with
        self.calls = 0

    def prepare(self, image: np.ndarray) -> Blob:
        height, width = image.shape[:2]
        return Blob(image, width, height)

    def infer(self, blob: Blob) -> Detections:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return Detections(
            boxes=[[0, 0, max(1, blob.width // 2), max(1, blob.height // 2)]], scores=[0.9], class_ids=[16],
            labels=("dog",),
        )

    def detect(self, image: np.ndarray) -> Detections:
        return self.infer(self.prepare(image))


class FakeMessage:
    def __init__(self, value: bytes | None, offset: int, partition: int = 0, topic: str = "images", key: bytes | None = None, error=None):
        self._value, self._offset, self._partition, self._topic, self._key, self._error = (
            value, offset, partition, topic, key, error,
        )

    def value(self):
        return self._value

    def key(self):
        return self._key

    def offset(self):
        return self._offset

    def partition(self):
        return self._partition

    def topic(self):
        return self._topic

    def timestamp(self):
        return (1, 1_700_000_000_000)

    def error(self):
        return self._error


@pytest.fixture
def kit():
    """The helpers above, for test modules (which cannot import conftest directly)."""
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
