"""Dead letters keep the original message and say what failed; sending waits for the ack."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from consumer.dead_letter import DeadLetterPublisher, dead_letter_payload
from consumer.errors import Stage, TransientError
from pipeline_common.contracts.dead_letter import OriginalMessage as MessageRef

FAILED_AT = datetime(2025, 4, 14, 12, 0, 1, tzinfo=timezone.utc)


def ref(value: bytes | None) -> MessageRef:
    return MessageRef("images", 2, 41, b"key-1", value, 1_700_000_000_000)


def test_payload_keeps_the_original_and_says_what_failed():
    record = json.loads(dead_letter_payload(ref(b'{"oops"'), Stage.PARSE, "not valid JSON", "detectors", FAILED_AT))

    assert record["schema_version"] == 1
    assert record["stage"] == "parse"
    assert record["reason"] == "not valid JSON"
    assert record["failed_at"] == "2025-04-14T12:00:01.000Z"
    assert record["consumer_group"] == "detectors"
    original = record["original"]
    assert (original["topic"], original["partition"], original["offset"]) == ("images", 2, 41)
    assert base64.b64decode(original["value_base64"]) == b'{"oops"'
    assert original["value_text"] == '{"oops"'
    assert base64.b64decode(original["key_base64"]) == b"key-1"


def test_binary_values_survive_byte_for_byte():
    raw = bytes(range(256))
    record = json.loads(dead_letter_payload(ref(raw), Stage.PARSE, "binary", "g", FAILED_AT))

    assert base64.b64decode(record["original"]["value_base64"]) == raw
    assert record["original"]["value_text"] is None


def test_empty_message_is_recorded_as_null():
    record = json.loads(dead_letter_payload(ref(None), Stage.PARSE, "empty message", "g", FAILED_AT))

    assert record["original"]["value_base64"] is None


class FakeProducer:
    def __init__(self, error=None, raise_on_produce=None, never_acks=False):
        self.error, self.raise_on_produce, self.never_acks = error, raise_on_produce, never_acks
        self.sent: list[tuple[str, bytes, bytes]] = []
        self._pending = []

    def produce(self, topic, value=None, key=None, on_delivery=None):
        if self.raise_on_produce:
            raise self.raise_on_produce
        self.sent.append((topic, value, key))
        self._pending.append(on_delivery)

    def poll(self, timeout=0):
        if self.never_acks:
            return 0
        while self._pending:
            self._pending.pop(0)(self.error, None)
        return 0


def test_publish_returns_once_the_broker_acknowledged():
    producer = FakeProducer()
    DeadLetterPublisher(producer, "dead", "g").publish(ref(b"x"), Stage.DECODE, "truncated")

    topic, value, key = producer.sent[0]
    assert topic == "dead" and key == b"key-1"
    assert json.loads(value)["stage"] == "decode"


@pytest.mark.parametrize(
    "producer",
    [
        FakeProducer(error="broker down"),
        FakeProducer(raise_on_produce=BufferError("full")),
        FakeProducer(never_acks=True),
    ],
    ids=["delivery error", "queue full", "no ack"],
)
def test_unacknowledged_dead_letters_are_transient_failures(producer):
    publisher = DeadLetterPublisher(producer, "dead", "g", timeout_s=0.3)

    with pytest.raises(TransientError):
        publisher.publish(ref(b"x"), Stage.DECODE, "truncated")
