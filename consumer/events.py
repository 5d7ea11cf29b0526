"""Detection events: once an image's metadata record is in S3, a compact summary of it
(pipeline_common.contracts.DetectionEvent) goes to the detections topic for the live
indexer. Published before the image's offset is stored, so a crash in between means the
image is processed again and its event sent again (the live index keeps one document
per image, so that never counts twice)."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from pipeline_common import kafka
from pipeline_common.clients import MessageProducer
from pipeline_common.contracts import MetadataRecord, detection_event_from_record, serialize_detection_event

from .errors import FatalError
from .publish import DELIVERY_TIMEOUT_MS, deliver


class DetectionPublisher:
    """Sends one event per image and waits for the broker's acknowledgement. Thread-safe.
    The key is the image id, so every event of one image lands on one partition, in order."""

    def __init__(self, producer: MessageProducer, topic: str, timeout_s: float = DELIVERY_TIMEOUT_MS / 1000 + 10):
        self._producer = producer
        self.topic = topic
        self._timeout_s = timeout_s

    def publish(self, record: MetadataRecord) -> None:
        event = detection_event_from_record(record)
        value = serialize_detection_event(event)
        deliver(self._producer, self.topic, value, record.image_id.encode("ascii"), self._timeout_s, "detection event")


def ensure_topic(admin: AdminClient, topic: str, setting: str, timeout_s: float = 15.0) -> bool:
    """pipeline_common.kafka.ensure_topic, a missing topic a FatalError (exit code 3)."""
    try:
        return kafka.ensure_topic(admin, topic, setting, timeout_s)
    except kafka.TopicUnavailable as error:
        raise FatalError(str(error)) from None
