"""Fixtures for the producer's unit tests: settings over temporary folders, pictures made
in code; the fakes of the S3 client and the Kafka producer come from tests.support.fakes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline_common.settings import ProducerKafkaSettings, S3Settings
from producer.settings import ProducerSettings
from tests.support.fakes import FakeImageBucket, FakeProducer


@pytest.fixture
def settings(tmp_path: Path) -> ProducerSettings:
    new_pics, frames = tmp_path / "new_pics", tmp_path / "frames"
    new_pics.mkdir()
    return ProducerSettings(
        s3=S3Settings(endpoint_url="http://s3.invalid", access_key="test", secret_key="test", bucket="bucket"),
        kafka=ProducerKafkaSettings(
            bootstrap_servers="kafka.invalid:9092", images_topic="images", username="test", password="test"
        ),
        new_pics_dir=new_pics,
        frames_dir=frames,
        max_side=256,
    )


def gradient(width: int = 96, height: int = 64) -> np.ndarray:
    """An RGB picture whose corners differ, so a rotation is visible."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 255 // width), (y * 255 // height), np.full_like(x, 40)], axis=-1).astype(np.uint8)


def jpeg_bytes(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **save)
    return buffer.getvalue()


@pytest.fixture
def pictures():
    """Picture helpers (test modules cannot import each other under importlib mode)."""

    class Pictures:
        pass

    kit = Pictures()
    kit.gradient = gradient
    kit.jpeg_bytes = jpeg_bytes
    return kit


@pytest.fixture
def fake_s3():
    return FakeImageBucket()


@pytest.fixture
def fake_producer():
    return FakeProducer
