"""Dead letters: messages the consumer cannot process, kept with everything needed to
understand and replay them (the original bytes, where they came from, what failed)."""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from datetime import datetime

from pipeline_common.clients import MessageProducer
from pipeline_common.timestamps import to_iso, utc_now

from .errors import Stage, TransientError
from .messages import MessageRef

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
DELIVERY_TIMEOUT_MS = 30_000


def _text_or_none(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def dead_letter_payload(
    ref: MessageRef, stage: Stage, reason: str, group_id: str, failed_at: datetime
) -> bytes:
    """The dead-letter record as JSON bytes. The original value is kept byte for byte
    in base64 and, when it is UTF-8, also as text for people reading the topic."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "stage": stage.value,
        "reason": reason,
        "failed_at": to_iso(failed_at),
        "consumer_group": group_id,
        "original": {
            "topic": ref.topic,
            "partition": ref.partition,
            "offset": ref.offset,
            "timestamp_ms": ref.timestamp_ms,
            "key_base64": None if ref.key is None else base64.b64encode(ref.key).decode("ascii"),
            "value_base64": None if ref.value is None else base64.b64encode(ref.value).decode("ascii"),
            "value_text": _text_or_none(ref.value),
        },
    }
    return json.dumps(record, separators=(",", ":")).encode("utf-8")


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

    def publish(self, ref: MessageRef, stage: Stage, reason: str) -> None:
        payload = dead_letter_payload(ref, stage, reason, self._group_id, utc_now())
        delivered = threading.Event()
        outcome: dict[str, object] = {}

        def on_delivery(error, _message) -> None:
            outcome["error"] = error
            delivered.set()

        try:
            # the original key keeps dead letters of one image together
            self._producer.produce(self._topic, value=payload, key=ref.key, on_delivery=on_delivery)
        except BufferError as error:
            raise TransientError(f"dead-letter producer queue full: {error}") from error
        except Exception as error:  # KafkaException: e.g. unknown topic in local config
            raise TransientError(f"cannot send dead letter to {self._topic}: {error}") from error
        # The producer's own message.timeout.ms (DELIVERY_TIMEOUT_MS) ends every attempt
        # with a delivery report; the extra margin only guards against a stuck client.
        deadline = time.monotonic() + self._timeout_s
        while not delivered.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.1)
        if not delivered.is_set():
            raise TransientError(f"dead letter to {self._topic} not acknowledged within {self._timeout_s:.0f} s")
        if outcome["error"] is not None:
            raise TransientError(f"dead letter to {self._topic} failed: {outcome['error']}")
        log.info("%s dead-lettered to %s (%s: %s)", ref.where, self._topic, stage.value, reason)
