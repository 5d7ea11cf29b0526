import json
from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import (
    COCO_LABELS,
    Aggregate,
    ContractError,
    ImageAnnouncement,
    Interval,
    MetadataRecord,
    bucket_start,
    canonical_label,
    image_key,
    metadata_key,
    parse_s3_uri,
)
from tests.support import records
from tests.support.records import CAPTURED, IMAGE_ID, metadata


def announcement() -> ImageAnnouncement:
    return records.announcement(
        IMAGE_ID,
        "image-pipeline",
        source="front-door",
        moment=CAPTURED,
        uploaded=CAPTURED + timedelta(seconds=3),
        size=1234,
        width=640,
        height=480,
    )


def test_announcement_round_trips_through_json():
    original = announcement()
    assert ImageAnnouncement.from_json_bytes(original.to_json_bytes()) == original


def test_announcement_json_carries_schema_version_and_utc_times():
    data = json.loads(announcement().to_json_bytes())
    assert data["schema_version"] == 1
    assert data["captured_at"] == "2026-11-28T10:15:30.000Z"
    assert data["image_path"].startswith("s3://")


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"", "empty message"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"schema_version": 2}', "unsupported schema_version 2"),
        (b'{"schema_version": 1}', "missing field 'image_id'"),
    ],
)
def test_announcement_rejects_malformed_messages_with_a_reason(payload, expected):
    with pytest.raises(ContractError, match=expected):
        ImageAnnouncement.from_json_bytes(payload)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("image_id", "../../etc/passwd", "image_id"),
        ("image_path", "/local/file.jpg", "s3://bucket/key"),
        ("captured_at", "2026-11-28T10:15:30", "without a time zone"),
        ("size_bytes", -1, "must not be negative"),
        ("width", True, "must be a number"),
        ("source", "  ", "must not be empty"),
    ],
)
def test_announcement_rejects_bad_fields(field, value, expected):
    data = announcement().to_dict()
    data[field] = value
    with pytest.raises(ContractError, match=expected):
        ImageAnnouncement.from_dict(data)


def test_metadata_round_trips_and_keeps_detections():
    original = metadata()
    parsed = MetadataRecord.from_json_bytes(original.to_json_bytes())
    assert parsed == original
    assert parsed.detections[0].label == "dog"


def test_metadata_with_no_detections_is_valid():
    record = metadata(detections=())
    assert MetadataRecord.from_json_bytes(record.to_json_bytes()).detections == ()


@pytest.mark.parametrize(
    "detection, expected",
    [
        ({"label": "dog", "class_id": 16, "confidence": 1.5, "box": [0, 0, 1, 1]}, "confidence"),
        ({"label": "dog", "class_id": 16, "confidence": 0.5, "box": [0, 0, 1]}, "four integers"),
        ({"label": "dog", "confidence": 0.5, "box": [0, 0, 1, 1]}, "class_id"),
    ],
)
def test_metadata_rejects_bad_detections(detection, expected):
    data = metadata().to_dict()
    data["detections"] = [detection]
    with pytest.raises(ContractError, match=expected):
        MetadataRecord.from_dict(data)


def test_aggregate_line_round_trips():
    aggregate = Aggregate("car", "cam-1", Interval.HOUR, CAPTURED.replace(minute=0, second=0), 7, 3)
    assert Aggregate.from_line(aggregate.to_line()) == aggregate
    assert "\n" not in aggregate.to_line()


def test_aggregate_refuses_more_images_than_detections():
    data = Aggregate("car", "cam-1", Interval.HOUR, CAPTURED, 1, 1).to_dict()
    data["images"] = 2
    with pytest.raises(ContractError, match="exceeds detections"):
        Aggregate.from_dict(data)


def test_unknown_interval_names_the_allowed_ones():
    with pytest.raises(ContractError, match="minute, hour, day"):
        Interval.parse("week")


@pytest.mark.parametrize(
    "interval, expected",
    [
        (Interval.MINUTE, datetime(2026, 11, 28, 10, 15, tzinfo=timezone.utc)),
        (Interval.HOUR, datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)),
        (Interval.DAY, datetime(2026, 11, 28, tzinfo=timezone.utc)),
    ],
)
def test_bucket_start(interval, expected):
    assert bucket_start(CAPTURED, interval) == expected


def test_bucket_start_converts_other_zones_to_utc():
    evening_in_new_york = datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert bucket_start(evening_in_new_york, Interval.DAY) == datetime(2026, 11, 28, tzinfo=timezone.utc)


def test_s3_layout():
    assert image_key(IMAGE_ID) == f"images/{IMAGE_ID}.jpg"
    assert metadata_key(IMAGE_ID) == f"metadata/{IMAGE_ID}.json"
    assert parse_s3_uri(f"s3://image-pipeline/images/{IMAGE_ID}.jpg") == (
        "image-pipeline",
        f"images/{IMAGE_ID}.jpg",
    )
    with pytest.raises(ContractError):
        metadata_key("not-hex")


def test_records_name_the_model_files_and_runtime():
    data = json.loads(metadata().to_json_bytes())

    assert data["model"]["files_sha256"] == {"weights": "c" * 64}
    assert data["model"]["runtime"] == "opencv-dnn 4.14.0"


def test_records_written_before_file_digests_still_read():
    data = json.loads(metadata().to_json_bytes())
    del data["model"]["files_sha256"], data["model"]["runtime"]

    model = MetadataRecord.from_dict(data).model
    assert (model.name, model.files_sha256, model.runtime) == ("yolov4-tiny", {}, "")


@pytest.mark.parametrize("digests", [{"weights": "abc"}, {"weights": 5}, ["c" * 64]])
def test_model_file_digests_are_checked(digests):
    data = json.loads(metadata().to_json_bytes())
    data["model"]["files_sha256"] = digests

    with pytest.raises(ContractError, match="files_sha256"):
        MetadataRecord.from_dict(data)


def test_darknet_labels_map_to_the_coco_names():
    assert len(COCO_LABELS) == len(set(COCO_LABELS)) == 80
    assert canonical_label("motorbike") == "motorcycle" and canonical_label("tvmonitor") == "tv"
    assert canonical_label("dog") == "dog" and canonical_label("unknown thing") == "unknown thing"
    assert all(canonical_label(label) == label for label in COCO_LABELS)
