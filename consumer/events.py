"""Detection events: once an image's metadata record is in S3, a compact summary of it
(pipeline_common.contracts.DetectionEvent) goes to the detections topic for the live
indexer. Published before the image's offset is stored, so a crash in between means the
image is processed again and its event sent again (the live index keeps one document
per image, so that never counts twice)."""
from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from pipeline_common.contracts import MetadataRecord, detection_event_from_record, serialize_detection_event

from .errors import FatalError
from .publish import DELIVERY_TIMEOUT_MS, deliver

log = logging.getLogger(__name__)


class DetectionPublisher:
    """Sends one event per image and waits for the broker's acknowledgement. Thread-safe.
    The key is the image id, so every event of one image lands on one partition, in order."""

    def __init__(self, producer, topic: str, timeout_s: float = DELIVERY_TIMEOUT_MS / 1000 + 10):
        self._producer = producer
        self.topic = topic
        self._timeout_s = timeout_s

    def publish(self, record: MetadataRecord) -> None:
        event = detection_event_from_record(record)
        value = serialize_detection_event(event)
        deliver(self._producer, self.topic, value, record.image_id.encode("ascii"), self._timeout_s, "detection event")


def ensure_topic(admin, topic: str, timeout_s: float = 15.0) -> bool:
    """Create `topic` with the broker's default partitions and replication unless it
    exists; True when created. A broker that refuses (no right to create topics) while
    the topic is missing is a setup error: events could never be delivered."""
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exception:
        # not reachable yet: the loop retries every event until the broker answers
        log.warning("cannot check that topic %s exists (%s); events wait for it", topic, exception.args[0])
        return False
    if topic in metadata.topics and metadata.topics[topic].error is None:
        return False
    future = admin.create_topics([NewTopic(topic, num_partitions=-1, replication_factor=-1)],
                                 request_timeout=timeout_s)[topic]
    try:
        future.result(timeout=timeout_s + 5)
    except KafkaException as exception:
        error: KafkaError = exception.args[0]
        if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise FatalError(f"topic {topic} does not exist and cannot be created: {error.str()} "
                         "(create it, or set KAFKA_DETECTIONS_TOPIC to an existing topic)") from None
    log.info("created topic %s", topic)
    return True
