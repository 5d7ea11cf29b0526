"""Producing one message and waiting for the broker's acknowledgement: the caller
stores the consumed offset only once what it published is durable."""

from __future__ import annotations

import threading
import time

from confluent_kafka import KafkaException

from pipeline_common.clients import MessageProducer
from pipeline_common.kafka import too_large, undeliverable

from .errors import FatalError, TooLarge, TransientError

DELIVERY_TIMEOUT_MS = 30_000


def deliver(
    producer: MessageProducer, topic: str, value: bytes, key: bytes | None, timeout_s: float, what: str
) -> None:
    """Send and wait for the delivery report. Raises TransientError when the broker did
    not acknowledge (unreachable, queue full, timed out): worth retrying; FatalError when
    it refused for good (not authorised, no such topic: pipeline_common.kafka), which stops
    the consumer instead of retrying forever; TooLarge, a FatalError, when it was too
    large. Thread-safe, like the producer."""
    delivered = threading.Event()
    outcome: dict[str, object] = {}

    def on_delivery(error, _message) -> None:
        outcome["error"] = error
        delivered.set()

    try:
        producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
    except BufferError as error:
        raise TransientError(f"{what}: producer queue full: {error}") from error
    except KafkaException as error:  # e.g. larger than message.max.bytes, unknown topic
        if too_large(error):
            raise TooLarge(f"Kafka refuses the {what} to {topic} as too large ({len(value)} bytes): {error}") from error
        if undeliverable(error):
            raise FatalError(f"Kafka refuses the {what} to {topic}: {error}") from error
        raise TransientError(f"cannot send {what} to {topic}: {error}") from error
    # The producer's own message.timeout.ms (DELIVERY_TIMEOUT_MS) ends every attempt
    # with a delivery report; the extra margin only guards against a stuck client.
    deadline = time.monotonic() + timeout_s
    while not delivered.is_set() and time.monotonic() < deadline:
        producer.poll(0.1)
    if not delivered.is_set():
        raise TransientError(f"{what} to {topic} not acknowledged within {timeout_s:.0f} s")
    error = outcome["error"]
    if error is not None:
        if too_large(error):
            raise TooLarge(f"Kafka refused the {what} to {topic} as too large ({len(value)} bytes): {error}")
        if undeliverable(error):
            raise FatalError(f"Kafka refused the {what} to {topic}: {error}")
        raise TransientError(f"{what} to {topic} failed: {error}")
