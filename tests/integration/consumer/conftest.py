"""Per-test bucket, topics and consumer group for the consumer's integration tests, real
photos made unique per test, and ways to announce them, run the consumer (in-process or
as a subprocess) and read back metadata, dead letters and the group's lag."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from PIL import Image, ImageOps

from consumer.app import load_detector, run_consumer
from consumer.loop import RunLimits
from consumer.settings import ConsumerSettings
from pipeline_common.contracts import ImageAnnouncement, MetadataRecord, image_key, parse_detection_event
from pipeline_common.environment import PROJECT_ROOT
from tests.support.records import announcement
from tests.support.services import consumer_lag, delete_bucket

MAIN = PROJECT_ROOT / "consumer" / "main_consumer.py"
PHOTOS = Path("/usr/share/darknet/data")
PARTITIONS = 2


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def image_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_variants(count: int, salt: str) -> list[tuple[str, bytes]]:
    """`count` distinct JPEGs made from the darknet photos (flips, crops), named after the
    photo. `salt` changes the JPEG quality slightly so each test gets its own image ids."""
    names = ["dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg", "kite.jpg", "giraffe.jpg", "scream.jpg"]
    quality = 85 + int(hashlib.sha256(salt.encode()).hexdigest(), 16) % 10
    out = []
    for n in range(count):
        name = names[n % len(names)]
        with Image.open(PHOTOS / name) as original:
            image = original.convert("RGB")
        variant = n // len(names)
        if variant % 2:
            image = ImageOps.mirror(image)
        if variant >= 2:
            w, h = image.size
            cut = 0.04 * (variant - 1)
            image = image.crop((int(w * cut), int(h * cut), w - int(w * cut), h - int(h * cut)))
        out.append((name, jpeg(image, quality)))
    return out


def create_topics(kafka_admin) -> tuple[str, str, str]:
    """(images, dead letters, detection events), created for one test."""
    images, dead = unique("consumer-test-images"), unique("consumer-test-dead")
    events = unique("consumer-test-events")
    futures = kafka_admin.create_topics([NewTopic(images, PARTITIONS, 1), NewTopic(dead, 1, 1), NewTopic(events, 1, 1)])
    for future in futures.values():
        future.result(timeout=30)
    return images, dead, events


def env_for(pipeline_env, bucket: str, topics: tuple[str, str, str], grant_kafka) -> dict[str, str]:
    """The environment a user would run the consumer with, pointed at these names; the
    detector's own Kafka account gets on them the rights it has on the configured ones."""
    images, dead, events = topics
    group = unique("consumer-test-group")
    grant_kafka(images_topic=images, dead_letter_topic=dead, detections_topic=events, consumer_group=group)
    env = dict(pipeline_env)
    env.update(
        {
            "PIPELINE_DOTENV": "/nonexistent",  # everything needed is in this mapping
            "S3_BUCKET": bucket,
            "KAFKA_IMAGES_TOPIC": images,
            "KAFKA_DEAD_LETTER_TOPIC": dead,
            "KAFKA_DETECTIONS_TOPIC": events,
            "KAFKA_CONSUMER_GROUP": group,
            "DETECTOR_MODEL": "yolov4-tiny",
            "CONSUMER_RETRY_INITIAL_S": "0.2",
            "CONSUMER_RETRY_MAX_S": "1",
            # a killed consumer's partitions return to the group quickly
            "CONSUMER_SESSION_TIMEOUT_MS": "6000",
        }
    )
    return env


def announcement_for(
    bucket: str, image_id: str, width: int = 640, height: int = 480, size: int = 0
) -> ImageAnnouncement:
    return announcement(image_id, bucket, source="test-camera", size=size, width=width, height=height)


def upload_image(s3, bucket: str, data: bytes, source: str = "test-camera") -> ImageAnnouncement:
    """Put `data` where the producer would and return its announcement."""
    image_id = image_id_of(data)
    s3.put_object(Bucket=bucket, Key=image_key(image_id), Body=data, ContentType="image/jpeg")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # deliberately bad bytes: the announcement still names a size
        width, height = 640, 480
    return replace(announcement_for(bucket, image_id, width, height, len(data)), source=source)


def send_values(kafka_settings, topic: str, values: list[bytes], key: bytes = b"camera-1") -> None:
    """Send raw values in order to one partition (one key) and wait for the acks."""
    producer = Producer({**kafka_settings.client_config(), "enable.idempotence": True})
    failures = []
    for value in values:
        producer.produce(topic, value=value, key=key, on_delivery=lambda err, _m: err and failures.append(err))
    assert producer.flush(30) == 0 and failures == []


