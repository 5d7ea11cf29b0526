"""The dead-letter record: a Kafka message a stage cannot process, kept with everything
needed to understand and replay it (the original bytes, where they came from, what
failed). Written by the consumer (images topic) and the live indexer (detections topic).

A dead letter always fits in a Kafka message: when the original is too large to be kept
whole (`MAX_DEAD_LETTER_BYTES`), the record keeps its first bytes, its SHA-256 and its
length instead, and the topic, partition and offset to find the original by. A dead-letter
topic may take less than that (its own max.message.bytes): a dead letter the broker
refuses as too large is sent again within `SMALLEST_DEAD_LETTER_BYTES`, the original's
hash and length alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from ..timestamps import to_iso

SCHEMA_VERSION = 1
# Far below the producer's and the broker's default limits (1 000 000 and 1 048 588 bytes)
MAX_DEAD_LETTER_BYTES = 256 * 1024
# What a dead letter is cut to when the topic refused the first form as too large
SMALLEST_DEAD_LETTER_BYTES = 4096
MAX_REASON_CHARS = 4096  # a reason quoting the input must not carry the input along


@dataclass(frozen=True)
class OriginalMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None

    @classmethod
    def from_kafka(cls, message) -> "OriginalMessage":
        kind, timestamp = message.timestamp()
        return cls(
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=message.key(),
            value=message.value(),
            timestamp_ms=timestamp if kind else None,  # kind 0: TIMESTAMP_NOT_AVAILABLE
        )

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def _text_or_none(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _whole(name: str, raw: bytes | None, with_text: bool) -> dict:
    fields = {f"{name}_base64": _b64(raw)}
    if with_text:
        fields[f"{name}_text"] = _text_or_none(raw)
    return fields


def _cut(name: str, raw: bytes | None, head_bytes: int, with_text: bool) -> dict:
    """`raw` by its first `head_bytes` bytes, its SHA-256 and length: `<name>_base64` is
    null, so whoever reads `<name>_base64` never takes a cut value for the whole."""
    if raw is None or len(raw) <= head_bytes:
        return _whole(name, raw, with_text)
    fields = {
        f"{name}_base64": None,
        f"{name}_head_base64": _b64(raw[:head_bytes]),
        f"{name}_sha256": hashlib.sha256(raw).hexdigest(),
        f"{name}_length": len(raw),
        f"{name}_cut": True,
    }
    if with_text:
        fields[f"{name}_text"] = None
    return fields


def _short(reason: str, chars: int = MAX_REASON_CHARS) -> str:
    if len(reason) <= chars:
        return reason
    return f"{reason[:chars]}... ({len(reason) - chars} more characters cut)"


def serialize_dead_letter(
    original: OriginalMessage,
    stage: str,
    reason: str,
    group_id: str,
    failed_at: datetime,
    max_bytes: int = MAX_DEAD_LETTER_BYTES,
) -> bytes:
    """The record as JSON bytes, at most `max_bytes` long. The original key and value are
    kept byte for byte in base64 and, the value when it is UTF-8, also as text for people
    reading the topic; when that would not fit, their first bytes, SHA-256 and length."""

    def record(key: dict, value: dict, reason_chars: int = MAX_REASON_CHARS) -> bytes:
        return json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "stage": stage,
                "reason": _short(reason, reason_chars),
                "failed_at": to_iso(failed_at),
                "consumer_group": group_id,
                "original": {
                    "topic": original.topic,
                    "partition": original.partition,
                    "offset": original.offset,
                    "timestamp_ms": original.timestamp_ms,
                    **key,
                    **value,
                },
            },
            separators=(",", ":"),
        ).encode("utf-8")

    whole = record(_whole("key", original.key, False), _whole("value", original.value, True))
    if len(whole) <= max_bytes:
        return whole
    # What is left for the two heads once everything else is written, in raw bytes
    # (base64 takes 4 characters for 3 bytes), a quarter for the key
    rest = len(record(_cut("key", original.key, 0, False), _cut("value", original.value, 0, True)))
    room = max(0, (max_bytes - rest - 16) * 3 // 4)
    key_room = min(len(original.key or b""), room // 4)
    cut = record(_cut("key", original.key, key_room, False), _cut("value", original.value, room - key_room, True))
    if len(cut) <= max_bytes:
        return cut
    # a small value kept whole beside a huge key carries its text too: hashes alone then,
    # and under a small limit a shorter reason
    reason_chars = MAX_REASON_CHARS
    hashes = record(_cut("key", original.key, 0, False), _cut("value", original.value, 0, True), reason_chars)
    while len(hashes) > max_bytes and reason_chars:
        reason_chars //= 2
        hashes = record(_cut("key", original.key, 0, False), _cut("value", original.value, 0, True), reason_chars)
    return hashes
