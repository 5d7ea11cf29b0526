"""Per-test bucket, topic and folders for the producer's integration tests, and a way
to read back everything on a topic. Each test gets its own bucket because `backfill`
lists the whole images/ prefix, which other stages' tests also write to."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline_common.environment import PROJECT_ROOT
from tests.support.services import delete_bucket

MAIN = PROJECT_ROOT / "producer" / "main_producer.py"
PARTITIONS = 3


@pytest.fixture
def bucket(s3):
    name = f"producer-test-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    yield name
    delete_bucket(s3, name)


@pytest.fixture
def topic(kafka_admin, grant_kafka):
    """The images topic of this test; the producer's own account may create and write it."""
    name = f"producer-test-{uuid.uuid4().hex[:10]}"
    grant_kafka(images_topic=name)
    yield name
    for future in kafka_admin.delete_topics([name], operation_timeout=10).values():
        try:
            future.result(timeout=15)
        except Exception:  # a test that never created it (UNKNOWN_TOPIC_OR_PART)
            pass


@pytest.fixture
def folders(tmp_path):
    new_pics, frames = tmp_path / "new_pics", tmp_path / "frames"
    new_pics.mkdir()
    return new_pics, frames


@pytest.fixture
def producer_env(pipeline_env, bucket, topic, folders):
    """The environment a user would run the producer with, pointed at this test's names."""
    new_pics, frames = folders
    env = {key: value for key, value in pipeline_env.items()}
    env.update(
        {
            "PIPELINE_DOTENV": "/nonexistent",  # everything needed is in this mapping
            "S3_BUCKET": bucket,
            "KAFKA_IMAGES_TOPIC": topic,
            "KAFKA_IMAGES_TOPIC_PARTITIONS": str(PARTITIONS),
            "PRODUCER_NEW_PICS_DIR": str(new_pics),
            "PRODUCER_FRAMES_DIR": str(frames),
            "PRODUCER_DELIVERY_TIMEOUT_S": "30",
        }
    )
    return env


@pytest.fixture
def run_producer(producer_env):
    """`run_producer("publish", KAFKA_BOOTSTRAP_SERVERS=...)` -> CompletedProcess."""

    def run(*args: str, **overrides: str) -> subprocess.CompletedProcess:
        env = {**producer_env, **overrides}
        return subprocess.run(
            [sys.executable, str(MAIN), *args, "--no-progress"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run


@pytest.fixture
def start_producer(producer_env, processes):
    """A long-running producer command (watch), stopped and waited for by the caller."""

    def start(*args: str, **overrides: str) -> subprocess.Popen:
        return processes.start(
            [sys.executable, str(MAIN), *args, "--no-progress"],
            env={**producer_env, **overrides},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


@pytest.fixture
def topic_reader(kafka_settings):
    """`read(topic)` -> every message now on the topic (all partitions, from the start)."""

    def read(topic: str, timeout_s: float = 30.0):
        consumer = Consumer(
            {
                **kafka_settings.client_config(),
                "group.id": f"producer-test-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            if metadata.error is not None:
                return []
            partitions = sorted(metadata.partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
            wanted = sum(high - low for low, high in ends.values())
            consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in partitions])
            messages = []
            deadline = time.monotonic() + timeout_s
            while len(messages) < wanted and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                assert message.error() is None, message.error()
                messages.append(message)
            assert len(messages) == wanted, f"read {len(messages)} of {wanted} messages from {topic}"
            return messages
        finally:
            consumer.close()

    return read


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: a Kafka broker that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
