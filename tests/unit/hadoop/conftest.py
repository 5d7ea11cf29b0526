"""Metadata records for the aggregation tests, serialised as the consumer writes them."""

import json
from itertools import count

import pytest

from pipeline_common.contracts import MetadataRecord

_ids = count(1)


def record_dict(
    labels=(), source="front-door", captured_at="2026-11-28T10:15:30Z", processed_at="2026-11-28T12:00:00Z", **changes
):
    image_id = f"{next(_ids):032x}"
    data = {
        "schema_version": MetadataRecord.SCHEMA_VERSION,
        "image_id": image_id,
        "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
        "source": source,
        "captured_at": captured_at,
        "processed_at": processed_at,
        "model": {"name": "yolov4-tiny", "input_size": 416, "confidence_threshold": 0.5, "nms_threshold": 0.4},
        "width": 640,
        "height": 480,
        "detections": [{"label": label, "class_id": 0, "confidence": 0.9, "box": [1, 2, 30, 40]} for label in labels],
        "timings_ms": {"inference": 12.5},
    }
    data.update(changes)
    return data


@pytest.fixture
def make_record():
    """make_record(labels, source=..., captured_at=..., **field_changes) -> dict"""
    return record_dict


@pytest.fixture
def make_line():
    """Like make_record, serialised to one compact JSON line."""
    return lambda *args, **kwargs: json.dumps(record_dict(*args, **kwargs), separators=(",", ":"))
