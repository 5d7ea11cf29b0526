"""One message through parse -> download -> decode -> detect -> write, with fakes of S3
and the detector; and how S3 failures are classified."""

from __future__ import annotations

import json
import re
import threading

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from consumer import storage
from consumer.errors import Abandoned, FatalError, Rejected, Stage, TransientError
from consumer.processing import Detected, Failed, Prepared, Processor
from consumer.settings import ImageLimits
from pipeline_common.contracts import MetadataRecord
from pipeline_common.contracts.dead_letter import OriginalMessage as MessageRef
from pipeline_common.retry import Backoff

FAST = Backoff(initial_s=0.001, maximum_s=0.002)


@pytest.fixture
def world(kit):
    s3 = kit.FakeS3()
    announcement = kit.announcement()
    s3.objects[(kit.BUCKET, f"images/{announcement.image_id}.jpg")] = kit.encode(kit.photo_like(64, 48))
    stop = threading.Event()
    processor = Processor(s3, kit.BUCKET, kit.FakeDetector(), ImageLimits(), FAST, stop)
    return s3, announcement, processor, stop


def message(value: bytes | None, offset: int = 7) -> MessageRef:
    return MessageRef("images", 0, offset, None, value)


def test_a_good_message_becomes_a_metadata_record(world, kit):
    s3, announcement, processor, _ = world

    prepared = processor.prepare(message(announcement.to_json_bytes()))
    assert isinstance(prepared, Prepared)
    detected = processor.detect(prepared)
    assert isinstance(detected, Detected)
    uri = processor.write(detected)

    assert uri == f"s3://{kit.BUCKET}/metadata/{announcement.image_id}.json"
    record = MetadataRecord.from_json_bytes(s3.objects[(kit.BUCKET, f"metadata/{announcement.image_id}.json")])
    assert record.image_id == announcement.image_id
    assert record.image_path == announcement.image_path
    assert record.source == "camera-1"
    assert record.captured_at == announcement.captured_at
    assert record.processed_at > announcement.captured_at
    assert (record.width, record.height) == (64, 48)
    assert [d.label for d in record.detections] == ["dog"]
    assert record.detections[0].box == (0, 0, 32, 24)
    assert record.model.name == "fake-yolo"
    assert set(record.timings_ms) == {"download", "decode", "resize", "inference", "total"}
    assert record.timings_ms["total"] >= record.timings_ms["inference"]


def test_reprocessing_overwrites_the_same_key(world, kit):
    s3, announcement, processor, _ = world
    for _ in range(2):
        processor.write(processor.detect(processor.prepare(message(announcement.to_json_bytes()))))

    keys = {key for bucket, key in s3.objects if key.startswith("metadata/")}
    assert keys == {f"metadata/{announcement.image_id}.json"}


def without(field: str, announcement) -> bytes:
    data = announcement.to_dict()
    del data[field]
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"{not json", "not valid JSON"),
        (None, "empty message"),
        (b"[1, 2]", "JSON object"),
        ("missing", "missing field 'image_path'"),
        ("other-bucket", "this consumer reads bucket 'bucket'"),
    ],
)
def test_unparseable_messages_fail_at_the_parse_stage(world, kit, value, reason):
    _, announcement, processor, _ = world
    if value == "missing":
        value = without("image_path", announcement)
    elif value == "other-bucket":
        value = kit.announcement(bucket="elsewhere").to_json_bytes()

    outcome = processor.prepare(message(value))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.PARSE
    assert reason in outcome.reason


@pytest.mark.parametrize(
    "field, raw, reason",
    [
        ("captured_at", '"9999-12-31T23:59:59-01:00"', "captured_at"),  # overflows when converted to UTC
        ("uploaded_at", '"0001-01-01T00:00:00+01:00"', "uploaded_at"),  # underflows
        ("size_bytes", "9" * 5000, "not valid JSON"),  # over the int conversion limit
        ("width", "[" * 50_000 + "]" * 50_000, "not valid JSON"),  # deeper than the recursion limit
        ("height", '"480"', "height"),
    ],
)
def test_any_unparseable_announcement_fails_at_the_parse_stage(world, field, raw, reason):
    _, announcement, processor, _ = world
    data = announcement.to_dict()
    data[field] = "@@"
    value = json.dumps(data).replace('"@@"', raw).encode()

    outcome = processor.prepare(message(value))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.PARSE
    assert reason in outcome.reason


