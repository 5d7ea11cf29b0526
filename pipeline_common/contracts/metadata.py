"""The record the consumer writes to s3://<bucket>/metadata/<image_id>.json."""
from __future__ import annotations

from dataclasses import field
from typing import ClassVar

from ._model import Part, Record, contract
from .field_types import Box, Count, Fraction, ImageId, Millis, S3Uri, Score, Text, UtcTime


@contract
class Detection(Part):
    WHAT: ClassVar[str] = "metadata record detection"

    label: Text
    class_id: Count
    confidence: Score
    box: Box  # x, y, width, height in pixels, clipped to the image


@contract
class ModelInfo(Part):
    """The detector that made the record. A field added later must be optional
    (`name: T | None = None`): left out of the JSON while None, so records without it
    keep their bytes and older records still read."""

    WHAT: ClassVar[str] = "metadata record model"

    name: Text
    input_size: Count
    confidence_threshold: Fraction
    nms_threshold: Fraction


@contract
class MetadataRecord(Record):
    WHAT: ClassVar[str] = "metadata record"
    SCHEMA_VERSION: ClassVar[int] = 1

    image_id: ImageId
    image_path: S3Uri
    source: Text
    captured_at: UtcTime
    processed_at: UtcTime
    model: ModelInfo
    width: Count
    height: Count
    detections: tuple[Detection, ...]
    timings_ms: dict[Text, Millis] = field(default_factory=dict)
