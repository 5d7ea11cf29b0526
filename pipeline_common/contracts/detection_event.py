"""The compact event the consumer publishes on the detections topic once an image's
metadata record is in S3: what the live indexer turns into one document per image.

    {"schema_version": 1, "image_id": "3f9a...", "source": "front-door",
     "captured_at": "2026-11-28T10:15:30.000Z", "processed_at": "2026-11-28T10:15:31.204Z",
     "model": "yolov4-tiny", "counts": {"dog": 1, "person": 3},
     "width": 1280, "height": 720,
     "objects": [{"label": "dog", "score": 0.8731, "box": [412, 300, 220, 180]}, ...]}

`counts` holds the detections per label (an image with nothing found has `{}`), the
same numbers the aggregation job adds up from the metadata record, so live and batch
counts agree. `objects` are the detections themselves (canonical label, score, box in
pixels of the `width` x `height` image), for the dashboard to draw over the image.
They came later in the same schema version: an event without them reads with them
None (not recorded, unlike `[]`: nothing found), and a reader that predates them
ignores them.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, PlainSerializer, StrictInt, StrictStr, WrapValidator

from ._model import Part, Record, contract, fail, show
from .field_types import MAX_INT64, Box, Count, ImageId, Name, NonBlank, Score, UtcTime
from .labels import canonical_label
from .metadata import MetadataRecord

WHAT = "detection event"
SCHEMA_VERSION = 1
MAX_LABEL_LENGTH = 200


def _label(label: str) -> str:
    if not label.strip() or len(label) > MAX_LABEL_LENGTH:
        raise fail(f"a label must be 1-{MAX_LABEL_LENGTH} characters, got {show(label)}")
    return label


def _at_least_one(value: Any, validate) -> int:
    try:
        number = validate(value)
    except ValueError:  # pydantic's ValidationError: not an integer
        number = None
    if number is None or not 1 <= number <= MAX_INT64:
        raise fail(f"must be a whole number >= 1, got {show(value)}")
    return number


Label = Annotated[StrictStr, AfterValidator(_label)]
Detections = Annotated[StrictInt, WrapValidator(_at_least_one)]
Counts = Annotated[
    dict[Label, Detections],
    AfterValidator(lambda counts: dict(sorted(counts.items()))),
    PlainSerializer(lambda counts: {label: int(n) for label, n in sorted(counts.items())}),
]


@contract
class DetectedObject(Part):
    """One detection as the dashboard draws it."""

    WHAT: ClassVar[str] = "detection event object"

    label: Label
    score: Score
    box: Box  # x, y, width, height in pixels of the image


@contract
class DetectionEvent(Record):
    WHAT: ClassVar[str] = WHAT
    NOUN: ClassVar[str] = "message"
    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION

    image_id: ImageId
    source: Name
    captured_at: UtcTime
    processed_at: UtcTime
    model: NonBlank
    counts: Counts  # label -> detections, each > 0, labels in alphabetical order
    # added later (still schema 1): the image's size and its detections, for drawing.
    # None: not recorded (an older detector's event; written without them, byte for byte
    # as before); () is "nothing found".
    width: Count | None = None
    height: Count | None = None
    objects: tuple[DetectedObject, ...] | None = None

    @property
    def detections(self) -> int:
        return sum(self.counts.values())

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON (non-ASCII characters as they are), labels in alphabetical order."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def detection_event_from_record(record: MetadataRecord) -> DetectionEvent:
    """The event for a metadata record: its detections counted per (canonical) label,
    exactly as the aggregation job counts them."""
    counts = Counter(canonical_label(detection.label) for detection in record.detections)
    objects = tuple(
        DetectedObject(label=canonical_label(d.label), score=d.confidence, box=d.box) for d in record.detections
    )
    return DetectionEvent(
        image_id=record.image_id,
        source=record.source,
        captured_at=record.captured_at,
        processed_at=record.processed_at,
        model=record.model.name,
        counts=dict(counts),
        width=record.width,
        height=record.height,
        objects=objects,
    )


def serialize_detection_event(event: DetectionEvent) -> bytes:
    return event.to_json_bytes()


def parse_detection_event(payload: bytes | str | None) -> DetectionEvent:
    """The event in `payload`; raises ContractError (only) for anything else."""
    return DetectionEvent.from_json_bytes(payload)
