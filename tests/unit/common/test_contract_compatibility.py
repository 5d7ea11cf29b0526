"""The declared contracts read what the hand-written ones wrote, and write the same bytes.

Each literal below was serialised by the hand-written dataclasses before the contracts
became pydantic models (`to_json_bytes()` / `to_line()`), from the values in the
neighbouring constructor call: non-ASCII text, a time zone other than UTC with
microseconds, rounded floats, no detections. They are kept verbatim, never regenerated.
OLD_* come from commit 78551cf; CURRENT_METADATA* from 22a6853, whose metadata records
gained the model's file digests and runtime (the announcement and the aggregate line did
not change between the two); *_EVENT from 3ab4150, where the detection event appeared."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import (
    Aggregate,
    CountDocument,
    Detection,
    DetectionEvent,
    ImageAnnouncement,
    Interval,
    MetadataRecord,
    ModelInfo,
    parse_detection_event,
    serialize_detection_event,
)

IMAGE_ID = "0123456789abcdef0123456789abcdef"
PATH = f"s3://image-pipeline/images/{IMAGE_ID}.jpg"
SOURCE = "Café “north” door ☕"
CAPTURED = datetime(2026, 11, 28, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=2)))

OLD_ANNOUNCEMENT = (
    b'{"schema_version":1,"image_id":"0123456789abcdef0123456789abcdef",'
    b'"image_path":"s3://image-pipeline/images/0123456789abcdef0123456789abcdef.jpg",'
    b'"source":"Caf\\u00e9 \\u201cnorth\\u201d door \\u2615","captured_at":"2026-11-28T08:15:30.123Z",'
    b'"uploaded_at":"2026-11-28T08:15:33.623Z","size_bytes":123456,"width":4032,"height":3024}'
)
OLD_METADATA = (
    b'{"schema_version":1,"image_id":"0123456789abcdef0123456789abcdef",'
    b'"image_path":"s3://image-pipeline/images/0123456789abcdef0123456789abcdef.jpg",'
    b'"source":"Caf\\u00e9 \\u201cnorth\\u201d door \\u2615","captured_at":"2026-11-28T08:15:30.123Z",'
    b'"processed_at":"2026-11-28T08:15:35.123Z","model":{"name":"yolov4-tiny","input_size":416,'
    b'"confidence_threshold":0.25,"nms_threshold":0.45},"width":4032,"height":3024,'
    b'"detections":[{"label":"dog","class_id":16,"confidence":0.9123,"box":[10,20,100,80]},'
    b'{"label":"traffic light","class_id":9,"confidence":0.25,"box":[0,0,1,1]},'
    b'{"label":"person","class_id":0,"confidence":1.0,"box":[4031,3023,1,1]}],'
    b'"timings_ms":{"download":12.35,"decode":0.0,"inference":24.5,"total":36.85}}'
)
OLD_METADATA_EMPTY = (
    b'{"schema_version":1,"image_id":"fedcba9876543210","image_path":"s3://image-pipeline/images/fedcba9876543210.jpg",'
    b'"source":"cam-1","captured_at":"2026-11-28T08:15:30.123Z","processed_at":"2026-11-28T08:15:30.123Z",'
    b'"model":{"name":"yolov3-tiny","input_size":608,"confidence_threshold":0.5,"nms_threshold":0.4},'
    b'"width":1,"height":1,"detections":[],"timings_ms":{}}'
)
CURRENT_METADATA = OLD_METADATA.replace(
    b'"nms_threshold":0.45}',
    b'"nms_threshold":0.45,"files_sha256":{"cfg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",'
    b'"weights":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",'
    b'"names":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},"runtime":"opencv-dnn 4.14.0"}',
)
CURRENT_METADATA_EMPTY = (
    b'{"schema_version":1,"image_id":"fedcba9876543210","image_path":"s3://image-pipeline/images/fedcba9876543210.jpg",'
    b'"source":"cam-1","captured_at":"2026-11-28T08:15:30.123Z","processed_at":"2026-11-28T08:15:30.123Z",'
    b'"model":{"name":"yolov3-tiny","input_size":608,"confidence_threshold":0.5,"nms_threshold":0.4,'
    b'"files_sha256":{},"runtime":""},"width":1,"height":1,"detections":[],"timings_ms":{}}'
)
CURRENT_EVENT = (
    b'{"schema_version":1,"image_id":"0123456789abcdef0123456789abcdef","source":"Kamera S\xc3\xbcd \xe2\x98\x95",'
    b'"captured_at":"2026-11-28T08:15:30.123Z","processed_at":"2026-11-28T08:15:31.323Z","model":"yolov4-tiny",'
    b'"counts":{"dog":1,"person":3,"v\xc3\xa9lo":2}}'
)
CURRENT_EMPTY_EVENT = (
    b'{"schema_version":1,"image_id":"fedcba9876543210","source":"cam-1","captured_at":"2026-11-28T08:15:30.123Z",'
    b'"processed_at":"2026-11-28T08:15:30.123Z","model":"yolov3-tiny","counts":{}}'
)
OLD_AGGREGATE_HOUR = (
    '{"bucket_start":"2026-11-28T08:00:00.000Z","detections":12,"images":5,"interval":"hour",'
    '"label":"traffic light","schema_version":1,"source":"Caf\\u00e9 \\u2615"}'
)
OLD_AGGREGATE_MINUTE = (
    '{"bucket_start":"2026-11-28T13:59:00.000Z","detections":3,"images":3,"interval":"minute",'
    '"label":"person","schema_version":1,"source":"cam-1"}'
)


def announcement():
    return ImageAnnouncement(IMAGE_ID, PATH, SOURCE, CAPTURED, CAPTURED + timedelta(seconds=3.5), 123456, 4032, 3024)


def metadata():
    files = {"cfg": "a" * 64, "weights": "0123456789abcdef" * 4, "names": "f" * 64}
    model = ModelInfo("yolov4-tiny", 416, 0.25, 0.45, files, "opencv-dnn 4.14.0")
    return MetadataRecord(
        IMAGE_ID,
        PATH,
        SOURCE,
        CAPTURED,
        CAPTURED + timedelta(seconds=5),
        model,
        4032,
        3024,
        (
            Detection("dog", 16, 0.912345678, (10, 20, 100, 80)),
            Detection("traffic light", 9, 0.25, (0, 0, 1, 1)),
            Detection("person", 0, 1.0, (4031, 3023, 1, 1)),
        ),
        {"download": 12.345678, "decode": 0.001, "inference": 24.5, "total": 36.846678},
    )


def metadata_without_detections():
    return MetadataRecord(
        "fedcba9876543210",
        "s3://image-pipeline/images/fedcba9876543210.jpg",
        "cam-1",
        CAPTURED,
        CAPTURED,
        ModelInfo("yolov3-tiny", 608, 0.5, 0.4),
        1,
        1,
        (),
    )


def hourly():
    return Aggregate("traffic light", "Café ☕", Interval.HOUR, datetime(2026, 11, 28, 8, tzinfo=timezone.utc), 12, 5)


def minutely():
    minute = datetime(2026, 11, 28, 8, 59, tzinfo=timezone(timedelta(hours=-5)))
    return Aggregate("person", "cam-1", Interval.MINUTE, minute, 3, 3)


@pytest.mark.parametrize(
    "written, build",
    [
        (OLD_ANNOUNCEMENT, announcement),
        (CURRENT_METADATA, metadata),
        (CURRENT_METADATA_EMPTY, metadata_without_detections),
    ],
    ids=["announcement", "metadata", "metadata without detections"],
)
def test_the_same_record_writes_the_same_bytes_and_reads_back(written, build):
    record = build()
    assert record.to_json_bytes() == written
    parsed = type(record).from_json_bytes(written)
    assert parsed.to_json_bytes() == written
    # the same record, less what was rounded on the way out (times to milliseconds)
    assert (parsed.image_id, parsed.image_path, parsed.source, parsed.width) == (
        record.image_id,
        record.image_path,
        record.source,
        record.width,
    )
    assert parsed.captured_at == CAPTURED.replace(microsecond=123000)
    if isinstance(record, MetadataRecord):
        assert parsed.model == record.model
        assert [d.label for d in parsed.detections] == [d.label for d in record.detections]
        assert {k: round(v, 2) for k, v in record.timings_ms.items()} == parsed.timings_ms


@pytest.mark.parametrize("old", [OLD_METADATA, OLD_METADATA_EMPTY], ids=["metadata", "metadata without detections"])
def test_metadata_records_from_before_the_model_digests_still_read(old):
    parsed = MetadataRecord.from_json_bytes(old)
    assert (parsed.model.files_sha256, parsed.model.runtime) == ({}, "")
    # written again, they gain only those two fields, empty, as 22a6853 writes them
    threshold = re.search(rb'"nms_threshold":[0-9.]+', old).group()
    assert parsed.to_json_bytes() == old.replace(threshold + b"}", threshold + b',"files_sha256":{},"runtime":""}')
    if not parsed.detections:
        assert parsed.to_json_bytes() == CURRENT_METADATA_EMPTY


@pytest.mark.parametrize(
    "old, build", [(OLD_AGGREGATE_HOUR, hourly), (OLD_AGGREGATE_MINUTE, minutely)], ids=["hour", "minute"]
)
def test_old_aggregate_lines_read_and_write_back_unchanged(old, build):
    assert build().to_line() == old
    assert Aggregate.from_line(old) == build()
    assert Aggregate.from_line(old.encode()).to_line() == old


@pytest.mark.parametrize(
    "written, event",
    [
        (
            CURRENT_EVENT,
            DetectionEvent(
                IMAGE_ID,
                "Kamera Süd ☕",
                CAPTURED,
                CAPTURED + timedelta(seconds=1.2),
                "yolov4-tiny",
                {"vélo": 2, "person": 3, "dog": 1},
            ),
        ),
        (CURRENT_EMPTY_EVENT, DetectionEvent("fedcba9876543210", "cam-1", CAPTURED, CAPTURED, "yolov3-tiny", {})),
    ],
    ids=["event", "event without detections"],
)
def test_detection_events_write_the_same_bytes_and_read_back(written, event):
    assert serialize_detection_event(event) == written
    parsed = parse_detection_event(written)
    assert serialize_detection_event(parsed) == written
    assert (parsed.source, parsed.counts, parsed.model) == (event.source, event.counts, event.model)


def test_count_document_source_is_the_one_the_indexer_always_sent():
    indexed_at = datetime(2026, 11, 28, 12, 30, 0, 999999, tzinfo=timezone.utc)
    document = CountDocument.of(hourly(), "20261128T120000Z", indexed_at)
    assert document.to_source() == {
        "label": "traffic light",
        "source": "Café ☕",
        "interval": "hour",
        "bucket_start": "2026-11-28T08:00:00.000Z",
        "detections": 12,
        "images": 5,
        "run_id": "20261128T120000Z",
        "indexed_at": "2026-11-28T12:30:00.999Z",
    }
    assert list(document.to_source()) == [
        "label",
        "source",
        "interval",
        "bucket_start",
        "detections",
        "images",
        "run_id",
        "indexed_at",
    ]


def test_fields_a_newer_writer_adds_are_ignored():
    newer = CURRENT_METADATA.replace(b'"runtime":"opencv-dnn 4.14.0"}', b'"runtime":"opencv-dnn 4.14.0","gpu":"x"}')
    newer = newer.replace(b'"width":4032', b'"camera_model":"none","width":4032')
    assert MetadataRecord.from_json_bytes(newer).to_json_bytes() == CURRENT_METADATA