def test_missing_object_fails_at_the_download_stage(world, kit):
    _, _, processor, _ = world
    ghost = kit.announcement(image_id="cd" * 16)

    outcome = processor.prepare(message(ghost.to_json_bytes()))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.DOWNLOAD
    assert "does not exist" in outcome.reason and ghost.image_path in outcome.reason


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "zero-byte"),
        (b"GIF89a-but-not-really", "cannot|not an image"),
        (b"\xff\xd8\xff\xe0junk", "not an image|unreadable"),
    ],
)
def test_undecodable_objects_fail_at_the_decode_stage(world, kit, data, reason):
    s3, announcement, processor, _ = world
    s3.objects[(kit.BUCKET, f"images/{announcement.image_id}.jpg")] = data

    outcome = processor.prepare(message(announcement.to_json_bytes()))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.DECODE
    assert announcement.image_path in outcome.reason
    assert re.search(reason, outcome.reason)


def test_objects_over_the_byte_limit_are_not_downloaded(kit):
    s3 = kit.FakeS3()
    announcement = kit.announcement()
    s3.objects[(kit.BUCKET, f"images/{announcement.image_id}.jpg")] = b"x" * 2000
    limits = ImageLimits(max_image_bytes=1000)
    processor = Processor(s3, kit.BUCKET, kit.FakeDetector(), limits, FAST, threading.Event())

    outcome = processor.prepare(message(announcement.to_json_bytes()))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.DOWNLOAD and "over the limit" in outcome.reason


def test_detector_errors_fail_at_the_detect_stage(world, kit):
    _, announcement, _, stop = world
    s3 = world[0]
    detector = kit.FakeDetector(fail_with=ValueError("odd shape"))
    processor = Processor(s3, kit.BUCKET, detector, ImageLimits(), FAST, stop)

    outcome = processor.detect(processor.prepare(message(announcement.to_json_bytes())))

    assert isinstance(outcome, Failed) and outcome.stage is Stage.DETECT and "odd shape" in outcome.reason


@pytest.mark.parametrize(
    "failure",
    [
        EndpointConnectionError(endpoint_url="http://s3"),
        ReadTimeoutError(endpoint_url="http://s3"),
        "503",
        "SlowDown",
    ],
)
def test_transient_s3_failures_are_retried_until_they_pass(world, kit, failure):
    s3, announcement, processor, _ = world
    if failure == "503":
        failure = kit.client_error("ServiceUnavailable", 503)
    elif failure == "SlowDown":
        failure = kit.client_error("SlowDown", 503)
    s3.failures = [failure, failure, failure]

    outcome = processor.prepare(message(announcement.to_json_bytes()))

    assert isinstance(outcome, Prepared)
    assert s3.failures == []


def test_transient_write_failures_are_retried(world, kit):
    s3, announcement, processor, _ = world
    detected = processor.detect(processor.prepare(message(announcement.to_json_bytes())))
    s3.failures = [kit.client_error("InternalError", 500, "PutObject")]

    processor.write(detected)

    assert len(s3.puts) == 1


def test_shutdown_during_an_outage_hands_the_message_back(world, kit):
    s3, announcement, _, _ = world
    stop = threading.Event()
    processor = Processor(s3, kit.BUCKET, kit.FakeDetector(), ImageLimits(), Backoff(0.05, 0.05), stop)
    s3.failures = [EndpointConnectionError(endpoint_url="http://s3")] * 1000
    threading.Timer(0.2, stop.set).start()

    with pytest.raises(Abandoned):
        processor.prepare(message(announcement.to_json_bytes()))


@pytest.mark.parametrize("code, status", [("AccessDenied", 403), ("InvalidAccessKeyId", 403), ("NoSuchBucket", 404)])
def test_setup_problems_stop_the_consumer_instead_of_dead_lettering(world, kit, code, status):
    s3, announcement, processor, _ = world
    s3.failures = [kit.client_error(code, status)]

    with pytest.raises(FatalError, match="credentials|bucket"):
        processor.prepare(message(announcement.to_json_bytes()))


@pytest.mark.parametrize(
    "code, status, stage, kind",
    [
        ("NoSuchKey", 404, Stage.DOWNLOAD, Rejected),
        ("InvalidObjectState", 403, Stage.DOWNLOAD, Rejected),
        ("AccessDenied", 403, Stage.WRITE, FatalError),
        ("InvalidRange", 416, Stage.DOWNLOAD, Rejected),
        ("InternalError", 500, Stage.WRITE, TransientError),
        ("TooManyRequests", 429, Stage.DOWNLOAD, TransientError),
        ("MalformedXML", 400, Stage.WRITE, FatalError),
    ],
)
def test_s3_error_classification(kit, code, status, stage, kind):
    assert isinstance(storage.classify(kit.client_error(code, status), stage, "s3://b/k"), kind)


def test_short_reads_are_transient(kit):
    s3 = kit.FakeS3(short_read_by=10)
    s3.objects[("b", "k")] = b"y" * 100

    with pytest.raises(TransientError, match="read 90 of 100"):
        storage.download(s3, "b", "k", 1000)
