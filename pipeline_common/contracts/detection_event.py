"""The compact event the consumer publishes on the detections topic once an image's
metadata record is in S3: what the live indexer turns into one document per image.

    {"schema_version": 1, "image_id": "3f9a...", "source": "front-door",
     "captured_at": "2026-11-28T10:15:30.000Z", "processed_at": "2026-11-28T10:15:31.204Z",
     "model": "yolov4-tiny", "counts": {"dog": 1, "person": 3}}

`counts` holds the detections per label (an image with nothing found has `{}`), the
same numbers the aggregation job adds up from the metadata record, so live and batch
counts agree.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from ..timestamps import to_iso
from . import _fields as f
from .errors import ContractError
from .labels import canonical_label
from .metadata import MetadataRecord
from .s3_layout import check_image_id

WHAT = "detection event"
SCHEMA_VERSION = 1
MAX_LABEL_LENGTH = 200


@dataclass(frozen=True)
class DetectionEvent:
    image_id: str
    source: str
    captured_at: datetime
    processed_at: datetime
    model: str
    counts: Mapping[str, int] = field(default_factory=dict)  # label -> detections, each > 0

    @property
    def detections(self) -> int:
        return sum(self.counts.values())


def detection_event_from_record(record: MetadataRecord) -> DetectionEvent:
    """The event for a metadata record: its detections counted per (canonical) label,
    exactly as the aggregation job counts them."""
    counts = Counter(canonical_label(detection.label) for detection in record.detections)
    return DetectionEvent(
        image_id=record.image_id,
        source=record.source,
        captured_at=record.captured_at,
        processed_at=record.processed_at,
        model=record.model.name,
        counts=dict(sorted(counts.items())),
    )


def serialize_detection_event(event: DetectionEvent) -> bytes:
    """The event as compact UTF-8 JSON (labels in alphabetical order)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "image_id": event.image_id,
        "source": event.source,
        "captured_at": to_iso(event.captured_at),
        "processed_at": to_iso(event.processed_at),
        "model": event.model,
        "counts": {label: int(n) for label, n in sorted(event.counts.items())},
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _counts(data: Mapping[str, Any]) -> dict[str, int]:
    raw = f.as_mapping(f.field(data, "counts", dict, WHAT), f"{WHAT} counts")
    counts = {}
    for label, n in raw.items():
        if not label.strip() or len(label) > MAX_LABEL_LENGTH:
            raise ContractError(f"{WHAT}: counts: a label must be 1-{MAX_LABEL_LENGTH} characters, got {label!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ContractError(f"{WHAT}: counts[{label!r}] must be a whole number >= 1, got {n!r}")
        counts[label] = n
    return dict(sorted(counts.items()))


def parse_detection_event(payload: bytes | str | None) -> DetectionEvent:
    """The event in `payload`; raises ContractError (only) for anything else."""
    if not payload:
        raise ContractError(f"{WHAT}: empty message")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ContractError(f"{WHAT}: not valid JSON ({error})") from None
    data = f.as_mapping(data, WHAT)
    f.schema_version(data, SCHEMA_VERSION, WHAT)
    image_id = f.field(data, "image_id", str, WHAT)
    try:
        check_image_id(image_id)
    except ContractError as error:
        raise ContractError(f"{WHAT}: {error}") from None
    source = f.field(data, "source", str, WHAT)
    if not source.strip():
        raise ContractError(f"{WHAT}: field 'source' must not be empty")
    model = f.field(data, "model", str, WHAT)
    if not model.strip():
        raise ContractError(f"{WHAT}: field 'model' must not be empty")
    return DetectionEvent(
        image_id=image_id,
        source=source,
        captured_at=f.time_field(data, "captured_at", WHAT),
        processed_at=f.time_field(data, "processed_at", WHAT),
        model=model,
        counts=_counts(data),
    )
