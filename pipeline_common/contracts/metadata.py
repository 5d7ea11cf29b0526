"""The record the consumer writes to s3://<bucket>/metadata/<image_id>.json."""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar

from ._model import Part, Record, contract
from .field_types import Box, Count, Fraction, ImageId, Millis, Name, S3Uri, Score, Sha256, Text, UtcTime


@contract
class Detection(Part):
    WHAT: ClassVar[str] = "metadata record detection"

    label: Name
    class_id: Count
    confidence: Score
    box: Box  # x, y, width, height in pixels, clipped to the image


@contract
class ModelInfo(Part):
    """Which model produced a record: its name, the SHA-256 of each of its files (cfg,
    weights, names), the runtime that ran it, and the settings it ran with. Records
    written before files/runtime existed read back with them empty. A field added later
    gets a default the same way, so older records still read."""

    WHAT: ClassVar[str] = "metadata record model"

    name: Text
    input_size: Count
    confidence_threshold: Fraction
    nms_threshold: Fraction
    files_sha256: dict[Text, Sha256] = field(default_factory=dict)  # role -> hex digest
    runtime: Text = ""  # e.g. "opencv-dnn 4.14.0", "onnxruntime 1.32.0"


@contract
class MetadataRecord(Record):
    WHAT: ClassVar[str] = "metadata record"
    SCHEMA_VERSION: ClassVar[int] = 1

    image_id: ImageId
    image_path: S3Uri
    source: Name
    captured_at: UtcTime
    processed_at: UtcTime
    model: ModelInfo
    width: Count
    height: Count
    detections: tuple[Detection, ...]
    timings_ms: dict[Text, Millis] = field(default_factory=dict)
