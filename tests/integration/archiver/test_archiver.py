"""The detection archiver against the real Kafka and S3, with its own accounts: every
event lands in the archive once, also when a batch is read again after a crash (its
file written, its offsets not committed); the aggregation counts the archive as the
events say."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from archiver.loop import Archiver, RunLimits
from archiver.settings import ArchiverSettings
from hadoop.aggregation import run_aggregation
from hadoop.settings import AggregationSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import Aggregate, DetectionEvent, Interval, bucket_start, serialize_detection_event
from pipeline_common.contracts.detection_archive import decode_file, is_archive_file
from pipeline_common.s3 import list_keys

PARTITIONS = 2
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def event(number: int) -> DetectionEvent:
    counts = {"person": number % 3 + 1} if number % 4 else {}
    return DetectionEvent(
        f"{number:032x}", f"cam-{number % 2}", NOW - timedelta(minutes=number), NOW, "yolov4-tiny", counts
    )


@pytest.fixture
def names(kafka_admin, grant_kafka, s3, s3_settings):
    suffix = uuid.uuid4().hex[:10]
    topic, group = f"it-archive-{suffix}", f"it-archiver-{suffix}"
    for future in kafka_admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(timeout=30)
    grant_kafka(detections_topic=topic, archiver_group=group)
    bucket = f"it-archive-{suffix}"
    s3.create_bucket(Bucket=bucket)
    yield {"topic": topic, "group": group, "bucket": bucket}
    kafka_admin.delete_topics([topic], operation_timeout=10)
    keys = list(list_keys(s3, bucket, ""))
    if keys:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def settings(pipeline_env, names) -> ArchiverSettings:
    """The archiver's settings as a user has them: its own Kafka and S3 accounts."""
    return ArchiverSettings.from_env(
        {
            **pipeline_env,
            "PIPELINE_DOTENV": "/nonexistent",
            "KAFKA_DETECTIONS_TOPIC": names["topic"],
            "ARCHIVER_CONSUMER_GROUP": names["group"],
            "S3_BUCKET": names["bucket"],
            "ARCHIVER_SESSION_TIMEOUT_MS": "6000",
        }
    )


def publish(kafka_settings, topic: str, events) -> None:
    producer = Producer({**kafka_settings.client_config(), "enable.idempotence": True})
    failures = []
    for item in events:
        producer.produce(
            topic,
            value=serialize_detection_event(item),
            key=item.image_id.encode(),
            on_delivery=lambda error, _m: error and failures.append(error),
        )
    assert producer.flush(30) == 0 and failures == []


def run_archiver(settings: ArchiverSettings, commit: bool = True):
    """Until the topic is drained; `commit=False`: it dies before any commit reaches the broker."""
    from confluent_kafka import Consumer

    consumer = Consumer(settings.consumer_config())
    archiver = Archiver.from_settings(settings, consumer, threading.Event(), RunLimits(idle_timeout_s=4))
    archiver.max_records = 7
    if not commit:
        archiver._commit = lambda partition, offset: None
    try:
        return archiver.run()
    finally:
        consumer.close()


def archived(s3, bucket: str) -> tuple[list[str], Counter]:
    keys = sorted(key for key in list_keys(s3, bucket, "detections/") if is_archive_file(key))
    lines = Counter()
    for key in keys:
        for line in decode_file(s3.get_object(Bucket=bucket, Key=key)["Body"].read()):
            lines[json.loads(line)["image_id"]] += 1
    return keys, lines


def test_every_event_is_archived_once_even_when_read_again(settings, names, kafka_settings, s3, pipeline_env):
    events = [event(n) for n in range(1, 41)]
    publish(kafka_settings, names["topic"], events)
    crashed = run_archiver(settings, commit=False)
    assert crashed.archived == 40 and crashed.fatal is None
    keys_before, _ = archived(s3, names["bucket"])
    # the next archiver of the group reads every batch again, and more events come
    publish(kafka_settings, names["topic"], [event(n) for n in range(41, 51)])
    summary = run_archiver(settings)
    assert summary.received == 50 and summary.fatal is None
    keys, lines = archived(s3, names["bucket"])
    assert set(keys_before) <= set(keys)  # the same batches, the same files: overwritten
    assert lines == Counter({f"{n:032x}": 1 for n in range(1, 51)})
    # nothing left to read: the offsets were committed after the files were written
    assert run_archiver(settings).received == 0
    # the aggregation over the archive counts what the events say
    aggregation = AggregationSettings.from_env(
        {**pipeline_env, "S3_BUCKET": names["bucket"]}, runner="inline", output_prefix="out/"
    )
    result = run_aggregation(aggregation, s3)
    assert result.source == "archive" and result.mode == "full"
    counted = {}
    for key in result.part_keys:
        for line in s3.get_object(Bucket=names["bucket"], Key=key)["Body"].read().decode().splitlines():
            row = Aggregate.from_line(line)
            counted[(row.label, row.source, row.bucket_start)] = (row.detections, row.images)
    expected: dict = {}
    for item in [event(n) for n in range(1, 51)]:
        for label, count in item.counts.items():
            key = (label, item.source, bucket_start(item.captured_at, Interval.HOUR))
            detections, images = expected.get(key, (0, 0))
            expected[key] = (detections + count, images + 1)
    assert counted == expected


def test_the_archivers_own_s3_account_may_write_only_the_archive(settings, names):
    from botocore.exceptions import ClientError

    client = s3_client(settings.s3)
    client.put_object(Bucket=names["bucket"], Key="detections/probe", Body=b"x")
    for action in (
        lambda: client.put_object(Bucket=names["bucket"], Key="metadata/probe", Body=b"x"),
        lambda: client.get_object(Bucket=names["bucket"], Key="detections/probe"),
        lambda: client.list_objects_v2(Bucket=names["bucket"]),
    ):
        with pytest.raises(ClientError) as refused:
            action()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