def read_metadata(s3, bucket: str) -> dict[str, MetadataRecord]:
    records = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="metadata/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            records[item["Key"]] = MetadataRecord.from_json_bytes(body)
    return records


def read_topic(kafka_settings, topic: str, timeout_s: float = 20.0) -> list:
    """Every message value on partition 0 of `topic`, in order."""
    reader = Consumer(
        {
            **kafka_settings.client_config(),
            "group.id": unique("reader"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        low, high = reader.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        reader.assign([TopicPartition(topic, 0, low)])
        values, deadline = [], time.monotonic() + timeout_s
        while len(values) < high - low and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
        return values
    finally:
        reader.close()


def read_dead_letters(kafka_settings, topic: str, timeout_s: float = 20.0) -> list[dict]:
    return [json.loads(value) for value in read_topic(kafka_settings, topic, timeout_s)]


def committed_positions(kafka_settings, group: str, topic: str) -> dict[int, int]:
    probe = Consumer({**kafka_settings.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        committed = probe.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        probe.close()


@pytest.fixture
def bucket(s3):
    name = unique("consumer-test")
    s3.create_bucket(Bucket=name)
    yield name
    delete_bucket(s3, name)


@pytest.fixture
def topics(kafka_admin):
    """(images topic, dead-letter topic), created for this test and deleted after it."""
    names = create_topics(kafka_admin)
    yield names
    kafka_admin.delete_topics(list(names), operation_timeout=10)


@pytest.fixture
def consumer_env(pipeline_env, bucket, topics, grant_kafka) -> dict[str, str]:
    """The environment a user would run the consumer with, pointed at this test's names."""
    return env_for(pipeline_env, bucket, topics, grant_kafka)


@pytest.fixture
def settings(consumer_env) -> ConsumerSettings:
    return ConsumerSettings.from_env(consumer_env)


@pytest.fixture(scope="session")
def shared_detector(pipeline_env):
    return load_detector(ConsumerSettings.from_env(pipeline_env))


@pytest.fixture
def upload(s3, bucket):
    """`upload(data, source)` -> the ImageAnnouncement for an image now in S3."""
    return lambda data, source="test-camera": upload_image(s3, bucket, data, source)


@pytest.fixture
def announce(kafka_settings, topics):
    """`announce([bytes, ...])`: raw values to the images topic, in order, acknowledged."""
    return lambda values, key=b"camera-1": send_values(kafka_settings, topics[0], values, key)


@pytest.fixture
def run_inline(settings, shared_detector):
    """Run the consumer in this process until the topic is drained."""

    def run(idle_timeout_s: float = 3.0, **limits):
        return run_consumer(
            settings, RunLimits(idle_timeout_s=idle_timeout_s, **limits), threading.Event(), detector=shared_detector
        )

    return run


@pytest.fixture
def start_consumer(consumer_env, tmp_path, processes):
    """Start `python consumer/main_consumer.py ...` as a user would; killed after the test.
    Its output goes to a file (`process.log_path`): a full pipe would block it."""

    def start(*args: str, **overrides: str) -> subprocess.Popen:
        log_path = tmp_path / f"consumer-{len(processes)}.log"
        with log_path.open("w") as log:
            process = processes.start(
                [sys.executable, str(MAIN), *args],
                env={**consumer_env, **overrides},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        process.log_path = log_path
        return process

    return start


@pytest.fixture
def metadata(s3, bucket):
    """`metadata()` -> {key: MetadataRecord} of every object under metadata/."""
    return lambda: read_metadata(s3, bucket)


@pytest.fixture
def metadata_count(s3, bucket):
    def count() -> int:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="metadata/")
        return sum(page.get("KeyCount", 0) for page in pages)

    return count


@pytest.fixture
def dead_letters(kafka_settings, topics):
    """`dead_letters()` -> every dead-letter record on this test's topic, parsed."""
    return lambda timeout_s=20.0: read_dead_letters(kafka_settings, topics[1], timeout_s)


@pytest.fixture
def detection_events(kafka_settings, topics):
    """`detection_events()` -> every detection event on this test's topic, parsed."""
    return lambda timeout_s=20.0: [parse_detection_event(v) for v in read_topic(kafka_settings, topics[2], timeout_s)]


@pytest.fixture
def group_lag(kafka_settings, consumer_env, topics):
    """`group_lag()` -> messages on the images topic not yet committed by the test's group."""
    return lambda: consumer_lag(kafka_settings, consumer_env["KAFKA_CONSUMER_GROUP"], topics[0])
