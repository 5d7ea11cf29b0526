"""The dead-letter record: a Kafka message a stage cannot process, kept with everything
needed to understand and replay it (the original bytes, where they came from, what
failed). Written by the consumer (images topic) and the live indexer (detections topic).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from ..timestamps import to_iso

SCHEMA_VERSION = 1


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


def serialize_dead_letter(
    original: OriginalMessage, stage: str, reason: str, group_id: str, failed_at: datetime
) -> bytes:
    """The record as JSON bytes. The original value is kept byte for byte in base64 and,
    when it is UTF-8, also as text for people reading the topic."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "stage": stage,
        "reason": reason,
        "failed_at": to_iso(failed_at),
        "consumer_group": group_id,
        "original": {
            "topic": original.topic,
            "partition": original.partition,
            "offset": original.offset,
            "timestamp_ms": original.timestamp_ms,
            "key_base64": _b64(original.key),
            "value_base64": _b64(original.value),
            "value_text": _text_or_none(original.value),
        },
    }
    return json.dumps(record, separators=(",", ":")).encode("utf-8")
