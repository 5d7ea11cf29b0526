"""Inputs that once escaped the parsers as other exceptions (OverflowError, RecursionError,
ValueError from the integer conversion limit, TypeError): each is now a ContractError
that names its kind and, where one is to blame, the field."""

from __future__ import annotations

import json

import pytest

from pipeline_common.contracts import (
    Aggregate,
    ContractError,
    DetectionEvent,
    ErrorKind,
    ImageAnnouncement,
    MetadataRecord,
    parse_detection_event,
)

from .test_contracts import CAPTURED, Interval, announcement, metadata

OVERFLOWS = "9999-12-31T23:59:59-01:00"  # valid ISO, past year 9999 in UTC
UNDERFLOWS = "0001-01-01T00:00:00+01:00"  # valid ISO, before year 1 in UTC
HUGE_INT = "9" * 5000  # over Python's 4300-digit int conversion limit
TOO_BIG = "1" + "0" * 400  # an integer too large for a float
DEEP = "[" * 100_000 + "]" * 100_000  # past the interpreter's recursion limit


def changed(record, **fields) -> bytes:
    """The record's JSON with fields replaced by raw JSON text."""
    data = record.to_dict()
    marks = {name: f"@@{name}@@" for name in fields}
    text = json.dumps({**data, **marks}, separators=(",", ":"))
    for name, raw in fields.items():
        text = text.replace(f'"{marks[name]}"', raw)
    return text.encode()


def event():
    return DetectionEvent("ab" * 16, "cam-1", CAPTURED, CAPTURED, "yolov4-tiny", {"dog": 1})


def aggregate():
    return Aggregate("car", "cam-1", Interval.HOUR, CAPTURED.replace(minute=0, second=0), 7, 3)


CASES = {
    # (parser, payload, kind, field)
    "announcement: captured_at overflows": (
        ImageAnnouncement.from_json_bytes,
        changed(announcement(), captured_at=f'"{OVERFLOWS}"'),
        ErrorKind.INVALID_FIELD,
        "captured_at",
    ),
    "announcement: uploaded_at underflows": (
        ImageAnnouncement.from_json_bytes,
        changed(announcement(), uploaded_at=f'"{UNDERFLOWS}"'),
        ErrorKind.INVALID_FIELD,
        "uploaded_at",
    ),
    "announcement: integer over the conversion limit": (
        ImageAnnouncement.from_json_bytes,
        changed(announcement(), size_bytes=HUGE_INT),
        ErrorKind.INVALID_JSON,
        None,
    ),
    "announcement: deep nesting": (ImageAnnouncement.from_json_bytes, DEEP.encode(), ErrorKind.INVALID_JSON, None),
    "announcement: width above 64 bits": (
        ImageAnnouncement.from_json_bytes,
        changed(announcement(), width=str(2**64)),
        ErrorKind.INVALID_FIELD,
        "width",
    ),
    "metadata: timings_ms value is text": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), timings_ms='{"inference":"slow"}'),
        ErrorKind.INVALID_FIELD,
        "timings_ms.inference",
    ),
    "metadata: timings_ms value is null": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), timings_ms='{"inference":null}'),
        ErrorKind.INVALID_FIELD,
        "timings_ms.inference",
    ),
    "metadata: timings_ms value is a list": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), timings_ms='{"inference":[1]}'),
        ErrorKind.INVALID_FIELD,
        "timings_ms.inference",
    ),
    "metadata: confidence too large for a float": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), detections=f'[{{"label":"dog","class_id":1,"confidence":{TOO_BIG},"box":[1,1,1,1]}}]'),
        ErrorKind.INVALID_FIELD,
        "detections[0].confidence",
    ),
    "metadata: model threshold too large for a float": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), model=f'{{"name":"m","input_size":1,"confidence_threshold":{TOO_BIG},"nms_threshold":0}}'),
        ErrorKind.INVALID_FIELD,
        "model.confidence_threshold",
    ),
    "metadata: processed_at overflows": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), processed_at=f'"{OVERFLOWS}"'),
        ErrorKind.INVALID_FIELD,
        "processed_at",
    ),
    "metadata: deep nesting inside a field": (
        MetadataRecord.from_json_bytes,
        changed(metadata(), detections=DEEP),
        ErrorKind.INVALID_JSON,
        None,
    ),
    "aggregate: bucket_start overflows": (
        Aggregate.from_line,
        changed(aggregate(), bucket_start=f'"{OVERFLOWS}"'),
        ErrorKind.INVALID_FIELD,
        "bucket_start",
    ),
    "aggregate: count over the conversion limit": (
        Aggregate.from_line,
        changed(aggregate(), detections=HUGE_INT),
        ErrorKind.INVALID_JSON,
        None,
    ),
    "aggregate: count above Elasticsearch's long": (
        Aggregate.from_line,
        changed(aggregate(), detections=str(2**63)),
        ErrorKind.INVALID_FIELD,
        "detections",
    ),
    "aggregate: deep nesting": (Aggregate.from_line, DEEP, ErrorKind.INVALID_JSON, None),
    "detection event: count over the conversion limit": (
        parse_detection_event,
        changed(event(), counts='{"dog":' + HUGE_INT + "}"),
        ErrorKind.INVALID_JSON,
        None,
    ),
    "detection event: count above 64 bits": (
        parse_detection_event,
        changed(event(), counts=f'{{"dog":{2**64}}}'),
        ErrorKind.INVALID_FIELD,
        "counts.dog",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_any_failure_inside_parsing_is_a_contract_error(case):
    parse, payload, kind, field = CASES[case]
    with pytest.raises(ContractError) as caught:
        parse(payload)
    assert caught.value.kind is kind
    assert caught.value.field == field
    assert len(str(caught.value)) < 400, "a reason short enough for a log line or a dead letter"
