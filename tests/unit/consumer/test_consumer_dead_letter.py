"""Dead letters keep the original message and say what failed; sending waits for the ack."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.dead_letter import DeadLetterPublisher, dead_letter_payload
from consumer.errors import FatalError, Stage, TransientError
from pipeline_common.contracts.dead_letter import (
    MAX_DEAD_LETTER_BYTES,
    SMALLEST_DEAD_LETTER_BYTES,
    OriginalMessage as MessageRef,
    serialize_dead_letter,
)
from tests.support.fakes import FakeProducer

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


def test_publish_returns_once_the_broker_acknowledged():
    producer = FakeProducer()
    DeadLetterPublisher(producer, "dead", "g").publish(ref(b"x"), Stage.DECODE, "truncated")

    letter = producer.delivered[0]
    assert letter.topic() == "dead" and letter.key() == b"key-1"
    assert json.loads(letter.value())["stage"] == "decode"


@pytest.mark.parametrize(
    "producer",
    [
        FakeProducer(fail_with="broker down"),
        FakeProducer(produce_raises=BufferError("full")),
        FakeProducer(stall=True),
    ],
    ids=["delivery error", "queue full", "no ack"],
)
def test_unacknowledged_dead_letters_are_transient_failures(producer):
    publisher = DeadLetterPublisher(producer, "dead", "g", timeout_s=0.3)

    with pytest.raises(TransientError):
        publisher.publish(ref(b"x"), Stage.DECODE, "truncated")


@pytest.mark.parametrize(
    "producer",
    [
        FakeProducer(produce_raises=KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))),
        FakeProducer(fail_with=KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)),
        FakeProducer(fail_with=KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)),
        FakeProducer(fail_with=KafkaError(KafkaError._UNKNOWN_TOPIC)),
        FakeProducer(fail_with=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)),
    ],
    ids=[
        "too large for the client",
        "too large for the broker",
        "unknown topic",
        "unknown topic (client)",
        "not authorised",
    ],
)
def test_permanent_produce_errors_stop_instead_of_retrying(producer):
    publisher = DeadLetterPublisher(producer, "dead", "g", timeout_s=0.3)

    with pytest.raises(FatalError, match="dead letter to dead"):
        publisher.publish(ref(b"x"), Stage.DECODE, "truncated")


@pytest.mark.parametrize("size", [400_000, 700_000, 2_000_000])
@pytest.mark.parametrize("text", [True, False], ids=["utf-8", "binary"])
def test_a_dead_letter_always_fits_and_says_how_to_find_the_original(size, text):
    value = (b"x" * size) if text else bytes(n % 251 for n in range(size))
    payload = dead_letter_payload(ref(value), Stage.PARSE, "too long: " + "y" * 100_000, "g", FAILED_AT)

    assert len(payload) <= MAX_DEAD_LETTER_BYTES
    original = json.loads(payload)["original"]
    assert (original["topic"], original["partition"], original["offset"]) == ("images", 2, 41)
    assert original["value_base64"] is None and original["value_text"] is None  # never a cut value as the whole
    assert original["value_sha256"] == hashlib.sha256(value).hexdigest()
    assert original["value_length"] == size and original["value_cut"] is True
    head = base64.b64decode(original["value_head_base64"])
    assert value.startswith(head) and len(head) > 100_000
    assert base64.b64decode(original["key_base64"]) == b"key-1"


def test_a_huge_key_is_cut_too():
    payload = dead_letter_payload(
        MessageRef("images", 0, 7, b"k" * 900_000, b"v" * 90_000), Stage.PARSE, "odd", "g", FAILED_AT
    )

    assert len(payload) <= MAX_DEAD_LETTER_BYTES
    original = json.loads(payload)["original"]
    assert original["key_length"] == 900_000 and original["key_sha256"] == hashlib.sha256(b"k" * 900_000).hexdigest()
    assert original["value_length"] == 90_000 and original["offset"] == 7


def test_a_message_that_fits_is_kept_whole():
    value = b"z" * 100_000  # 100 KB twice (base64 and text) still fits
    original = json.loads(dead_letter_payload(ref(value), Stage.PARSE, "r", "g", FAILED_AT))["original"]

    assert base64.b64decode(original["value_base64"]) == value and "value_cut" not in original


def test_a_dead_letter_the_topic_refuses_as_too_large_goes_again_as_the_originals_hash():
    # the topic takes 16 KiB (its own max.message.bytes), less than the 256 KiB cut
    producer = FakeProducer(topic_max_bytes=16 * 1024)
    value = b"no announcement " * 6_000  # kept whole (base64 and text): 230 KB

    DeadLetterPublisher(producer, "dead", "g").publish(ref(value), Stage.PARSE, "not valid JSON")

    assert len(producer.refused) == 1 and len(producer.refused[0]) > 16 * 1024
    [letter] = producer.delivered
    payload = letter.value()
    assert (letter.topic(), letter.key()) == ("dead", b"key-1") and len(payload) <= SMALLEST_DEAD_LETTER_BYTES
    record = json.loads(payload)
    original = record["original"]
    assert (record["stage"], record["reason"]) == ("parse", "not valid JSON")
    assert (original["topic"], original["partition"], original["offset"]) == ("images", 2, 41)
    assert original["value_sha256"] == hashlib.sha256(value).hexdigest() and original["value_length"] == len(value)
    assert original["value_base64"] is None


def test_a_topic_that_refuses_even_the_hash_stops_the_consumer():
    producer = FakeProducer(topic_max_bytes=100)

    with pytest.raises(FatalError, match="too large"):
        DeadLetterPublisher(producer, "dead", "g").publish(ref(b"v" * 50_000), Stage.PARSE, "not valid JSON")
    assert len(producer.refused) == 2 and producer.delivered == []


@pytest.mark.parametrize("reason", ["r" * 100_000, "\u00e9\U0001f600" * 50_000], ids=["ascii", "escaped in JSON"])
def test_the_smallest_dead_letter_fits_whatever_the_reason(reason):
    original = MessageRef("images", 0, 7, b"k" * 5_000, b"v" * 90_000)
    payload = serialize_dead_letter(original, "parse", reason, "g", FAILED_AT, SMALLEST_DEAD_LETTER_BYTES)

    assert len(payload) <= SMALLEST_DEAD_LETTER_BYTES
    record = json.loads(payload)
    assert record["reason"].startswith(reason[:100]) and "more characters cut" in record["reason"]
    assert record["original"]["value_length"] == 90_000 and record["original"]["key_length"] == 5_000
