"""The records passed between stages, each declared once (a pydantic dataclass) with its
checks and (de)serialisation; every parser raises `ContractError` and nothing else.
A stage declares a file format of its own the same way (`@contract`, `Record`, the field
types in `field_types`), e.g. the producer's frame sidecar.

- `ImageAnnouncement`: producer -> Kafka images topic -> consumer.
- `MetadataRecord`: consumer -> s3://<bucket>/metadata/<image_id>.json -> aggregation job.
- `COCO_LABELS` / `canonical_label`: the one label set counts are reported under.
- `Aggregate`: aggregation job -> s3://<bucket>/mapreduce-output/<run-id>/part-* -> indexer.
- `CountDocument`: indexer -> the Elasticsearch count index (`count_index`) -> API.
- `DetectionEvent`: consumer -> Kafka detections topic -> live indexer, and the archiver ->
  hour files under s3://<bucket>/detections/ (`detection_archive`) -> aggregation job.
"""

from ._model import Part, Record, contract
from .aggregate import Aggregate, Interval, bucket_start
from .announcement import ImageAnnouncement
from .count_index import CountDocument
from .detection_event import (
    DetectionEvent,
    detection_event_from_record,
    parse_detection_event,
    serialize_detection_event,
)
from .errors import ContractError, ErrorKind
from .field_types import MAX_NAME_LENGTH, utc_time
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
    "CountDocument",
    "Detection",
    "DetectionEvent",
    "ErrorKind",
    "ImageAnnouncement",
    "Interval",
    "MetadataRecord",
    "ModelInfo",
    "IMAGES_PREFIX",
    "METADATA_PREFIX",
    "OUTPUT_PREFIX",
    "Part",
    "Record",
    "bucket_start",
    "canonical_label",
    "contract",
    "detection_event_from_record",
    "image_key",
    "metadata_key",
    "parse_detection_event",
    "parse_s3_uri",
    "serialize_detection_event",
    "utc_time",
    "MAX_NAME_LENGTH",
]
