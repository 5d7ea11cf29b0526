"""The records passed between stages, each defined once with its (de)serialisation.

- `ImageAnnouncement`: producer -> Kafka images topic -> consumer.
- `MetadataRecord`: consumer -> s3://<bucket>/metadata/<image_id>.json -> aggregation job.
- `COCO_LABELS` / `canonical_label`: the one label set counts are reported under.
- `Aggregate`: aggregation job -> s3://<bucket>/mapreduce-output/<run-id>/part-* -> indexer.
- `DetectionEvent`: consumer -> Kafka detections topic -> live indexer.
"""
from .aggregate import Aggregate, Interval, bucket_start
from .announcement import ImageAnnouncement
from .detection_event import (
    DetectionEvent,
    detection_event_from_record,
    parse_detection_event,
    serialize_detection_event,
)
from .errors import ContractError
from .labels import COCO_LABELS, canonical_label
from .metadata import Detection, MetadataRecord, ModelInfo
from .s3_layout import (
    IMAGES_PREFIX,
    METADATA_PREFIX,
    OUTPUT_PREFIX,
    image_key,
    metadata_key,
    parse_s3_uri,
)

__all__ = [
    "Aggregate",
    "COCO_LABELS",
    "ContractError",
    "Detection",
    "DetectionEvent",
    "ImageAnnouncement",
    "Interval",
    "MetadataRecord",
    "ModelInfo",
    "IMAGES_PREFIX",
    "METADATA_PREFIX",
    "OUTPUT_PREFIX",
    "bucket_start",
    "canonical_label",
    "detection_event_from_record",
    "image_key",
    "metadata_key",
    "parse_detection_event",
    "parse_s3_uri",
    "serialize_detection_event",
]
