"""Dead letters: messages the consumer cannot process, kept with everything needed to
understand and replay them (the original bytes, where they came from, what failed)."""

from __future__ import annotations

import logging
from datetime import datetime

from pipeline_common.clients import MessageProducer
from pipeline_common.contracts.dead_letter import (
    MAX_DEAD_LETTER_BYTES,
    SMALLEST_DEAD_LETTER_BYTES,
    OriginalMessage,
    serialize_dead_letter,
)
from pipeline_common.timestamps import utc_now

from .errors import Stage, TooLarge
from .publish import DELIVERY_TIMEOUT_MS, deliver

log = logging.getLogger(__name__)


def dead_letter_payload(
    ref: OriginalMessage,
    stage: Stage,
    reason: str,
    group_id: str,
    failed_at: datetime,
    max_bytes: int = MAX_DEAD_LETTER_BYTES,
) -> bytes:
    """The dead-letter record (pipeline_common.contracts.dead_letter) as JSON bytes."""
    original = OriginalMessage(ref.topic, ref.partition, ref.offset, ref.key, ref.value, ref.timestamp_ms)
    return serialize_dead_letter(original, stage.value, reason, group_id, failed_at, max_bytes)


class DeadLetterPublisher:
    """Sends dead letters and waits for the broker's acknowledgement, so the caller
    stores the original offset only once the dead letter is durable. Thread-safe."""

    def __init__(
        self, producer: MessageProducer, topic: str, group_id: str, timeout_s: float = DELIVERY_TIMEOUT_MS / 1000 + 10
    ):
        self._producer = producer
        self._topic = topic
        self._group_id = group_id
        self._timeout_s = timeout_s

    def publish(self, ref: OriginalMessage, stage: Stage, reason: str) -> None:
        """Raises TransientError to be retried, FatalError when Kafka refuses for good. A
        dead letter refused as too large (the topic's own max.message.bytes may be below
        MAX_DEAD_LETTER_BYTES) is sent again as the original's hash and length: stopping
        would only stop again on the same message after every restart."""
        failed_at = utc_now()
        payload = dead_letter_payload(ref, stage, reason, self._group_id, failed_at)
        # the original key keeps dead letters of one image together
        try:
            deliver(self._producer, self._topic, payload, ref.key, self._timeout_s, what="dead letter")
        except TooLarge as error:
            smallest = dead_letter_payload(ref, stage, reason, self._group_id, failed_at, SMALLEST_DEAD_LETTER_BYTES)
            if len(smallest) >= len(payload):
                raise
            log.warning(
                "%s: %s; sending it as the original's hash and length (%d bytes)", ref.where, error, len(smallest)
            )
            deliver(self._producer, self._topic, smallest, ref.key, self._timeout_s, what="dead letter")
        log.info("%s dead-lettered to %s (%s: %s)", ref.where, self._topic, stage.value, reason)
