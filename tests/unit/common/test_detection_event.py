"""The detection event: built from a metadata record, serialised, parsed back; the
parser turns any bad payload into ContractError and nothing else."""

import json
from datetime import timedelta

import pytest

from pipeline_common.contracts import (
    ContractError,
    Detection,
    DetectionEvent,
    MetadataRecord,
    detection_event_from_record,
    parse_detection_event,
    serialize_detection_event,
)
from tests.support.records import CAPTURED, IMAGE_ID, metadata


def record(*labels: str) -> MetadataRecord:
    """The shared example record, processed 2 s after capture, with one detection per label."""
    return metadata(
        processed_at=CAPTURED + timedelta(seconds=2),
        detections=tuple(Detection(label, 0, 0.9, (1, 2, 3, 4)) for label in labels),
    )


def test_event_counts_the_records_detections_per_label():
    event = detection_event_from_record(record("person", "dog", "person", "person"))
    assert event.counts == {"dog": 1, "person": 3}
    assert event.detections == 4
    assert (event.image_id, event.source, event.model) == (IMAGE_ID, "front-door", "yolov4-tiny")
    assert event.captured_at == CAPTURED


def test_labels_are_counted_under_their_coco_names_as_the_aggregation_does():
    event = detection_event_from_record(record("motorbike", "motorcycle", "tvmonitor"))
    assert event.counts == {"motorcycle": 2, "tv": 1}


def test_an_image_without_detections_still_has_an_event_with_no_counts():
    event = detection_event_from_record(record())
    assert event.counts == {} and event.detections == 0


def test_event_carries_the_boxes_to_draw_under_canonical_labels():
    event = detection_event_from_record(record("motorbike", "dog"))
    assert [(o.label, o.score, o.box) for o in event.objects] == [
        ("motorcycle", 0.9, (1, 2, 3, 4)),
        ("dog", 0.9, (1, 2, 3, 4)),
    ]
    assert (event.width, event.height) == (640, 480)
    assert parse_detection_event(serialize_detection_event(event)) == event


def test_an_event_without_boxes_reads_as_not_recorded_and_an_empty_image_as_nothing_found():
    old = json.loads(serialize_detection_event(detection_event_from_record(record("dog"))))
    for name in ("width", "height", "objects"):
        old.pop(name)
    parsed = parse_detection_event(json.dumps(old))
    assert parsed.objects is None and parsed.width is None and parsed.counts == {"dog": 1}
    assert detection_event_from_record(record()).objects == ()


def test_round_trip_and_compact_shape():
    event = detection_event_from_record(record("person", "dog", "person"))
    payload = serialize_detection_event(event)
    assert parse_detection_event(payload) == event
    assert json.loads(payload) == {
        "schema_version": 1,
        "image_id": IMAGE_ID,
        "source": "front-door",
        "captured_at": "2026-11-28T10:15:30.000Z",
        "processed_at": "2026-11-28T10:15:32.000Z",
        "model": "yolov4-tiny",
        "counts": {"dog": 1, "person": 2},
        "width": 640,
        "height": 480,
        "objects": [
            {"label": "person", "score": 0.9, "box": [1, 2, 3, 4]},
            {"label": "dog", "score": 0.9, "box": [1, 2, 3, 4]},
            {"label": "person", "score": 0.9, "box": [1, 2, 3, 4]},
        ],
    }
    assert b" " not in payload.replace(b"front-door", b"")  # compact


def test_non_ascii_labels_and_sources_survive():
    event = DetectionEvent(IMAGE_ID, "Kamera Süd", CAPTURED, CAPTURED, "m", {"vélo": 2})
    assert parse_detection_event(serialize_detection_event(event)) == event


def valid() -> dict:
    return json.loads(serialize_detection_event(detection_event_from_record(record("dog"))))


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"schema_version": 2}, "unsupported schema_version 2"),
        ({"image_id": "not-hex"}, "image_id"),
        ({"source": " "}, "'source' must not be empty"),
        ({"model": ""}, "'model' must not be empty"),
        ({"captured_at": "2026-11-28T10:15:30"}, "without a time zone"),
        ({"captured_at": "0001-01-01T00:00:00+01:00"}, "captured_at"),
        ({"processed_at": 17}, "'processed_at' must be str"),
        ({"counts": []}, "'counts' must be dict"),
        ({"counts": {"dog": 0}}, "whole number >= 1"),
        ({"counts": {"dog": 1.5}}, "whole number >= 1"),
        ({"counts": {"dog": True}}, "whole number >= 1"),
        ({"counts": {"": 1}}, "a label must be"),
    ],
)
def test_bad_fields_are_contract_errors_saying_what_is_wrong(change, fragment):
    data = valid() | change
    with pytest.raises(ContractError, match=fragment):
        parse_detection_event(json.dumps(data).encode())


@pytest.mark.parametrize("field", ["image_id", "source", "captured_at", "processed_at", "model", "counts"])
def test_a_missing_field_is_named(field):
    data = valid()
    del data[field]
    with pytest.raises(ContractError, match=f"missing field '{field}'"):
        parse_detection_event(json.dumps(data))


@pytest.mark.parametrize(
    "payload",
    [None, b"", b"{", b"\xff\xfe", b"[]", b"null", b"42", b'"text"', b"[" * 100_000, "{}".encode()],
    ids=["none", "empty", "truncated", "not utf-8", "list", "null", "number", "string", "deep", "empty object"],
)
def test_garbage_is_a_contract_error_and_nothing_else(payload):
    with pytest.raises(ContractError):
        parse_detection_event(payload)
