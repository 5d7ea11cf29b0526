"""Fixtures for the producer's unit tests: settings over temporary folders, pictures made
in code, and simple fakes of the S3 client and the Kafka producer."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from pipeline_common.settings import ProducerKafkaSettings, S3Settings
from producer.settings import ProducerSettings


@pytest.fixture
def settings(tmp_path: Path) -> ProducerSettings:
    new_pics, frames = tmp_path / "new_pics", tmp_path / "frames"
    new_pics.mkdir()
    return ProducerSettings(
        s3=S3Settings(endpoint_url="http://s3.invalid", access_key="test", secret_key="test", bucket="bucket"),
        kafka=ProducerKafkaSettings(bootstrap_servers="kafka.invalid:9092", images_topic="images",
                                    username="test", password="test"),
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
    return FakeS3()


@pytest.fixture
def fake_producer():
    return FakeProducer


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeS3:
    """The handful of boto3 S3 calls the producer makes, over a dict."""

    def __init__(self, bucket: str = "bucket"):
        self.bucket = bucket
        self.objects: dict[str, dict] = {}
        self.puts: list[str] = []
        self.fail_puts_with: Exception | None = None

    def head_bucket(self, Bucket):
        if Bucket != self.bucket:
            raise client_error("404", "HeadBucket")

    def head_object(self, Bucket, Key):
        if Key not in self.objects:
            raise client_error("404", "HeadObject")
        item = self.objects[Key]
        return {"ContentLength": len(item["Body"]), "LastModified": item["LastModified"], "Metadata": item["Metadata"]}

    def put_object(self, Bucket, Key, Body, ContentType="", Metadata=None):
        if self.fail_puts_with is not None:
            raise self.fail_puts_with
        self.puts.append(Key)
        self.objects[Key] = {
            "Body": bytes(Body),
            "LastModified": datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "Metadata": dict(Metadata or {}),
        }

    def get_object(self, Bucket, Key):
        return {"Body": io.BytesIO(self.objects[Key]["Body"])}

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket, Prefix):
                keys = sorted(k for k in objects if k.startswith(Prefix))
                # two pages, as S3 would send for a long listing
                half = len(keys) // 2
                for chunk in (keys[:half], keys[half:]):
                    yield {"Contents": [{"Key": k} for k in chunk]}

        return Paginator()


class FakeMessage:
    def __init__(self, topic, key, value, partition, offset):
        self._topic, self._key, self._value = topic, key, value
        self._partition, self._offset = partition, offset

    def key(self):
        return self._key

    def value(self):
        return self._value

    def partition(self):
        return self._partition

    def offset(self):
        return self._offset


class FakeProducer:
    """Queues messages like librdkafka and reports them from poll()/flush().

    `fail_with`: an error reported for every message (broker down).
    `stall`: never report anything (flush times out).
    `buffer_limit`: produce() raises BufferError while that many are queued."""

    def __init__(self, fail_with=None, stall=False, buffer_limit=None):
        self.fail_with = fail_with
        self.stall = stall
        self.buffer_limit = buffer_limit
        self.queued: list[tuple[FakeMessage, object]] = []
        self.delivered: list[FakeMessage] = []
        self.buffer_errors = 0

    def produce(self, topic, key=None, value=None, on_delivery=None):
        if self.buffer_limit is not None and len(self.queued) >= self.buffer_limit:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        message = FakeMessage(topic, key, value, partition=len(self.delivered) % 3, offset=len(self.delivered))
        self.queued.append((message, on_delivery))

    def poll(self, timeout=0):
        # acknowledgements take a moment: poll(0) right after produce finds none yet
        if self.stall or not timeout:
            return 0
        served = 0
        while self.queued:
            message, callback = self.queued.pop(0)
            if self.fail_with is None:
                self.delivered.append(message)
            callback(self.fail_with, message)
            served += 1
        return served

    def flush(self, timeout=None):
        self.poll(timeout or 1)
        return len(self.queued)
