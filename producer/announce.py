"""Sending `ImageAnnouncement`s and learning which ones Kafka acknowledged.

An announcement counts as sent only when its delivery report says so; only then is
it written to the published ledger. Anything still unacknowledged at `flush` is a
failure, and since it is not in the ledger the next run announces it again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confluent_kafka import KafkaException

from pipeline_common.clients import MessageProducer
from pipeline_common.contracts import ImageAnnouncement
from pipeline_common.kafka import undeliverable

from .state import PublishedLedger

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    acknowledged: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image_id or file, reason)
    # image ids among the failures that sending again may cure (broker down, timed out),
    # unlike a refusal (not authorised, too large): `watch` retries them itself
    transient: set[str] = field(default_factory=set)


@dataclass
class Announcer:
    """Wraps a confluent_kafka Producer (or anything with produce/poll/flush)."""

    producer: MessageProducer
    topic: str
    ledger: PublishedLedger
    outcome: Outcome = field(default_factory=Outcome)
    in_flight: set[str] = field(default_factory=set)  # image ids sent, not yet acknowledged

    def wants(self, image_id: str) -> bool:
        """False when this image was acknowledged before or is on its way now."""
        return image_id not in self.ledger and image_id not in self.in_flight

    def announce(self, announcement: ImageAnnouncement) -> None:
        image_id = announcement.image_id
        payload = announcement.to_json_bytes()
        while True:
            try:
                self.producer.produce(
                    self.topic,
                    key=image_id.encode("ascii"),
                    value=payload,
                    on_delivery=lambda error, message, image_id=image_id: self._delivered(image_id, error, message),
                )
                break
            except BufferError:
                # librdkafka's local queue is full: serve delivery reports to make room
                log.debug("producer queue full, waiting for deliveries")
                self.producer.poll(0.5)
            except KafkaException as error:  # refused before sending, e.g. message too large
                log.error("announcement of %s refused by the client: %s", image_id, error)
                self.outcome.failures.append((image_id, f"Kafka client refused it: {error}"))
                return
        self.in_flight.add(image_id)
        self.producer.poll(0)

    def _delivered(self, image_id: str, error, message) -> None:
        self.in_flight.discard(image_id)
        if error is not None:
            log.error("announcement of %s to %s not delivered: %s", image_id, self.topic, error)
            self.outcome.failures.append((image_id, f"Kafka did not acknowledge: {error}"))
            if not undeliverable(error):
                self.outcome.transient.add(image_id)
            return
        self.ledger.record(image_id, message.partition(), message.offset())
        self.outcome.acknowledged.append(image_id)
        log.debug("announced %s to %s [%d] @%d", image_id, self.topic, message.partition(), message.offset())

    def poll(self, timeout: float = 0) -> None:
        self.producer.poll(timeout)

    def flush(self, timeout: float) -> Outcome:
        """Wait for every delivery report; what is still unreported after `timeout` failed."""
        self.producer.flush(timeout)
        for image_id in sorted(self.in_flight):
            self.outcome.failures.append((image_id, f"no delivery report from Kafka within {timeout:g} s"))
            self.outcome.transient.add(image_id)
        self.in_flight.clear()
        return self.outcome
